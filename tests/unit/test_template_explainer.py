"""The template explainer: faithful to the actions, plain, and consistent with the checks AI text must pass."""

from __future__ import annotations

import pytest

from maintenance_windows.adapters.template_explainer import TemplateExplainer
from maintenance_windows.domain.event_text import MAX_SECTION_CHARS, ai_text_problems
from maintenance_windows.domain.explanation import (
    ActionBrief,
    Explanation,
    ExplanationRequest,
    ExplanationSource,
    FallbackReason,
    PolicyBrief,
)

FILEVAULT = PolicyBrief(
    policy_id=12,
    name="Disk encryption enabled",
    description="Checks that FileVault encrypts the disk. A lost laptop then leaks nothing. Run nightly.",
    resolution="Open System Settings, choose Privacy & Security and turn FileVault on.",
    platform="darwin",
    critical=True,
)
MACOS = PolicyBrief(
    policy_id=3,
    name="macOS up to date",
    description="Checks that the Mac runs the latest macOS.",
    resolution="Install the latest macOS update from System Settings.",
    platform="darwin",
)
OS_UPDATE = ActionBrief(kind="os_update", summary="Install the macOS update.", restarts_device=True)
FIREWALL_SCRIPT = ActionBrief(kind="script", summary="run a script that turns on the firewall")


def request(**changes: object) -> ExplanationRequest:
    fields: dict[str, object] = {
        "organization": "Acme",
        "window_local": "Tuesday 2 December, 12:00–12:30 (Europe/Berlin)",
        "deadline_local": "Monday 8 December",
        "platforms": ["darwin"],
        "policies": [MACOS],
        "actions": [OS_UPDATE],
    }
    return ExplanationRequest.model_validate(fields | changes)


def explain(**changes: object) -> Explanation:
    return TemplateExplainer().explain(request(**changes))


def test_os_update_with_restart() -> None:
    text = explain()
    assert text.what_will_happen == "When the window starts, your Mac will install the macOS update, then restart."
    assert "plugged in" in text.what_you_need_to_do
    assert "Save your work" in text.what_you_need_to_do
    assert text.expected_duration_minutes == 40
    assert text.source is ExplanationSource.TEMPLATE
    assert text.fallback_reason is None


def test_restart_flag_alone_adds_the_restart_step() -> None:
    action = ActionBrief(kind="mdm_command", summary="apply the new settings", restarts_device=True)
    assert explain(actions=[action]).what_will_happen.endswith("apply the new settings, then restart.")


def test_action_without_restart_says_work_can_go_on() -> None:
    text = explain(actions=[FIREWALL_SCRIPT])
    assert "restart" not in f"{text.what_will_happen} {text.what_you_need_to_do}".lower()
    assert "keep working" in text.what_you_need_to_do
    assert text.expected_duration_minutes == 5


def test_no_actions_says_nothing_happens_by_itself_and_gives_the_steps() -> None:
    text = explain(actions=[], policies=[MACOS, FILEVAULT])
    assert text.what_will_happen.startswith("Nothing is installed or changed automatically")
    assert text.what_you_need_to_do.startswith("During the window, please follow the steps your IT team gives")
    # The admin's words are quoted and attributed to their policy, never given as our own instruction.
    assert "For “macOS up to date”: “Install the latest macOS update" in text.what_you_need_to_do
    assert "For “Disk encryption enabled”: “Open System Settings" in text.what_you_need_to_do
    assert text.expected_duration_minutes == 15


def test_no_actions_and_no_resolution_points_to_the_it_team() -> None:
    policy = PolicyBrief(policy_id=1, name="Screen lock")
    assert "contact them" in explain(actions=[], policies=[policy]).what_you_need_to_do


def test_why_names_the_checks_in_plain_words_and_says_which_is_urgent() -> None:
    why = explain(policies=[FILEVAULT, MACOS]).why_it_matters
    assert why.startswith(
        "Your Mac needs 2 fixes to meet the security rules of Acme: “macOS up to date” and “Disk encryption enabled”."
    )
    assert "“Disk encryption enabled” is urgent" in why
    quoted = "“Checks that FileVault encrypts the disk. A lost laptop then leaks nothing.”"
    assert f"The policy “Disk encryption enabled” says: {quoted}" in why
    assert "Run nightly" not in why  # descriptions are cut to their opening sentences
    assert "does not pass" not in why
    assert "critical" not in why.lower()


