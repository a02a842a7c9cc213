"""A werkzeug test client for the stand-ins' WSGI apps."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client, TestResponse


class LoopbackClient(Client):
    """Requests come from 127.0.0.1, as the local stack's do (the admin APIs answer loopback only)."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs["environ_base"] = {"REMOTE_ADDR": "127.0.0.1", **(kwargs.get("environ_base") or {})}
        return super().open(*args, **kwargs)
