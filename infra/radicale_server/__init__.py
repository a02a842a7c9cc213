"""A real Radicale CalDAV server for the local stack and the tests (docs/caldav.md): not a stand-in.

What is set up around it: htpasswd authentication (SHA-512 crypt), a rights file in which each person owns
their own calendars and one service account may read and write everyone's (the delegation a deployment
asks of its server), file storage in a folder of its own, and one calendar per seeded person at
`/<email>/calendar/`, made with MKCALENDAR and given the person's calendar-timezone (RFC 4791 5.3.1, 5.2.2).

    python -m infra.radicale_server --port N --folder DIR --seed SEED.json
        (prepares DIR, then becomes Radicale; the stack seeds calendars once it answers)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

import requests

SERVICE_ACCOUNT = "mw-service"
RIGHTS = """\
# First matching section wins (https://radicale.org/v3.html#authentication-and-rights).
[withheld]
# People whose calendars the service account may not touch (delegation withdrawn); empty permissions.
user: {service}
collection: {withheld}
permissions:

[service-account]
user: {service}
collection: .*
permissions: RrWw

[root]
user: .+
collection:
permissions: R

[principal]
user: .+
collection: {{user}}
permissions: RW

[own-calendars]
user: .+
collection: {{user}}/[^/]+
permissions: rw
"""


def config_text(folder: Path, port: int) -> str:
    return f"""\
[server]
hosts = 127.0.0.1:{port}

[auth]
type = htpasswd
htpasswd_filename = {folder / "users"}
htpasswd_encryption = sha512
# Refusals answer at once: the tests refuse on purpose, and a 1 s penalty would only slow them down.
delay = 0

[rights]
type = from_file
file = {folder / "rights"}

[storage]
filesystem_folder = {folder / "collections"}

[logging]
level = warning
"""


def _hash(password: str) -> str:
    from passlib.hash import sha512_crypt  # installed with Radicale (libpass)

    # 5,000 rounds (crypt's default) instead of passlib's 656,000: Radicale checks on every request.
    return str(sha512_crypt.using(rounds=5000).hash(password))


def rights_text(withheld: set[str]) -> str:
    import re

    names = "|".join(re.escape(email) for email in sorted(withheld)) or "(?!)"
    return RIGHTS.format(service=SERVICE_ACCOUNT, withheld=f"({names})(/.*)?")


def prepare(folder: Path, port: int, people: dict[str, str], withheld: set[str] | None = None) -> Path:
    """Write config, rights and htpasswd (people: login → password); return the config file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rights").write_text(rights_text(withheld or set()))
    write_users(folder, people)
    config = folder / "config"
    config.write_text(config_text(folder, port))
    return config


def write_users(folder: Path, people: dict[str, str]) -> None:
    lines = [f"{login}:{_hash(password)}" for login, password in sorted(people.items())]
    target = folder / "users"
    temporary = folder / "users.tmp"
    temporary.write_text("\n".join(lines) + "\n")
    os.chmod(temporary, 0o600)
    temporary.replace(target)  # Radicale rereads the file when it changes; never a half-written one


def timezone_calendar(zone: str) -> str:
    """A VCALENDAR with one VTIMEZONE, the value of calendar-timezone (RFC 4791 5.2.2)."""
    import icalendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//maintenance-windows local stack//EN")
    calendar.add("version", "2.0")
    calendar.add_component(icalendar.Timezone.from_tzid(zone))
    return str(calendar.to_ical().decode())


def make_calendar(url: str, email: str, password: str, zone: str | None) -> None:
    """MKCALENDAR the person's calendar as the person (an owner makes their own, as a client does); one that
    exists already (405 or 409, a re-seeded person) gets the zone by PROPPATCH instead (RFC 4918 9.2)."""
    properties = f"<D:displayname>{escape(email)}</D:displayname>" + _timezone_property(zone)
    components = '<C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>'
    calendar = f"{url}/{email}/calendar/"
    made = _dav(
        "MKCALENDAR",
        calendar,
        email,
        password,
        f"<C:mkcalendar {_NAMESPACES}><D:set><D:prop>{properties}{components}</D:prop></D:set></C:mkcalendar>",
    )
    if made.status_code == 201:
        return
    if made.status_code not in (405, 409):
        raise RuntimeError(f"MKCALENDAR for {email} answered {made.status_code}")
    update = f"<D:propertyupdate {_NAMESPACES}><D:set><D:prop>{properties}</D:prop></D:set></D:propertyupdate>"
    changed = _dav("PROPPATCH", calendar, email, password, update)
    if changed.status_code != 207:
        raise RuntimeError(f"PROPPATCH of {email}'s calendar answered {changed.status_code}")


_NAMESPACES = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'


def _timezone_property(zone: str | None) -> str:
    return f"<C:calendar-timezone>{escape(timezone_calendar(zone))}</C:calendar-timezone>" if zone else ""


def _dav(method: str, url: str, email: str, password: str, body: str) -> requests.Response:
    data = ('<?xml version="1.0" encoding="utf-8"?>' + body).encode()
    return requests.request(
        method,
        url,
        data=data,
        auth=(email, password),
        timeout=10,
        headers={"Content-Type": "application/xml; charset=utf-8"},
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningRadicale:
    """Radicale in a child process on a free port, for a test session; people are added as tests need."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service_password = secrets.token_urlsafe(16)
        self.passwords: dict[str, str] = {SERVICE_ACCOUNT: self.service_password}
        self._process: subprocess.Popen[bytes] | None = None
        self.withheld: set[str] = set()

    def restart(self, withheld: set[str]) -> None:
        """Radicale reads its rights file at start only: a change of delegation is a restart."""
        self.__exit__(None, None, None)
        self.withheld = set(withheld)
        self.__enter__()

    def __enter__(self) -> RunningRadicale:
        config = prepare(self.folder, self.port, self.passwords, self.withheld)
        log = open(self.folder / "radicale.log", "wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Radicale exited: {(self.folder / 'radicale.log').read_text()[-800:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("Radicale did not answer within 30 s")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()

    def add_person(self, email: str, zone: str | None) -> str:
        """The person's login and calendar (in `zone`); returns their password."""
        password = self.passwords.get(email) or secrets.token_urlsafe(16)
        if email not in self.passwords:
            self.passwords[email] = password
            write_users(self.folder, self.passwords)
        make_calendar(self.url, email, password, zone)
        return password

    def calendar_folder(self, email: str) -> Path:
        return self.folder / "collections" / "collection-root" / email / "calendar"


def seed(url: str, people: list[dict[str, Any]], passwords: dict[str, str]) -> None:
    for person in people:
        make_calendar(url, person["email"], passwords[person["email"]], person.get("time_zone"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.radicale_server", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args(argv)
    # Passwords arrive in the environment (readable by the owner only), never on the command line.
    people = json.loads(os.environ.get("RADICALE_USERS", "{}"))
    # Every start is a fresh server, as the other stand-ins are: the stack seeds it once it answers.
    shutil.rmtree(args.folder / "collections", ignore_errors=True)
    config = prepare(args.folder, args.port, people)
    # Become Radicale (same pid), so the stack stops exactly the process it started.
    os.execv(sys.executable, [sys.executable, "-m", "radicale", "--config", str(config)])  # noqa: S606


if __name__ == "__main__":
    sys.exit(main())
