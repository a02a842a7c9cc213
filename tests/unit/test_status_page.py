"""The status page on the memory store: who gets in, what it shows, and that it matches the figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from maintenance_windows.adapters.memory_store import MemoryStore
from maintenance_windows.auth import AuthError
from maintenance_windows.domain import compliance
from maintenance_windows.ports.store import Write
from maintenance_windows.status import charts, view
from maintenance_windows.status.app import StatusContext, handle_status_page
from tests.support.status_fixtures import EXPECTED, seed

NOW = datetime(2031, 3, 31, 12, 0, tzinfo=UTC)


class Verifier:
    def verify(self, assertion: str | None) -> object:
        if assertion != "good":
            raise AuthError(401, "no IAP header")
        return type("User", (), {"email": "admin@acme.example"})()


@pytest.fixture
def ctx() -> StatusContext:
    store = MemoryStore()
    seed(store, NOW)
    return StatusContext(store=store, verifier=Verifier(), clock=lambda: NOW)


def text(page: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.decode()))


def test_anonymous_is_refused_with_401_and_nothing_of_the_data(ctx: StatusContext) -> None:
    page = handle_status_page("GET", "/", None, ctx)
    assert page.status == 401
    assert b"alice" not in page.body
    assert page.headers["Cache-Control"] == "no-store"


def test_writes_are_refused(ctx: StatusContext) -> None:
    assert handle_status_page("POST", "/", "good", ctx).status == 405


def test_the_overview_shows_the_figures_the_domain_computes(ctx: StatusContext) -> None:
    page = handle_status_page("GET", "/", "good", ctx)
    assert page.status == 200
    html = page.body.decode()
    assert re.search(r'id="fixed-in-time">25%<', html)
    assert re.search(r'id="median-fix">3\.0 d<', html)
    assert re.search(r'id="p90-fix">9\.0 d<', html)
    assert re.search(r'id="declined-share">25%<', html)
    assert re.search(r'id="p95-follow">20 s<', html)
    assert EXPECTED["hosts_due"] == 4
    assert "1 of 4 hosts due" in text(page.body)
    assert '<svg id="time-to-fix"' in html
    assert '<svg id="windows-per-day"' in html
    assert "<script" not in html


def test_attention_lists_each_kind_with_its_reason(ctx: StatusContext) -> None:
    items = view.overview(ctx.store, NOW).attention
    kinds = {(item.kind, item.host_id) for item in items}
    assert (view.DECLINED, 3) in kinds
    assert (view.NO_EMAIL, 7) in kinds
    assert (view.FAILED_FIX, 6) in kinds
    assert all(item.reason for item in items)
    body = text(handle_status_page("GET", "/", "good", ctx).body)
    assert "declined (1 deletions)" in body
    assert "no email: no owner found" in body


def test_a_refused_fix_and_a_refused_calendar_are_their_own_kinds(ctx: StatusContext) -> None:
    ctx.store.commit(
        [
            Write(
                "merge",
                "hosts",
                "4",
                {
                    "needs_attention": True,
                    "attention_reason": "Fleet refused the fix",
                    "blocked_policies": {"10": {"fix": "x"}},
                },
            ),
        ]
    )
    kinds = {item.host_id: item.kind for item in view.overview(ctx.store, NOW).attention}
    assert kinds[4] == view.FLEET_ERROR


def test_the_next_24_hours_and_the_state_table(ctx: StatusContext) -> None:
    overview = view.overview(ctx.store, NOW)
    assert [row["user"] for row in overview.next_day] == ["dave@acme.example"]
    assert overview.by_team["team 1"]["verified"] == 2
    assert overview.by_team["team 1"]["scheduled"] == 1


def test_host_and_person_history_pages(ctx: StatusContext) -> None:
    host = handle_status_page("GET", "/host/1", "good", ctx)
    assert host.status == 200
    assert "alice-0" in host.body.decode()
    assert "moved" in text(host.body)
    person = handle_status_page("GET", "/user/carol%40acme.example", "good", ctx)
    assert person.status == 200
    assert "declined" in text(person.body)
    assert handle_status_page("GET", "/host/999", "good", ctx).status == 404
    assert handle_status_page("GET", "/user/nobody@acme.example", "good", ctx).status == 404
    assert handle_status_page("GET", "/nowhere", "good", ctx).status == 404


def test_stored_text_is_escaped(ctx: StatusContext) -> None:
    ctx.store.commit([Write("merge", "hosts", "7", {"email_problem": "<script>alert(1)</script>"})])
    html = handle_status_page("GET", "/", "good", ctx).body.decode()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_the_time_to_fix_chart_draws_one_bar_per_bucket_with_its_count() -> None:
    svg = charts.time_to_fix_chart([5.0, 30.0, 72.0, 216.0, 1000.0])
    assert svg.count('class="bar"') == len(charts.FIX_BUCKETS)
    assert [count for _, count in charts.fix_buckets([5.0, 30.0, 72.0, 216.0, 1000.0])] == [1, 1, 0, 1, 1, 1]


def test_the_windows_per_day_chart_stacks_the_states_of_a_day(ctx: StatusContext) -> None:
    days = compliance.windows_per_day([], NOW)
    assert charts.windows_per_day_chart(days).count('class="bar"') == 0
    overview = view.overview(ctx.store, NOW)
    assert charts.windows_per_day_chart(overview.per_day).count('class="bar"') == 4


def test_paused_teams_are_shown_and_a_long_pause_is_alerted_once(ctx: StatusContext) -> None:
    from datetime import timedelta

    from maintenance_windows.domain.rollout import Pause
    from maintenance_windows.repository.pauses import pause_write
    from maintenance_windows.status.alerts import ChatAlerts

    ctx.store.commit([pause_write(Pause(1, "pilot review", NOW - timedelta(days=4), "admin@acme.example"))])
    html = handle_status_page("GET", "/", "good", ctx).body.decode()
    assert "team 1" in text(html.encode())
    assert "pilot review" in html
    posted: list[str] = []

    class Chat:
        def post(self, body: dict[str, str]) -> None:
            posted.append(body["text"])

    hook = ChatAlerts(Chat(), "slack")
    hook.send(ctx.store, NOW)
    hook.send(ctx.store, NOW + timedelta(hours=1))
    assert [t for t in posted if t.startswith("*paused*")] == [
        "*paused*: team 1 has been paused for 4 days (pilot review)"
    ]
