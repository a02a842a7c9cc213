"""The running local stack, seen from /proc: no secret on any command line, each where it belongs, and
every port listening on loopback only."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.stack


@dataclass(frozen=True)
class Process:
    pid: int
    session: int
    cmdline: bytes


def all_processes() -> list[Process]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        # After the command name in parentheses: state, ppid, pgrp, session, ...
        fields = stat.rsplit(")", 1)[1].split()
        found.append(Process(int(entry.name), int(fields[3]), cmdline))
    return found


def stack_processes(stack: dict[str, Any]) -> list[Process]:
    """Every component leads its own session; its workers stay in it."""
    sessions = {started["pid"] for started in stack["processes"]}
    return [process for process in all_processes() if process.session in sessions]


def test_no_secret_appears_on_any_command_line(stack: dict[str, Any]) -> None:
    ours = stack_processes(stack)
    assert {p.pid for p in ours} >= {started["pid"] for started in stack["processes"]}, "a component is not running"
    everyone = all_processes()
    for name, secret in stack["secrets"].items():
        assert len(secret) >= 32
        shown = [p.pid for p in everyone if secret.encode() in p.cmdline]
        assert shown == [], f"secret {name!r} is on the command line of {shown}"


def test_the_secrets_travel_in_the_environment_of_the_processes_that_need_them(stack: dict[str, Any]) -> None:
    leaders = {started["name"]: started["pid"] for started in stack["processes"]}
    if "fleet" not in leaders or "dispatch_window" not in leaders:
        pytest.skip("this stack runs without Fleet or dispatch_window")
    token = stack["secrets"]["fleet_api_token"]
    fleet = Path(f"/proc/{leaders['fleet']}/environ").read_bytes().split(b"\0")
    dispatch = Path(f"/proc/{leaders['dispatch_window']}/environ").read_bytes().split(b"\0")
    assert f"FLEET_SERVER_TOKEN={token}".encode() in fleet
    assert f"MW_FLEET_API_TOKEN={token}".encode() in dispatch
    assert not any(entry.startswith(b"MW_WEBHOOK_SECRETS=") for entry in fleet), "Fleet got the webhook secret"


def listening_addresses() -> dict[int, set[str]]:
    """Port → the local addresses of its listening TCP sockets, IPv4 and IPv6 (/proc/net/tcp{,6})."""
    found: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            found.setdefault(int(port, 16), set()).add(_address(address))
    return found


def _address(hex_address: str) -> str:
    """/proc/net prints each 32-bit word of the address in host (little-endian) byte order."""
    raw = b"".join(bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, len(hex_address), 8))
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def test_every_port_of_the_stack_listens_on_loopback_only(stack: dict[str, Any]) -> None:
    listening = listening_addresses()
    for started in stack["processes"]:
        if started["port"] is None:
            continue
        addresses = listening.get(started["port"], set())
        assert addresses, f"{started['name']} does not listen on port {started['port']}"
        assert all(ipaddress.ip_address(a).is_loopback for a in addresses), (
            f"{started['name']} listens on {sorted(addresses)}, port {started['port']}"
        )
