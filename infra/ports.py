"""Loopback ports for the local stack, per profile, overridable from the environment."""

from __future__ import annotations

import os
import socket

COMPONENT_OFFSETS = {
    "firestore": 0,
    "tasks": 1,
    "oidc": 2,
    "fleet": 3,
    "calendar": 4,
    "gemini": 5,
    "tasks_relay": 6,
    "iap": 7,
    "chat": 8,
    "graph": 9,
    "fleet_webhook": 10,
    "plan_windows": 11,
    "calendar_notifications": 12,
    "dispatch_window": 13,
    "status_page": 14,
    "caldav": 15,
}

PROFILE_BASES = {"dev": 8500, "test": 18500, "demo": 28500, "bench": 38500, "reliability": 48500}


class PortInUse(RuntimeError):
    pass


def port_for(profile: str, component: str) -> int:
    """MW_PORT_<COMPONENT> wins, then MW_PORT_BASE + offset, then the profile's base + offset."""
    explicit = os.environ.get(f"MW_PORT_{component.upper()}")
    if explicit:
        return int(explicit)
    base = int(os.environ.get("MW_PORT_BASE", PROFILE_BASES[profile]))
    return base + COMPONENT_OFFSETS[component]


def ensure_free(port: int, component: str) -> None:
    # Everything the stack starts listens on 127.0.0.1 only (the emulators too: infra/firestore/server.js,
    # infra/tasks_emulator.py). The probe binds the wildcard address all the same, so it also sees a
    # listener on 0.0.0.0 or [::] (an emulator started by hand, say), which holds the port on loopback too.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            raise PortInUse(
                f"port {port} for {component} is already in use; stop what holds it "
                f"(`make down`, or `ss -ltnp 'sport = :{port}'`) or set MW_PORT_{component.upper()} "
                f"or MW_PORT_BASE"
            ) from None


def port_answers(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_answers(port):
            return True
        time.sleep(0.05)
    return False
