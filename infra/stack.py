"""Start and stop the local stack: emulators, stand-in servers and the four functions, on loopback.

    python -m infra.stack up [--profile dev]      start in the background, write .local/<profile>/stack.json
    python -m infra.stack down [--profile dev]    stop exactly the processes `up` started
    python -m infra.stack run --profile test -- CMD...   start, run CMD with MW_STACK_FILE set, always stop

`make up` / `make down` use the dev profile, `make test` runs its own test profile on other ports so it
never disturbs a running dev stack.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.ports import PROFILE_BASES, PortInUse, ensure_free, port_answers, port_for
from infra.radicale_server import SERVICE_ACCOUNT

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PROJECT = "local-project"
LOCATION = "local"
QUEUE = "maintenance-windows"
FUNCTIONS = ("fleet_webhook", "plan_windows", "calendar_notifications", "dispatch_window", "status_page")
SCHEDULER_SA = "scheduler@local-project.iam.gserviceaccount.com"
TASK_INVOKER_SA = "task-invoker@local-project.iam.gserviceaccount.com"
LOG_TAIL_LINES = 15
#: Who the local Identity-Aware Proxy lets into the status page (Terraform's var.status_admins in the cloud).
STATUS_ADMINS = ("admin@acme.example",)
#: The signed header's audience, shaped as IAP's for a Cloud Run service.
STATUS_AUDIENCE = f"/projects/000000000000/locations/{LOCATION}/services/status-page"


def state_dir(profile: str) -> Path:
    return ROOT / ".local" / profile


def stack_file(profile: str) -> Path:
    # `make up` writes the documented .local/stack.json; other profiles keep their own file.
    return ROOT / ".local" / "stack.json" if profile == "dev" else state_dir(profile) / "stack.json"


@dataclass
class Component:
    name: str
    command: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 30.0


def _py(*args: str) -> list[str]:
    return [str(VENV_BIN / "python"), *args]


def generate_secrets() -> dict[str, str]:
    """Fresh random secrets for one stack. Any value may start with `-`: none is ever put on a command line."""
    return {
        "webhook": secrets.token_urlsafe(24),
        "fleet_api_token": secrets.token_urlsafe(24),
        "caldav": secrets.token_urlsafe(24),
    }


CALDAV_SEED = ROOT / "infra" / "local" / "caldav-seed.json"


def caldav_passwords(local_secrets: dict[str, str]) -> dict[str, str]:
    """Radicale logins: the service account and each seeded person, derived from the stack's secret."""
    import hashlib

    root = local_secrets.get("caldav") or local_secrets["webhook"]  # a stack made before CalDAV existed
    people = [person["email"] for person in json.loads(CALDAV_SEED.read_text())["people"]]
    return {login: hashlib.sha256(f"{root}:{login}".encode()).hexdigest()[:24] for login in [SERVICE_ACCOUNT, *people]}


def with_caldav(rules: dict[str, Any], caldav_url: str) -> dict[str, Any]:
    """Team rules with the seeded CalDAV domain on the stack's Radicale."""
    seed = json.loads(CALDAV_SEED.read_text())
    defaults = rules.setdefault("defaults", {})
    # Its people are the organisation's too (owners are taken from the team domains only).
    defaults["domains"] = [*defaults.get("domains", []), seed["domain"]]
    defaults.setdefault("calendar_domains", {})[seed["domain"]] = "caldav"
    defaults["caldav"] = {"url": caldav_url + "/"}
    return rules


