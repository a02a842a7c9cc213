"""`make demo`: the whole story on the local stack, in under three minutes, narrated.

Fleet reports two failing policies on three Macs owned by two people in different time zones, a fourth Mac
whose owner, Max, is on Microsoft 365 (his company's domain is on `calendar: microsoft`), and a Mac on
macOS 27 that is behind its team's latest release. The planner books one window per person in their own
calendar, with a reason and a plain-language text; for the macOS 27 Mac it first sets the team's OS-update
deadline in Fleet (the team lets the service manage it), and the window is Dana's time to click Update Now
herself, since macOS 27 takes no update command. Alice drags her event to another time; the push
notification reschedules it. Max does the same in Outlook; Graph's change notification reschedules his.
The windows start, the dispatcher sends the configured fixes through Fleet's API, the Macs run them and
report passing at their next check-in, Dana clicks Update Now, and verification closes the windows: Dana's
by the OS version her Mac reports. Carol's calendar is on a CalDAV server (Radicale): her window is booked
there, she moves it in her calendar app, and the scheduler's next follow-only call (CalDAV has no push)
brings the window along (infra/demo_caldav.py).

Demo settings, said as they apply: windows are booked a minute ahead (the planner's short-lead option, local
only) so they start while you watch, and verification is delivered right after the fixes instead of at the
window's end plus the grace period. So that a minute ahead is a believable time for everyone, each person
lives where it is late morning or early afternoon when the demo runs (their calendar's zone is chosen at
start from real cities), and the demo's team works every day of the week, so a weekend run books inside
working hours too. After verification the demo shows what each event says: how the window ended.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from infra import demo_caldav
from infra import stack as local_stack
from infra.client import LOCAL, LocalStack
from infra.ports import port_for

PROFILE = "demo"
STARTED = time.monotonic()
PEOPLE = ("alice@acme.example", "bob@acme.example", "dana@acme.example")
DANA_MAC = 5
#: On Microsoft 365: his calendar is read and written through Graph (the local Graph stand-in).
MAX = "max@contoso.example"
MAX_MAC = 10
#: Cities to place the people in, one per UTC offset or so: whatever the hour, three of them are mid-day.
CITIES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Europe/London",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Asia/Dubai",
    "America/Chicago",
    "Asia/Singapore",
    "Pacific/Auckland",
    "America/Denver",
    "Europe/Athens",
    "Asia/Dhaka",
    "Pacific/Honolulu",
    "Asia/Bangkok",
    "America/Anchorage",
    "Atlantic/Azores",
    "Asia/Karachi",
    "America/Halifax",
    "Pacific/Noumea",
    "Asia/Kamchatka",
    "Atlantic/Cape_Verde",
    "Pacific/Pago_Pago",
    "Pacific/Kiritimati",
)
WORKING_DAY = ("09:00", "17:00")
#: Local time of booking that leaves the 30-minute window, the move and the verification inside the day.
MIDDAY = (clock_time(10, 0), clock_time(15, 30))
FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "fleet" / "failing_policies_webhook.json"


def zones_at_midday(now: datetime, count: int = len(PEOPLE)) -> list[str]:
    """The first `count` cities where `now` falls between MIDDAY's bounds, on distinct offsets."""
    chosen: list[str] = []
    offsets: set[timedelta | None] = set()
    for city in CITIES:
        local = now.astimezone(ZoneInfo(city))
        if MIDDAY[0] <= local.time() < MIDDAY[1] and local.utcoffset() not in offsets:
            chosen.append(city)
            offsets.add(local.utcoffset())
        if len(chosen) == count:
            return chosen
    raise SystemExit(f"demo: fewer than {count} cities are at mid-day at {now:%H:%M} UTC")  # pragma: no cover


