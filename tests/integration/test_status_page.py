"""The status page on the local stack, in a real browser: Debian's chromium, driven by Selenium through its
chromedriver (installed by `make setup`). Also the chat alerts, posted to the local webhook receiver."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.client import LocalStack
from maintenance_windows.adapters.chat_webhook import ChatWebhook
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.domain import compliance
from maintenance_windows.repository.hosts import policy_cases
from maintenance_windows.repository.windows import all_windows
from maintenance_windows.status.alerts import ChatAlerts
from tests.support.status_fixtures import EXPECTED, seed

pytestmark = pytest.mark.stack
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
#: What Chromium needs on a machine with a closed network (docs/status-page.md#browser-tests).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1700",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if shutil.which(path) is None]
    assert not missing, f"{', '.join(missing)} missing: `make setup` installs Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def seeded(store: FirestoreStore) -> datetime:
    now = datetime.now(UTC)
    seed(store, now)
    return now


def sign_in(driver: Any, stack: dict[str, Any], email: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    driver.get(stack["urls"]["status"])
    assert driver.title.startswith("Sign in")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "signin").click()
    # The form posts and the browser follows the answer: wait for the page it lands on, the status page or the refusal.
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "problem") or d.title.startswith("Status"))


@pytest.mark.usefixtures("seeded")
def test_anonymous_visitors_get_no_data(stack: dict[str, Any], browser: Any) -> None:
    direct = requests.get(stack["urls"]["status_page"], timeout=30)
    assert direct.status_code == 401
    assert "alice" not in direct.text
    forged = requests.get(stack["urls"]["status_page"], headers={"x-goog-iap-jwt-assertion": "e30.e30.e30"}, timeout=30)
    assert forged.status_code == 401
    browser.get(stack["urls"]["status"])
    assert browser.title.startswith("Sign in")
    assert "alice" not in browser.page_source
    sign_in(browser, stack, "eve@acme.example", stack["status"]["password"])
    assert "You do not have access" in browser.page_source
    assert "alice" not in browser.page_source


@pytest.mark.usefixtures("seeded")
def test_a_signed_in_admin_sees_the_figures_of_the_stored_windows(
    stack: dict[str, Any], store: FirestoreStore, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    sign_in(browser, stack, stack["status"]["admins"][0], stack["status"]["password"])
    assert browser.title.startswith("Status"), browser.page_source[:500]
    shown = {
        key: browser.find_element(By.ID, key).text
        for key in ("fixed-in-time", "median-fix", "p90-fix", "declined-share", "p95-follow")
    }
    # The figures of what the emulator holds now, computed again, and the ones the seeded records were built for.
    windows = all_windows(store)
    cases = policy_cases(store, {h for w in windows for h in w.host_ids}, {p for w in windows for p in w.policy_ids})
    stored = compliance.compute(windows, cases, datetime.now(UTC))
    expected = {
        "fixed-in-time": compliance.share_text(EXPECTED["fixed_in_time_share"]),
        "median-fix": compliance.hours_text(EXPECTED["median_fix_hours"]),
        "p90-fix": compliance.hours_text(EXPECTED["p90_fix_hours"]),
        "declined-share": compliance.share_text(EXPECTED["declined_share"]),
        "p95-follow": compliance.seconds_text(EXPECTED["p95_follow_seconds"]),
    }
    assert shown == expected
    assert shown["fixed-in-time"] == compliance.share_text(stored.fixed_in_time_share)
    assert shown["median-fix"] == compliance.hours_text(stored.median_fix_hours)
    attention = browser.find_element(By.ID, "attention").text
    assert "declined" in attention
    assert "no email" in attention
    assert "failed fix" in attention
    assert browser.find_element(By.ID, "time-to-fix").is_displayed()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#windows-per-day rect.bar")) == 4

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "status-page.png"
    shot.unlink(missing_ok=True)
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000

    browser.find_element(By.LINK_TEXT, "3").click()  # host 3, carol's declined window
    WebDriverWait(browser, 30).until(lambda d: d.title.startswith("Host 3"))
    assert re.search(r"carol-0 · declined", browser.page_source)


def test_chat_alerts_reach_the_webhook_once(stack: dict[str, Any], store: FirestoreStore, seeded: datetime) -> None:
    receiver = stack["urls"]["chat"] + "/_admin/messages"
    requests.delete(receiver, timeout=10).raise_for_status()
    hook = ChatAlerts(
        ChatWebhook(stack["function_env"]["MW_CHAT_WEBHOOK_URL"]), "slack", status_url=stack["urls"]["status"]
    )
    assert hook.send(store, seeded) == 4
    assert hook.send(store, seeded) == 0
    texts = [message["body"]["text"] for message in requests.get(receiver, timeout=10).json()]
    assert len(texts) == 4
    assert any("declined" in text for text in texts)
    assert any("daily digest" in text and "25%" in text for text in texts)


@pytest.mark.usefixtures("store")
def test_a_planning_run_posts_the_daily_digest(stack: dict[str, Any]) -> None:
    receiver = stack["urls"]["chat"] + "/_admin/messages"
    requests.delete(receiver, timeout=10).raise_for_status()
    client = LocalStack(stack)
    for _ in range(2):
        assert client.plan().status_code == 200
    texts = [message["body"]["text"] for message in requests.get(receiver, timeout=10).json()]
    assert [text.split("\n")[0].split(" · ")[0] for text in texts] == [
        f"*Maintenance windows, daily digest {datetime.now(UTC).date().isoformat()}*"
    ]


@pytest.mark.usefixtures("seeded")
def test_mw_status_prints_the_figures_the_page_shows(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from maintenance_windows.cli.main import main as mw

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", stack["firestore_emulator_host"])
    capsys.readouterr()
    assert mw(["--project", stack["project"], "status", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {key: shown[key] for key in EXPECTED} == EXPECTED
    assert mw(["--project", stack["project"], "status"]) == 0
    assert "fixed within deadline: 25% (1 of 4 hosts due)" in capsys.readouterr().out