def caldav_team_config(profile: str, caldav_url: str) -> Path:
    """The local team rules with the CalDAV domain pointed at this stack's Radicale (its port varies)."""
    import yaml

    rules = with_caldav(yaml.safe_load((ROOT / "infra" / "local" / "teams.yaml").read_text()), caldav_url)
    target = state_dir(profile) / "teams.yaml"
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(rules, sort_keys=False))
    return target


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, from the first byte on (no window with the umask's mode)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(file.fileno(), 0o600)  # the file may have existed with a wider mode
        file.write(text)


def write_secrets(profile: str, values: dict[str, str]) -> None:
    write_private(state_dir(profile) / "secrets.json", json.dumps(values))


def _local_secrets(profile: str) -> dict[str, str]:
    """Random per-stack secrets, kept across restarts of one profile so `mw` keeps working."""
    path = state_dir(profile) / "secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    values = generate_secrets()
    write_secrets(profile, values)
    return values


def _status_secrets(profile: str) -> dict[str, str]:
    """The local admin's password for the status page's sign-in and the chat webhook's token, per stack."""
    path = state_dir(profile) / "status-secrets.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        return loaded
    values = {"admin_password": secrets.token_urlsafe(18), "chat_token": secrets.token_urlsafe(18)}
    write_private(path, json.dumps(values))
    return values


def option(name: str, value: object) -> str:
    """`--name=value`: one argv word, so a value that starts with `-` is never read as an option."""
    return f"--{name}={value}"


def describe(profile: str) -> dict[str, Any]:
    """Everything a client of the stack needs: URLs, emulator hosts, secrets and the functions' env."""
    port = {
        name: port_for(profile, name)
        for name in (
            *FUNCTIONS,
            "firestore",
            "tasks",
            "tasks_relay",
            "oidc",
            "fleet",
            "calendar",
            "gemini",
            "iap",
            "chat",
            "graph",
            "caldav",
        )
    }
    url = {name: f"http://127.0.0.1:{number}" for name, number in port.items()}
    for name in FUNCTIONS:
        url[name] += "/"
    # The page as admins reach it: through the local Identity-Aware Proxy, which signs each request.
    url["status"] = url["iap"] + "/"
    local_secrets = _local_secrets(profile)
    status_secrets = _status_secrets(profile)
    queue = f"projects/{PROJECT}/locations/{LOCATION}/queues/{QUEUE}"
    team_config = os.environ.get("MW_TEAM_CONFIG") or str(caldav_team_config(profile, url["caldav"]))
    function_env = {
        "MW_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{port['firestore']}",
        "MW_TEAM_CONFIG": team_config,
        "MW_WEBHOOK_SECRETS": local_secrets["webhook"],
        "MW_FLEET_URL": url["fleet"],
        "MW_FLEET_API_TOKEN": local_secrets["fleet_api_token"],
        "MW_OS_RELEASES_URL": url["fleet"] + "/sofa/v1/",
        "MW_CALENDAR_CREDENTIALS": "local",
        "MW_CALENDAR_API_ENDPOINT": f"{url['calendar']}/calendar/v3/",
        "MW_NOTIFICATIONS_URL": url["calendar_notifications"],
        "MW_GRAPH_CREDENTIALS": "local",
        "MW_GRAPH_API_ENDPOINT": f"{url['graph']}/v1.0",
        "MW_TASKS_QUEUE": queue,
        "MW_TASKS_EMULATOR_HOST": f"127.0.0.1:{port['tasks']}",
        "MW_DISPATCH_URL": url["dispatch_window"],
        "MW_LOCAL_TASKS_RELAY_URL": url["tasks_relay"] + "/",
        "MW_TASK_INVOKER_SA": TASK_INVOKER_SA,
        "MW_PLAN_URL": url["plan_windows"],
        "MW_SCHEDULER_SA": SCHEDULER_SA,
        "MW_OIDC_CERTS_URL": f"{url['oidc']}/oauth2/v1/certs",
        "MW_GEMINI_BASE_URL": url["gemini"] + "/",
        "MW_ALLOW_SHORT_LEAD": "true",
        "MW_CALDAV_CREDENTIALS": json.dumps(
            {
                "service_account": {
                    "username": SERVICE_ACCOUNT,
                    "password": caldav_passwords(local_secrets)[SERVICE_ACCOUNT],
                }
            }
        ),
        "MW_IAP_AUDIENCE": STATUS_AUDIENCE,
        "MW_LOCAL_IAP_KEYS_URL": url["iap"] + "/_iap/verify/public_key-jwk",
        "MW_STATUS_URL": url["status"],
        "MW_CHAT_WEBHOOK_URL": f"{url['chat']}/services/TLOCAL0000/BLOCAL0000/{status_secrets['chat_token']}",
        "MW_CHAT_FORMAT": "slack",
    }
    return {
        "profile": profile,
        "project": PROJECT,
        "root": str(ROOT),
        "firestore_emulator_host": function_env["FIRESTORE_EMULATOR_HOST"],
        "tasks_emulator_host": function_env["MW_TASKS_EMULATOR_HOST"],
        "tasks_queue": queue,
        "team_config": team_config,
        "urls": url,
        "ports": port,
        "secrets": local_secrets,
        "service_accounts": {"scheduler": SCHEDULER_SA, "task_invoker": TASK_INVOKER_SA},
        "status": {
            "admins": list(STATUS_ADMINS),
            "password": status_secrets["admin_password"],
            "audience": STATUS_AUDIENCE,
            "chat_token": status_secrets["chat_token"],
        },
        "function_env": function_env,
    }


def components(profile: str, info: dict[str, Any]) -> list[Component]:
    """What to start. Secrets go to a process through its environment (readable by its owner only, in
    /proc/PID/environ), never on its command line, which every local user can read with `ps`."""
    port, env = info["ports"], info["function_env"]
    folder = state_dir(profile)
    seed = ROOT / "infra" / "local" / "fleet-seed.json"
    found = [
        Component(
            "firestore",
            ["node", str(ROOT / "infra/firestore/server.js"), option("port", port["firestore"])],
            port["firestore"],
        ),
        Component(
            "tasks",
            _py(
                "-m",
                "infra.tasks_emulator",
                option("port", port["tasks"]),
                option("max-retries", 25),
                option("queue", info["tasks_queue"]),
            ),
            port["tasks"],
        ),
        Component(
            "oidc",
            _py("-m", "infra.oidc_issuer", option("port", port["oidc"]), option("key-dir", folder / "oidc")),
            port["oidc"],
        ),
        Component(
            "tasks_relay",
            _py(
                "-m",
                "infra.tasks_relay",
                option("port", port["tasks_relay"]),
                option("target", info["urls"]["dispatch_window"]),
                option("issuer", info["urls"]["oidc"]),
            ),
            port["tasks_relay"],
        ),
        Component(
            "fleet",
            _py(
                "-m",
                "infra.fleet_server",
                option("port", port["fleet"]),
                *([option("seed", seed)] if seed.exists() else []),
            ),
            port["fleet"],
            env={"FLEET_SERVER_TOKEN": info["secrets"]["fleet_api_token"]},
        ),
        Component("calendar", _py("-m", "infra.calendar_server", option("port", port["calendar"])), port["calendar"]),
        Component("gemini", _py("-m", "infra.gemini_server", option("port", port["gemini"])), port["gemini"]),
        Component("graph", _py("-m", "infra.graph_server", option("port", port["graph"])), port["graph"]),
        Component(
            "iap",
            _py(
                "-m",
                "infra.iap_proxy",
                option("port", port["iap"]),
                option("target", info["urls"]["status_page"]),
                option("audience", info["status"]["audience"]),
                option("admins", ",".join(info["status"]["admins"])),
            ),
            port["iap"],
            env={"MW_LOCAL_STATUS_PASSWORD": info["status"]["password"]},
        ),
        Component(
            "chat",
            _py("-m", "infra.chat_server", option("port", port["chat"])),
            port["chat"],
            env={"MW_LOCAL_CHAT_TOKEN": info["status"]["chat_token"]},
        ),
        Component(
            "caldav",
            _py("-m", "infra.radicale_server", option("port", port["caldav"]), option("folder", folder / "radicale")),
            port["caldav"],
            env={"RADICALE_USERS": json.dumps(caldav_passwords(info["secrets"]))},
        ),
    ]
    for name in FUNCTIONS:
        found.append(
            Component(
                name,
                [
                    str(VENV_BIN / "functions-framework"),
                    option("target", name),
                    option("host", "127.0.0.1"),
                    option("port", port[name]),
                    option("source", ROOT / "functions" / "main.py"),
                ],
                port[name],
                env=env,
            )
        )
    return found


def scheduler_command(info: dict[str, Any], *, follow_only: bool = False) -> list[str]:
    """Cloud Scheduler's planning job, or (follow_only) its job following calendars that cannot push."""
    interval = os.environ.get("MW_FOLLOW_SECONDS" if follow_only else "MW_SCHEDULE_SECONDS", "300")
    return _py(
        "-m",
        "infra.scheduler",
        option("url", info["urls"]["plan_windows"]),
        option("issuer", info["urls"]["oidc"]),
        option("audience", info["urls"]["plan_windows"]),
        option("email", SCHEDULER_SA),
        option("interval-seconds", interval),
        *([option("payload", '{"follow_only": true}')] if follow_only else []),
    )


class StartFailed(RuntimeError):
    """A component did not come up: names it, its port and the end of its log."""

    def __init__(self, component: str, port: int, what: str, log_path: Path) -> None:
        tail = "\n".join(f"    {line}" for line in log_tail(log_path))
        super().__init__(
            f"{component} {what} (port {port}); last lines of {log_path}:\n{tail or '    (the log is empty)'}"
        )
        self.component = component
        self.port = port


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


def _spawn(name: str, command: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    logs.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "wb") as log_file:  # one run per log: old lines would mislead
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so `down` can stop it and its workers
        )


