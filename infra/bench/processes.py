"""Stand-in servers as separate processes, so a benchmark's client and server do not share one GIL."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from infra.ports import wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(command: list[str], port: int, log_name: str, env: dict[str, str] | None = None) -> Iterator[str]:
    logs = ROOT / ".local" / "bench" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{log_name}.log", "ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        if not wait_for_port(port, 30):
            raise RuntimeError(f"{log_name} did not start; see {logs / (log_name + '.log')}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def progress(message: str) -> None:
    print(f"  … {message}", flush=True)