def test_a_raw_policy_name_is_never_shown_and_a_display_name_wins() -> None:
    raw = PolicyBrief(policy_id=9, name="policy1", description="", critical=True, platform="darwin")
    why = explain(policies=[raw]).why_it_matters
    assert "policy1" not in why
    assert "critical" not in why.lower()
    assert "does not pass" not in why
    assert why.startswith("Your Mac needs a fix to meet the security rules of Acme.")
    assert "This fix is urgent" in why
    named = raw.model_copy(update={"display_name": "Disk encryption is off"})
    assert "“Disk encryption is off”" in explain(policies=[named]).why_it_matters


def test_several_devices_are_named_each_and_take_the_plural() -> None:
    text = explain(host_names=["Alice's MacBook Pro", "Alice's iMac"])
    assert text.why_it_matters.startswith("Your Macs “Alice's MacBook Pro” and “Alice's iMac” need a fix")
    assert "each of your Macs will" in text.what_will_happen
    assert "Leave your Macs switched on" in text.what_you_need_to_do
    assert "Your Mac " not in text.why_it_matters


def test_german_text_for_a_german_team() -> None:
    text = explain(language="de", policies=[FILEVAULT, MACOS], host_names=["MacBook", "iMac"])
    assert text.fallback_reason is None
    assert text.why_it_matters.startswith("Ihre Macs „MacBook“ und „iMac“ brauchen 2 Korrekturen")
    assert "dringend" in text.why_it_matters
    assert text.what_will_happen.startswith("Wenn das Zeitfenster beginnt, werden Ihre Macs")
    assert "neu" in text.what_will_happen
    assert "Speichern Sie Ihre Arbeit" in text.what_you_need_to_do


@pytest.mark.parametrize(
    ("platforms", "noun"),
    [(["darwin"], "Mac"), (["windows"], "Windows PC"), (["darwin", "windows"], "device"), (["plan9"], "device")],
)
def test_device_is_named_by_platform(platforms: list[str], noun: str) -> None:
    assert f"your {noun} will" in explain(platforms=platforms).what_will_happen


def test_policy_platform_names_the_device_when_hosts_do_not() -> None:
    windows_policy = MACOS.model_copy(update={"platform": "windows"})
    assert "your Windows PC will" in explain(platforms=[], policies=[windows_policy]).what_will_happen


def test_other_languages_get_english_and_say_so() -> None:
    assert explain(language="it").fallback_reason == FallbackReason.ENGLISH_ONLY
    assert explain(language="it").why_it_matters == explain().why_it_matters
    assert explain(language="en-GB").fallback_reason is None
    assert explain(language="de-AT").fallback_reason is None
    fallback = TemplateExplainer().fallback(request(language="fr"), FallbackReason.TIMEOUT)
    assert fallback.fallback_reason == "ai_timeout;template_english_only"


def test_fallback_records_the_reason() -> None:
    text = TemplateExplainer().fallback(request(), FallbackReason.MALFORMED_JSON)
    assert text.fallback_reason == "ai_malformed_json"
    assert text.what_will_happen == explain().what_will_happen


def test_long_policy_text_is_cut_to_the_section_limit() -> None:
    policies = [
        PolicyBrief(policy_id=n, name=f"Policy {n} " + "x" * 150, description="Long words. " * 80) for n in range(12)
    ]
    text = explain(policies=policies)
    assert len(text.why_it_matters) <= MAX_SECTION_CHARS
    assert text.why_it_matters.endswith("…")


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"actions": [FIREWALL_SCRIPT]},
        {"actions": [], "policies": [MACOS]},
        {"actions": [FIREWALL_SCRIPT, OS_UPDATE], "policies": [MACOS, FILEVAULT]},
    ],
)
def test_template_text_passes_the_checks_ai_text_must_pass(changes: dict[str, object]) -> None:
    """The rules are one standard: if the template's own words failed them, the rules would be wrong."""
    req = request(**changes)
    text = TemplateExplainer().explain(req)
    sections = text.model_dump(include={"why_it_matters", "what_will_happen", "what_you_need_to_do"})
    assert ai_text_problems(sections, text.expected_duration_minutes, req) == ()