def wait_ready(component: Component, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Return once the component answers on its port; raise StartFailed as soon as it exits or times out."""
    deadline = time.monotonic() + component.ready_timeout
    while True:
        if port_answers(component.port):
            return
        status = process.poll()
        if status is not None:
            raise StartFailed(component.name, component.port, f"exited with status {status} before answering", log_path)
        if time.monotonic() > deadline:
            raise StartFailed(
                component.name, component.port, f"did not answer within {component.ready_timeout:.0f} s", log_path
            )
        time.sleep(0.05)


def up(profile: str, only: set[str] | None = None, with_scheduler: bool = False) -> dict[str, Any]:
    target = stack_file(profile)
    if target.exists():
        down(profile)
    info = describe(profile)
    wanted = [c for c in components(profile, info) if only is None or c.name in only]
    for component in wanted:
        ensure_free(component.port, component.name)
    logs = state_dir(profile) / "logs"
    started: list[dict[str, Any]] = []
    info["processes"] = started
    try:
        running = []
        for component in wanted:
            process = _spawn(component.name, component.command, component.env, logs)
            running.append((component, process))
            started.append({"name": component.name, "pid": process.pid, "port": component.port})
            write_private(target, json.dumps(info, indent=2))  # written early so `down` can clean a failed start
        for component, process in running:
            wait_ready(component, process, logs / f"{component.name}.log")
        if "calendar" in {component.name for component in wanted}:
            seed_calendar(info)
        if "caldav" in {component.name for component in wanted}:
            seed_caldav(info)
        if with_scheduler:
            process = _spawn("scheduler", scheduler_command(info), {}, logs)
            started.append({"name": "scheduler", "pid": process.pid, "port": None})
            process = _spawn("follow_scheduler", scheduler_command(info, follow_only=True), {}, logs)
            started.append({"name": "follow_scheduler", "pid": process.pid, "port": None})
        write_private(target, json.dumps(info, indent=2))
    except BaseException:
        down(profile)
        raise
    return info


def seed_calendar(info: dict[str, Any]) -> None:
    """The local Calendar knows only seeded users, like a Workspace domain knows only its accounts."""
    import requests

    seed = json.loads((ROOT / "infra" / "local" / "calendar-seed.json").read_text())
    response = requests.post(info["urls"]["calendar"] + "/_admin/users", json=seed, timeout=10)
    response.raise_for_status()


def seed_caldav(info: dict[str, Any]) -> None:
    """Each seeded CalDAV person gets their own calendar in Radicale, in their zone."""
    from infra.radicale_server import seed

    seed(info["urls"]["caldav"], json.loads(CALDAV_SEED.read_text())["people"], caldav_passwords(info["secrets"]))


def _group_alive(pgid: int) -> bool:
    """Any process left in the group (each component leads its own, workers included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # our own child (under `run`): no zombie left behind
        os.waitpid(pid, os.WNOHANG)


def _stop_groups(pgids: list[int], sig: signal.Signals, wait_seconds: float) -> list[int]:
    """Signal every group, wait for them to empty; return the groups still alive."""
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
    deadline = time.monotonic() + wait_seconds
    alive = list(pgids)
    while alive and time.monotonic() < deadline:
        for pgid in alive:
            _reap(pgid)
        alive = [pgid for pgid in alive if _group_alive(pgid)]
        if alive:
            time.sleep(0.05)
    return alive


def down(profile: str) -> int:
    target = stack_file(profile)
    if not target.exists():
        return 0
    processes = json.loads(target.read_text()).get("processes", [])
    groups = [process["pid"] for process in processes]
    remaining = _stop_groups(groups, signal.SIGTERM, 5.0)
    if remaining:
        _stop_groups(remaining, signal.SIGKILL, 2.0)
    target.unlink()
    return len(processes)


def run(profile: str, command: list[str]) -> int:
    info = up(profile)
    print(
        json.dumps(
            {
                "severity": "INFO",
                "message": f"local stack '{profile}' up",
                "components": [p["name"] for p in info["processes"]],
            }
        ),
        flush=True,
    )
    try:
        completed = subprocess.run(command, cwd=ROOT, env={**os.environ, "MW_STACK_FILE": str(stack_file(profile))})
        return completed.returncode
    finally:
        stopped = down(profile)
        print(
            json.dumps({"severity": "INFO", "message": f"local stack '{profile}' stopped", "processes": stopped}),
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["up", "down", "run", "describe"])
    parser.add_argument("--profile", default="dev", choices=sorted(PROFILE_BASES))
    parser.add_argument("--only", help="comma-separated components to start (default: all)")
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is the command to run, untouched by argparse.
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    try:
        if args.action == "up":
            only = set(args.only.split(",")) if args.only else None
            info = up(args.profile, only, with_scheduler=args.profile == "dev")
            print(f"local stack up: {stack_file(args.profile).relative_to(ROOT)}")
            for name, value in info["urls"].items():
                print(f"  {name:24} {value}")
            return 0
        if args.action == "down":
            print(f"stopped {down(args.profile)} processes")
            return 0
        if args.action == "describe":
            print(json.dumps(describe(args.profile), indent=2))
            return 0
        if not command:
            parser.error("run needs a command after --")
        return run(args.profile, command)
    except (PortInUse, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