def demo_team_file(path: Path) -> Path:
    """The local team file, with a working day on every day of the week (a weekend run stays believable)."""
    import yaml

    rules = yaml.safe_load((LOCAL / "teams.yaml").read_text())
    start, end = WORKING_DAY
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    rules["defaults"].setdefault("slots", {})["working_hours"] = {day: {"start": start, "end": end} for day in days}
    rules["defaults"]["domains"] = [*rules["defaults"].get("domains", []), MAX.split("@")[1]]
    rules["defaults"]["calendar_domains"] = {MAX.split("@")[1]: "microsoft"}
    local_stack.with_caldav(rules, f"http://127.0.0.1:{port_for(PROFILE, 'caldav')}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


def windows_zone_at_midday(now: datetime) -> tuple[str, str]:
    """A city at mid-day and its Windows zone name (CLDR windowsZones), for a Microsoft 365 mailbox."""
    from babel.core import get_global

    windows_names = {iana: name for name, iana in get_global("windows_zone_mapping").items()}
    for city in CITIES:
        local = now.astimezone(ZoneInfo(city)).time()
        if city in windows_names and MIDDAY[0] <= local < MIDDAY[1]:
            return city, windows_names[city]
    raise SystemExit(f"demo: no Windows-named city is at mid-day at {now:%H:%M} UTC")  # pragma: no cover


def outlook_week(zone: str) -> list[dict[str, Any]]:
    """Max's Outlook week: stand-ups, a customer call, a day out of office (showAs oof)."""
    tz = ZoneInfo(zone)
    today = datetime.now(tz).date()
    events: list[dict[str, Any]] = []

    def add(day: int, hour: float, minutes: int, subject: str, show_as: str = "busy") -> None:
        start = datetime.combine(today + timedelta(days=day), datetime.min.time(), tz) + timedelta(hours=hour)
        when = [(start + timedelta(minutes=m)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") for m in (0, minutes)]
        events.append(
            {
                "user": MAX,
                "subject": subject,
                "showAs": show_as,
                "start": {"dateTime": when[0], "timeZone": "UTC"},
                "end": {"dateTime": when[1], "timeZone": "UTC"},
            }
        )

    for day in range(0, 8):
        add(day, 9.5, 15, "Stand-up")
        add(day, 11 + day % 3, 60, "Customer call")
    add(2, 0, 24 * 60 - 1, "Out of office", "oof")
    return events


def inside_working_hours(start: datetime, end: datetime, zone: str) -> bool:
    tz = ZoneInfo(zone)
    opens, closes = (clock_time.fromisoformat(clock) for clock in WORKING_DAY)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    return local_start.date() == local_end.date() and opens <= local_start.time() and local_end.time() <= closes


def say(message: str) -> None:
    elapsed = time.monotonic() - STARTED
    print(f"[{int(elapsed // 60):02d}:{int(elapsed % 60):02d}] {message}", flush=True)


def heading(title: str) -> None:
    print(f"\n── {title} " + "─" * max(0, 72 - len(title)), flush=True)


def busy_week(email: str, zone: str) -> list[dict[str, Any]]:
    """Stand-ups, meetings, a long workshop, an out-of-office day, an event marked free."""
    tz = ZoneInfo(zone)
    today = datetime.now(tz).date()
    events: list[dict[str, Any]] = []

    def add(day: int, hour: float, minutes: int, summary: str, **extra: Any) -> None:
        start = datetime.combine(today + timedelta(days=day), datetime.min.time(), tz) + timedelta(hours=hour)
        events.append(
            {
                "user": email,
                "summary": summary,
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat()},
                **extra,
            }
        )

    for day in range(0, 8):
        if (today + timedelta(days=day)).weekday() >= 5:
            continue
        add(day, 9.5, 15, "Stand-up")
        add(day, 10 + day % 3, 60, "Customer call")
        add(day, 14.5, 90 if day % 2 else 45, "Project review")
        add(day, 12, 60, "Lunch with the team" if day % 3 == 0 else "Lunch (free)", transparency="transparent")
    add(1, 13, 180, "Workshop")
    add(2 if email.startswith("bob") else 3, 0, 24 * 60 - 1, "Out of office", eventType="outOfOffice")
    return events


def fleet_seed() -> dict[str, Any]:
    """The local Fleet's hosts, and Max's MacBook Pro (like Alice's iMac: disk encryption off)."""
    seed: dict[str, Any] = json.loads((LOCAL / "fleet-seed.json").read_text())
    like = next(host for host in seed["hosts"] if host["id"] == 3)
    seed["hosts"].append(
        {
            **like,
            "id": MAX_MAC,
            "uuid": "5D6B6F2E-0010-4C1A-9E55-MAX0000MBP10",
            "hardware_serial": "C02MAX00010",
            "hostname": "max-mbp",
            "display_name": "Max's MacBook Pro",
            "emails": [{"email": MAX, "source": "idp"}],
        }
    )
    return seed


def webhook(policy_id: int, name: str, host_ids: list[int]) -> dict[str, Any]:
    """Fleet's failing-policies webhook, in the shape of the real fixture."""
    payload: dict[str, Any] = json.loads(FIXTURE.read_text())
    seed = demo_caldav.fleet_seed(fleet_seed())
    hosts = {host["id"]: host for host in seed["hosts"]}
    policy = next(p for p in seed["policies"] if p["id"] == policy_id)
    payload["timestamp"] = datetime.now(UTC).isoformat()
    payload["policy"].update(
        id=policy_id,
        name=name,
        description=policy["description"],
        resolution=policy["resolution"],
        critical=policy.get("critical", False),
        failing_host_count=len(host_ids),
    )
    payload["hosts"] = [
        {
            "id": h,
            "hostname": hosts[h]["hostname"],
            "display_name": hosts[h]["display_name"],
            "url": f"https://fleet.acme.example/hosts/{h}",
        }
        for h in host_ids
    ]
    return payload


def windows() -> list[dict[str, Any]]:
    """What `mw windows --json` shows (main() points MW_STACK_FILE at the demo's stack)."""
    from maintenance_windows.cli.planning_commands import window_rows

    return window_rows()


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise SystemExit(f"demo: timed out waiting for {what}")


def show_events() -> dict[str, dict[str, Any]]:
    by_user = {row["user"]: row for row in windows()}
    for email, row in by_user.items():
        local = datetime.fromisoformat(row["start_local"])
        print(f"\n  {email} ({row['time_zone']}) — hosts {row['hosts']}, policies {row['policies']}")
        print(f"    when:   {local:%A %d %B %H:%M:%S} their time ({row['start_utc']} UTC)")
        print(f"    why:    {row['reason']}")
        print(f"    text:   ({row['text_source']})")
        for line in _plain(row["event_text"]).splitlines():
            print(f"            {line}")
    return by_user


def _plain(html: str) -> str:
    import re
    from html import unescape

    text = re.sub(r"<br\s*/?>|</li>|</ul>", "\n", html)
    text = re.sub(r"<li>", "• ", text)
    text = re.sub(r"<b>(.*?)</b>", lambda m: m.group(1).upper(), text)
    return unescape(re.sub(r"<[^>]+>", "", text)).replace("\n\n", "\n").strip()


def story(demo: LocalStack) -> None:
    """The demo, one chapter a function; each prints what it shows."""
    _fleet_and_calendars(demo)
    _webhooks_arrive(demo)
    booked = _planning(demo)
    _alice_moves_her_event(demo, booked)
    _max_moves_his_event_in_outlook(demo, booked)
    _carol_moves_hers_in_caldav(demo, booked)
    dispatched, received = _windows_start(demo)
    _dana_updates_now(demo)
    verified = _verification(demo, dispatched)
    _what_the_events_say(demo, verified)
    _timeline(verified)
    _summary(demo, verified, received)


def _fleet_and_calendars(demo: LocalStack) -> None:
    heading("1. Fleet and the calendars")
    demo.seed_fleet(demo_caldav.fleet_seed(fleet_seed()))
    *zones, carol_zone = zones_at_midday(datetime.now(UTC) + timedelta(minutes=2), len(PEOPLE) + 1)
    people = dict(zip(PEOPLE, zones, strict=True))
    demo.reset_calendar([{"email": e, "timeZone": z} for e, z in people.items()])
    for email, zone in people.items():
        demo.calendar("POST", "events", {"events": busy_week(email, zone)})
        say(f"{email}: a busy week seeded in {zone}, where it is {datetime.now(ZoneInfo(zone)):%A %H:%M}")
    demo_caldav.seed_week(demo, carol_zone)
    say(f"{demo_caldav.CAROL}: her calendar on the CalDAV server (Radicale), in {carol_zone}, with her stand-ups")
    max_zone, windows_name = windows_zone_at_midday(datetime.now(UTC) + timedelta(minutes=2))
    demo.graph("POST", "reset")
    demo.graph(
        "POST",
        "users",
        {
            "users": [
                {
                    "email": MAX,
                    "timeZone": windows_name,
                    "working_days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
                    "working_start": "09:00:00.0000000",
                    "working_end": "17:00:00.0000000",
                }
            ]
        },
    )
    demo.graph("POST", "events", {"events": outlook_week(max_zone)})
    say(
        f"{MAX}: on Microsoft 365 — an Outlook week seeded in mailbox zone “{windows_name}” ({max_zone}, "
        f"{datetime.now(ZoneInfo(max_zone)):%A %H:%M}), working hours 09:00–17:00 stated in Outlook"
    )
    say(
        "Fleet knows Alice's MacBook Pro and iMac and Bob's MacBook Air (2 policies fail), and Dana's MacBook Air "
        f"on {demo.fleet.host(DANA_MAC)['os_version']} (team 1: not on the latest macOS)"
    )


def _webhooks_arrive(demo: LocalStack) -> None:
    heading("2. Fleet's webhooks arrive")
    for policy_id, name, hosts in (
        (1, "macOS - OS version up to date", [1, 2]),
        (2, "Disk encryption enabled", [1, 3, MAX_MAC, demo_caldav.CAROL_MAC]),
        (4, "macOS - latest version", [DANA_MAC]),
    ):
        for attempt in range(2):  # Fleet retries; the second delivery changes nothing
            answer = demo.replay(webhook(policy_id, name, hosts)).json()
            say(
                f"policy {policy_id} ({name}) on hosts {hosts}, delivery {attempt + 1}: "
                f"{answer['hosts_new']} new, {answer['hosts_unchanged']} unchanged"
            )


def _planning(demo: LocalStack) -> dict[str, dict[str, Any]]:
    heading("3. Planning (Cloud Scheduler's call), windows a minute ahead")
    report = demo.plan(lead_minutes=1).json()
    say(
        f"plan_windows: {report['windows_opened']} windows opened, {report['windows_booked']} booked, "
        f"{report.get('channels_opened', 0)} push channels opened"
    )
    for patch in demo.fleet.requests(method="PATCH"):
        macos = patch["body"]["mdm"]["macos_updates"]
        say(
            f"Fleet team 1 (managed): macOS {macos['minimum_version']} enforced on {macos['deadline']} at 12:00 "
            "device time, after Dana's window"
        )
    booked = show_events()
    for email, row in booked.items():
        start, end = (datetime.fromisoformat(row[key]) for key in ("start_utc", "end_utc"))
        inside = inside_working_hours(start, end, row["time_zone"])
        say(f"{email}: booked {'inside' if inside else 'OUTSIDE'} their working hours ({'–'.join(WORKING_DAY)})")
        if not inside:
            raise SystemExit(f"demo: {email} was booked outside working hours")
    return booked


def _alice_moves_her_event(demo: LocalStack, booked: dict[str, dict[str, Any]]) -> None:
    heading("4. Alice drags her event 30 seconds later")
    alice = booked["alice@acme.example"]
    start, end = (datetime.fromisoformat(alice[k]) + timedelta(seconds=30) for k in ("start_utc", "end_utc"))
    demo.calendar(
        "POST",
        f"users/alice@acme.example/events/{alice['event_id']}/move",
        {"start": start.isoformat(), "end": end.isoformat()},
    )
    moved_at = time.monotonic()
    moved = wait_for(
        "the push-driven reschedule",
        lambda: next((row for row in windows() if row["user"] == "alice@acme.example" and row["revision"] == 1), None),
        20,
    )
    say(
        f"push notification followed in {time.monotonic() - moved_at:.1f} s: revision {moved['revision']}, "
        f"new start {moved['start_utc']}, new task {moved['task']}"
    )
    say("the task made for the old time is still queued; when it fires it finds a stale revision and does nothing")


def _max_moves_his_event_in_outlook(demo: LocalStack, booked: dict[str, dict[str, Any]]) -> None:
    heading("4b. Max moves his event in Outlook (Microsoft 365)")
    mine = booked[MAX]
    (outlook,) = [
        e
        for e in demo.graph("GET", f"users/{MAX}/events")["value"]
        if e.get("transactionId") == mine["event_id"] and not e["deleted"]
    ]
    say(
        f"Max's event in Graph: id {outlook['id'][:16]}…, transactionId {outlook['transactionId']}, "
        f"showAs {outlook['showAs']}, categories {outlook['categories']}, "
        f"reminder {outlook['reminderMinutesBeforeStart']} min"
    )
    subscriptions = demo.graph("GET", "subscriptions")["value"]
    say(
        f"Graph subscriptions open: {len(subscriptions)} "
        f"(resource {subscriptions[0]['resource'] if subscriptions else '-'}, validated by calendar_notifications)"
    )
    start, end = (datetime.fromisoformat(mine[k]) + timedelta(seconds=30) for k in ("start_utc", "end_utc"))
    demo.graph(
        "POST",
        f"users/{MAX}/events/{outlook['id']}/move",
        {
            "start": {"dateTime": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        },
    )
    moved_at = time.monotonic()
    moved = wait_for(
        "Graph's change notification to reschedule Max's window",
        lambda: next((row for row in windows() if row["user"] == MAX and row["revision"] == 1), None),
        30,
    )
    say(
        f"Graph change notification followed in {time.monotonic() - moved_at:.1f} s: revision {moved['revision']}, "
        f"new start {moved['start_utc']}"
    )


def _carol_moves_hers_in_caldav(demo: LocalStack, booked: dict[str, dict[str, Any]]) -> None:
    heading("4c. Carol drags hers 30 seconds later, in her CalDAV calendar app")
    demo_caldav.move(demo, booked[demo_caldav.CAROL]["event_id"], timedelta(seconds=30))
    polled = demo_caldav.follow_now(demo)
    followed = next(row for row in windows() if row["user"] == demo_caldav.CAROL)
    say(
        f"no push in CalDAV: the scheduler's follow-only call synced {polled.get('calendars_polled', 0)} calendar(s); "
        f"revision {followed['revision']}, new start {followed['start_utc']}"
    )
    if followed["revision"] != 1:
        raise SystemExit("demo: Carol's move was not followed")


def _windows_start(demo: LocalStack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    heading("5. The windows start")
    for host, policy, kind in (
        (1, 1, "mdm_command"),
        (2, 1, "mdm_command"),
        (1, 2, "script"),
        (3, 2, "script"),
        (MAX_MAC, 2, "script"),
        (demo_caldav.CAROL_MAC, 2, "script"),
    ):
        demo.fleet.pass_on_action(host, policy, kind)
    say("the local Fleet runs each fix when its Mac next checks in (every few seconds), like Fleet does")
    last_start = max(datetime.fromisoformat(row["start_utc"]) for row in windows())
    say(f"waiting for the last window to start at {last_start:%H:%M:%S} UTC …")
    dispatched: list[dict[str, Any]] = wait_for(
        "both windows to be dispatched",
        lambda: (rows := windows()) and all(row["state"] in ("dispatched", "verified") for row in rows) and rows,
        200,
    )
    for row in dispatched:
        sent = [e for e in row["history"] if e["kind"] in ("action_sent", "action_by_person", "dispatched")]
        say(f"{row['user']}: dispatched; " + "; ".join(e["detail"] for e in sent[-3:]))
    received = [
        r
        for r in demo.http.get(demo.urls["fleet"] + "/_admin/requests", timeout=10).json()["requests"]
        if r["method"] == "POST"
    ]
    for request in received:
        say(f"Fleet received {request['method']} {request['path']}")

    stale = wait_for("the old task to fire", lambda: _log_events("task_no_op"), 30)
    for entry in stale:
        say(f"the old {entry['purpose']} task for revision 0 fired: {entry['status']}, {entry['why']}; nothing sent")
    return dispatched, received


def _dana_updates_now(demo: LocalStack) -> None:
    heading("6. Dana clicks Update Now")
    target = demo.fleet.requests(method="PATCH")[-1]["body"]["mdm"]["macos_updates"]["minimum_version"]
    wait_for(
        "the team's OS-update declaration to reach Dana's Mac",
        lambda: (demo.fleet.host(DANA_MAC)["declaration"] or [""])[0] == target,
        30,
    )
    demo.fleet.update_now(DANA_MAC)
    say("System Settings → General → Software Update → Update Now (the stand-in Fleet's admin call)")
    updated = wait_for(
        "Dana's Mac to install the update",
        lambda: (v := demo.fleet.host(DANA_MAC)["os_version"]) != "macOS 27.0" and v,
        30,
    )
    say(f"Dana's Mac installed it at its next check-in and now reports {updated}")


def _verification(demo: LocalStack, dispatched: list[dict[str, Any]]) -> list[dict[str, Any]]:
    heading("7. Verification (delivered now instead of at the window's end + grace)")
    first = {}
    for row in dispatched:
        answer = first[row["window_id"]] = _verify(demo, row, attempt=0)
        say(
            f"{row['user']}: {answer.get('status')} — verification asked the Macs to refetch; "
            "Fleet only flags them, they report at their next check-in"
        )
    hosts = sorted({host for row in dispatched for host in row["hosts"]})
    waited = time.monotonic()
    wait_for(
        "the Macs to check in and report", lambda: not any(demo.fleet.host(h)["refetch_requested"] for h in hosts), 60
    )
    say(f"the Macs checked in and reported {time.monotonic() - waited:.1f} s later; the re-check is delivered now")
    for row in dispatched:
        attempt = 1
        while first[row["window_id"]].get("status") == "recheck" and attempt < 4:
            first[row["window_id"]] = _verify(demo, row, attempt=attempt)
            attempt += 1
            if first[row["window_id"]].get("status") == "recheck":
                wait_for("the next report", functools.partial(_reported, demo, row["hosts"]), 60)
    verified: list[dict[str, Any]] = wait_for(
        "verification", lambda: (rows := windows()) and all(row["state"] == "verified" for row in rows) and rows, 30
    )
    for row in verified:
        how = " (by the OS version her Mac reports)" if DANA_MAC in row["hosts"] else ""
        say(f"{row['user']}: {row['state']}{how}")
    return verified


def _what_the_events_say(demo: LocalStack, verified: list[dict[str, Any]]) -> None:
    heading("8. What the events say now")
    told = 0
    for _ in range(5):  # a scheduled run may hold the planner's lease for a moment
        told += int(demo.plan().json().get("outcomes_told") or 0)
        if told >= len(verified):
            break
        time.sleep(2)
    say(f"the next planning run wrote {told} outcomes into the events (dispatch_window never touches a calendar)")
    for row in verified:
        if row["user"] == MAX:
            (outlook,) = [
                e
                for e in demo.graph("GET", f"users/{MAX}/events")["value"]
                if e.get("transactionId") == row["event_id"] and not e["deleted"]
            ]
            print(f"\n  {row['user']} (Outlook) — “{outlook['subject']}”")
            for line in _plain(outlook["body"]["content"]).splitlines():
                print(f"            {line}")
            continue
        if row["user"] == demo_caldav.CAROL:
            event = demo_caldav.our_event(demo, row["event_id"])
        else:
            (event,) = [e for e in demo.our_events(row["user"]) if e["id"] == row["event_id"]]
        print(f"\n  {row['user']} — “{event['summary']}”")
        for line in _plain(event.get("description", "")).splitlines():
            print(f"            {line}")


def _timeline(verified: list[dict[str, Any]]) -> None:
    heading("Timeline (UTC)")
    entries = sorted(
        (e["at"], row["user"].split("@")[0], e["kind"], e["detail"]) for row in verified for e in row["history"]
    )
    for at, who, kind, detail in entries:
        print(f"  {at[11:19]}  {who:6} {kind:16} {detail[:90]}")


def _summary(demo: LocalStack, verified: list[dict[str, Any]], received: list[dict[str, Any]]) -> None:
    heading("Summary")
    cases = {h["host_id"]: h for h in _hosts(demo)}
    print(
        f"  windows: {len(verified)} booked (1 on Microsoft 365, 1 on CalDAV), 3 moved by their people, "
        f"{len(verified)} dispatched, {sum(r['state'] == 'verified' for r in verified)} verified"
    )
    print(
        f"  Fleet actions received: {len(received)}; hosts now: "
        + ", ".join(f"{h} {v['status']}" for h, v in sorted(cases.items()))
    )
    status_page(demo)


def status_page(demo: LocalStack) -> None:
    """The status page's address and the compliance figures it shows (the same code as `mw status`)."""
    from maintenance_windows.cli.status_commands import figures

    heading("Status page")
    status = demo.stack["status"]
    secrets_file = local_stack.state_dir(PROFILE) / "status-secrets.json"
    print(
        f"  {demo.stack['urls']['status']}  (while the demo's stack runs; sign in as {status['admins'][0]}, "
        f"password in {secrets_file}; `make up` serves it too)"
    )
    print("  compliance, last 30 days:")
    for line in figures().summary_lines():
        print(f"    {line}")


def _reported(demo: LocalStack, hosts: list[int]) -> bool:
    return not any(demo.fleet.host(h)["refetch_requested"] for h in hosts)


def _verify(demo: LocalStack, row: dict[str, Any], attempt: int) -> dict[str, Any]:
    body = {"window_id": row["window_id"], "revision": row["revision"], "purpose": "verify", "attempt": attempt}
    answer: dict[str, Any] = demo.deliver_task(body, timeout=60).json()
    return answer


def _log_events(event: str) -> list[dict[str, Any]]:
    """Structured log lines of dispatch_window (the local stack keeps them per function)."""
    log_file = local_stack.state_dir(PROFILE) / "logs" / "dispatch_window.log"
    found = []
    for line in log_file.read_text().splitlines():
        if f'"{event}"' in line:
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def _hosts(demo: LocalStack) -> list[dict[str, Any]]:
    from maintenance_windows.adapters.firestore_store import FirestoreStore
    from maintenance_windows.repository.hosts import all_hosts

    store = FirestoreStore.connect(demo.stack["project"])
    return [{"host_id": case.host_id, "status": case.status.value} for case in all_hosts(store)]


def main() -> int:
    say(
        "starting the local stack (Firestore and Tasks emulators, stand-in Fleet, Calendar, Graph, Gemini, "
        "OIDC issuer, Radicale for CalDAV, and the four functions)"
    )
    os.environ["MW_TEAM_CONFIG"] = str(demo_team_file(local_stack.state_dir(PROFILE) / "teams.yaml"))
    info = local_stack.up(PROFILE)
    os.environ["MW_STACK_FILE"] = str(local_stack.stack_file(PROFILE))
    os.environ["FIRESTORE_EMULATOR_HOST"] = info["firestore_emulator_host"]
    say(f"stack up: functions on {info['urls']['fleet_webhook']} … {info['urls']['dispatch_window']}")
    try:
        story(LocalStack(info, timeout=120))
    finally:
        stopped = local_stack.down(PROFILE)
        say(f"stack stopped ({stopped} processes)")
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
