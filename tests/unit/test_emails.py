from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maintenance_windows.domain.emails import SOURCE_RANKING, UNRANKED, choose_email, source_rank
from maintenance_windows.ports.fleet import DeviceEmail

IDP = DeviceEmail("idp.user@acme.com", "mdm_idp_accounts")
CHROME = DeviceEmail("chrome.user@acme.com", "google_chrome_profiles")
CUSTOM = DeviceEmail("custom.user@acme.com", "custom")
OTHER = DeviceEmail("other.user@acme.com", "some_future_source")


@pytest.mark.parametrize(
    ("source", "rank"),
    [
        ("idp", 0),
        ("identity_provider", 0),
        ("mdm_idp_accounts", 0),
        ("MDM_IDP_ACCOUNTS", 0),
        ("google_chrome_profiles", 1),
        ("custom", 2),
        ("custom_installer", 2),
        ("custom_override", 2),
        ("custom_something_new", 2),
        ("", UNRANKED),
        ("okta", UNRANKED),
    ],
)
def test_source_rank(source: str, rank: int) -> None:
    assert source_rank(source) == rank


def test_ranking_is_exported_in_order() -> None:
    assert SOURCE_RANKING[0] == ("idp", "identity_provider", "mdm_idp_accounts")
    assert SOURCE_RANKING[1:] == (
        ("google_chrome_profiles",),
        ("custom", "custom_installer", "custom_override"),
    )


@pytest.mark.parametrize("order", list(itertools.permutations([IDP, CHROME, CUSTOM, OTHER])))
def test_best_source_wins_whatever_the_input_order(order: tuple[DeviceEmail, ...]) -> None:
    choice = choose_email(order, ["acme.com"])
    assert (choice.email, choice.source) == ("idp.user@acme.com", "mdm_idp_accounts")
    assert choice.candidates == (
        "idp.user@acme.com",
        "chrome.user@acme.com",
        "custom.user@acme.com",
        "other.user@acme.com",
    )


@pytest.mark.parametrize(
    ("mappings", "expected"),
    [
        ([CHROME, CUSTOM, OTHER], "chrome.user@acme.com"),
        ([CUSTOM, OTHER], "custom.user@acme.com"),
        ([OTHER], "other.user@acme.com"),
    ],
)
def test_falls_back_through_the_ranking(mappings: list[DeviceEmail], expected: str) -> None:
    assert choose_email(mappings, ["acme.com"]).email == expected


def test_alphabetical_within_a_source() -> None:
    mappings = [
        DeviceEmail("zoe@acme.com", "google_chrome_profiles"),
        DeviceEmail("adam@acme.com", "google_chrome_profiles"),
        DeviceEmail("mia@acme.com", "google_chrome_profiles"),
    ]
    choice = choose_email(mappings, ["acme.com"])
    assert choice.email == "adam@acme.com"
    assert choice.candidates == ("adam@acme.com", "mia@acme.com", "zoe@acme.com")


def test_out_of_domain_idp_email_loses_to_in_domain_chrome_email() -> None:
    mappings = [
        DeviceEmail("bob@gmail.com", "identity_provider"),
        DeviceEmail("bob@acme.com", "google_chrome_profiles"),
    ]
    choice = choose_email(mappings, ["acme.com"])
    assert (choice.email, choice.source) == ("bob@acme.com", "google_chrome_profiles")


def test_case_is_ignored_and_the_email_lower_cased() -> None:
    choice = choose_email([DeviceEmail("  Alice.Smith@ACME.Com ", "Google_Chrome_Profiles")], ["Acme.COM"])
    assert (choice.email, choice.source) == ("alice.smith@acme.com", "google_chrome_profiles")


@pytest.mark.parametrize("email", ["bob@eu.acme.com", "bob@notacme.com", "bob@acme.com.evil.io"])
def test_domain_match_is_exact(email: str) -> None:
    assert choose_email([DeviceEmail(email, "idp")], ["acme.com"]).email is None


def test_any_of_several_domains_counts_and_at_signs_are_tolerated() -> None:
    choice = choose_email([DeviceEmail("ann@acme.org", "custom")], ["acme.com", "@acme.org"])
    assert choice.email == "ann@acme.org"


def test_empty_domain_list_accepts_any_domain() -> None:
    choice = choose_email([DeviceEmail("ann@gmail.com", "custom"), DeviceEmail("ann@acme.com", "custom")], [])
    assert choice.email == "ann@acme.com"


def test_no_emails_explains_itself() -> None:
    choice = choose_email([], ["acme.com"])
    assert not choice.found
    assert choice.email is None
    assert choice.reason == "Fleet has no device-mapping email for this host"


def test_only_out_of_domain_emails_are_listed_in_the_reason() -> None:
    choice = choose_email([DeviceEmail("Bob@Gmail.com", "google_chrome_profiles")], ["acme.com"])
    assert choice.email is None
    assert choice.reason == "no device-mapping email in acme.com (found: bob@gmail.com (google_chrome_profiles))"


def test_reason_names_every_domain_and_ranks_what_was_found() -> None:
    mappings = [DeviceEmail("x@gmail.com", "custom"), DeviceEmail("y@yahoo.com", "mdm_idp_accounts")]
    choice = choose_email(mappings, ["acme.org", "acme.com"])
    assert choice.reason == (
        "no device-mapping email in acme.com or acme.org (found: y@yahoo.com (mdm_idp_accounts), x@gmail.com (custom))"
    )


def test_duplicates_across_sources_are_one_candidate_with_the_best_source() -> None:
    mappings = [
        DeviceEmail("user@example.com", "custom"),
        DeviceEmail("user@example.com", "identity_provider"),
        DeviceEmail("user@example.com", "google_chrome_profiles"),
    ]
    choice = choose_email(mappings, ["example.com"])
    assert (choice.email, choice.source, choice.candidates) == (
        "user@example.com",
        "identity_provider",
        ("user@example.com",),
    )


def test_values_that_are_not_emails_are_ignored() -> None:
    mappings = [DeviceEmail("not-an-email", "idp"), DeviceEmail("@acme.com", "idp"), CUSTOM]
    assert choose_email(mappings, ["acme.com"]).email == "custom.user@acme.com"


_sources = st.sampled_from(["idp", "mdm_idp_accounts", "google_chrome_profiles", "custom", "custom_x", "other"])
_emails = st.builds(
    lambda user, domain: f"{user}@{domain}",
    st.text(alphabet="abcXYZ.", min_size=1, max_size=6).filter(lambda u: u.strip(".")),
    st.sampled_from(["acme.com", "ACME.com", "gmail.com"]),
)
_mappings = st.lists(st.builds(DeviceEmail, _emails, _sources), max_size=8)


@given(_mappings, st.randoms())
def test_choice_does_not_depend_on_input_order(mappings: list[DeviceEmail], rnd: object) -> None:
    shuffled = list(mappings)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert choose_email(shuffled, ["acme.com"]) == choose_email(mappings, ["acme.com"])


@given(_mappings)
def test_a_chosen_email_is_in_domain_and_has_the_best_rank_present(mappings: list[DeviceEmail]) -> None:
    choice = choose_email(mappings, ["acme.com"])
    in_domain = [m for m in mappings if m.email.lower().endswith("@acme.com")]
    assert choice.found == bool(in_domain)
    if choice.email is not None:
        assert choice.email.endswith("@acme.com")
        assert choice.email == choice.email.lower()
        assert source_rank(choice.source or "") == min(source_rank(m.source) for m in in_domain)
