"""`make soak`: start and stop the local stack many times over, each time on fresh random secrets.

    python -m infra.soak [--cycles=20] [--demos=5]

Each up/down cycle writes new secrets for the dev profile (every other cycle they start with `-`, the case
that once made argparse refuse the Fleet token), runs `make up`, checks that Fleet and fleet_webhook accept
exactly those secrets and that no process's command line shows them, runs `make down`, and checks that no
process started by the cycle is left and that every port of the stack is free again. Then `make demo` runs
`--demos` times, each on fresh secrets, with the same leftover checks. Figures go to
.local/soak/figures.json; the exit status is 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from infra import stack as local_stack
from infra.ports import port_answers

ROOT = local_stack.ROOT
OUTPUT = ROOT / ".local" / "soak"
MARKER = "MW_SOAK_RUN"  # set in every process a run starts: children inherit it, so leftovers show it


@dataclass
class Run:
    kind: str
    index: int
    dashed: bool
    seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def fresh_secrets(dashed: bool) -> dict[str, str]:
    values = local_stack.generate_secrets()
    return {name: "-" + value[1:] for name, value in values.items()} if dashed else values


def processes() -> Iterator[tuple[int, bytes, bytes]]:
    """(pid, cmdline, environ) of every process this user may read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            yield int(entry.name), (entry / "cmdline").read_bytes(), (entry / "environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # gone meanwhile, or another user's


def secrets_on_command_lines(values: dict[str, str]) -> list[str]:
    found = []
    for pid, cmdline, _ in processes():
        for name, value in values.items():
            if value.encode() in cmdline:
                found.append(f"secret {name} on the command line of pid {pid}")
    return found


def leftovers(marker: str) -> list[str]:
    wanted = f"{MARKER}={marker}".encode()
    return [
        f"pid {pid} left behind: {_words(cmdline)[:160]}"
        for pid, cmdline, environ in processes()
        if wanted in environ.split(b"\0")
    ]


def _words(cmdline: bytes) -> str:
    return cmdline.replace(b"\0", b" ").decode(errors="replace")


def busy_ports(profile: str) -> list[str]:
    ports = local_stack.describe(profile)["ports"]
    return [f"port {port} ({name}) still answers" for name, port in ports.items() if port_answers(port)]


def make(target: str, marker: str, log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as output:
        return subprocess.run(
            ["make", "--no-print-directory", target],
            cwd=ROOT,
            env={**os.environ, MARKER: marker},
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        ).returncode


def timed(run: Run, step: str, action: Callable[[], int]) -> int:
    started = time.monotonic()
    status = action()
    run.seconds[step] = round(time.monotonic() - started, 2)
    return status


def check_secrets_reached_the_stack(info: dict[str, Any], values: dict[str, str]) -> list[str]:
    """Fleet takes its token and fleet_webhook its secret: they arrived through the environment intact."""
    problems = []
    if info["secrets"] != values:
        problems.append("the stack did not use the secrets written for it")
    hosts = requests.get(
        info["urls"]["fleet"] + "/api/v1/fleet/hosts",
        headers={"Authorization": f"Bearer {values['fleet_api_token']}"},
        timeout=30,
    )
    if hosts.status_code != 200:
        problems.append(f"Fleet answered {hosts.status_code} to its own token")
    # Not JSON: accepted secret → 400, refused → 401; nothing is stored either way.
    webhook = requests.post(
        info["urls"]["fleet_webhook"],
        data=b"not json",
        headers={"Content-Type": "application/json"},
        auth=("fleet", values["webhook"]),
        timeout=60,
    )
    if webhook.status_code != 400:
        problems.append(f"fleet_webhook answered {webhook.status_code} with its secret (expected 400)")
    return problems


def up_down_cycle(index: int) -> Run:
    run = Run("up/down", index, dashed=index % 2 == 1)
    values = fresh_secrets(run.dashed)
    local_stack.write_secrets("dev", values)
    marker = uuid.uuid4().hex
    logs = OUTPUT / "logs"
    if timed(run, "up", lambda: make("up", marker, logs / f"up-{index}.log")) != 0:
        run.problems.append(f"make up failed; see {logs / f'up-{index}.log'}")
    else:
        info = json.loads(local_stack.stack_file("dev").read_text())
        run.problems += check_secrets_reached_the_stack(info, values)
        run.problems += secrets_on_command_lines(values)
    if timed(run, "down", lambda: make("down", marker, logs / f"down-{index}.log")) != 0:
        run.problems.append("make down failed")
    run.problems += leftovers(marker) + busy_ports("dev")
    return run


def demo_run(index: int) -> Run:
    run = Run("demo", index, dashed=index % 2 == 1)
    values = fresh_secrets(run.dashed)
    local_stack.write_secrets("demo", values)
    marker = uuid.uuid4().hex
    log = OUTPUT / "logs" / f"demo-{index}.log"
    if timed(run, "demo", lambda: make("demo", marker, log)) != 0:
        run.problems.append(f"make demo failed; see {log}")
    run.problems += leftovers(marker) + busy_ports("demo")
    return run


def summary(runs: list[Run]) -> dict[str, Any]:
    def spread(kind: str, step: str) -> dict[str, float] | None:
        values = [r.seconds[step] for r in runs if r.kind == kind and step in r.seconds]
        if not values:
            return None
        return {"median": round(statistics.median(values), 2), "max": max(values)}

    return {
        "port_base": os.environ.get("MW_PORT_BASE"),
        "cycles": sum(r.kind == "up/down" for r in runs),
        "demos": sum(r.kind == "demo" for r in runs),
        "failures": sum(bool(r.problems) for r in runs),
        "dashed_secrets": sum(r.dashed for r in runs),
        "seconds": {
            "up": spread("up/down", "up"),
            "down": spread("up/down", "down"),
            "demo": spread("demo", "demo"),
        },
        "runs": [asdict(r) for r in runs],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=20, help="make up / make down cycles")
    parser.add_argument("--demos", type=int, default=5, help="make demo runs")
    args = parser.parse_args(argv)
    for profile in ("dev", "demo"):
        if local_stack.stack_file(profile).exists():
            print(f"soak: a {profile} stack is running ({local_stack.stack_file(profile)}); stop it first")
            return 2
    runs: list[Run] = []
    for index in range(args.cycles):
        runs.append(up_down_cycle(index))
        report(runs[-1])
    for index in range(args.demos):
        runs.append(demo_run(index))
        report(runs[-1])
    figures = summary(runs)
    local_stack.write_private(OUTPUT / "figures.json", json.dumps(figures, indent=2))
    print(json.dumps({key: value for key, value in figures.items() if key != "runs"}, indent=2))
    return 1 if figures["failures"] else 0


def report(run: Run) -> None:
    outcome = "ok" if not run.problems else "FAILED: " + "; ".join(run.problems)
    timings = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in run.seconds.items())
    dashed = " (secrets start with '-')" if run.dashed else ""
    print(f"{run.kind} {run.index + 1}{dashed}: {timings}: {outcome}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
