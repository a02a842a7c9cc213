"""Push notifications (web_hook channels), delivered off the request thread like Google does.

A scheduler thread holds messages until they are due (admin-injected delay), then hands them to a
small pool of senders. Each message is a bodiless POST with the X-Goog-* headers.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate

import requests

from infra.calendar_server.store import Notification

DELIVERY_TIMEOUT_SECONDS = 2.0
_SENDERS = 4


@dataclass
class PushSettings:
    duplicates: int = 1  # each message is sent this many times (Google may deliver more than once)
    delay_ms: int = 0


@dataclass
class PushCounters:
    sent: int = 0
    failed: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


class Notifier:
    def __init__(self, settings: PushSettings | None = None) -> None:
        self.settings = settings or PushSettings()
        self.counters = PushCounters()
        self._queue: list[tuple[float, int, Notification]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._closed = False
        self._delivering = 0
        self._pool = ThreadPoolExecutor(max_workers=_SENDERS, thread_name_prefix="calendar-push")
        # requests.Session is not documented as thread-safe: one per sender thread.
        self._sessions = threading.local()
        self._scheduler = threading.Thread(target=self._run, name="calendar-push-scheduler", daemon=True)
        self._scheduler.start()

    def enqueue(self, notification: Notification) -> None:
        """Called under the store's lock: only queues, never sends."""
        due = time.monotonic() + self.settings.delay_ms / 1000
        with self._condition:
            for _ in range(max(1, self.settings.duplicates)):
                heapq.heappush(self._queue, (due, next(self._order), notification))
            self._condition.notify()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._scheduler.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def idle(self) -> bool:
        with self._condition:
            return not self._queue

    def in_flight(self) -> int:
        """Notifications queued or being delivered (a delivery lasts as long as the receiver's answer)."""
        with self._condition:
            return len(self._queue) + self._delivering

    def discard_queued(self) -> None:
        """Drop what is not sent yet: after a reset its channels no longer exist."""
        with self._condition:
            self._queue.clear()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (not self._queue or self._queue[0][0] > time.monotonic()):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._condition.wait(timeout=wait)
                if self._closed:
                    return
                _, _, notification = heapq.heappop(self._queue)
                self._delivering += 1
            self._pool.submit(self._deliver, notification)

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        return session

    def _deliver(self, notification: Notification) -> None:
        headers = {
            "X-Goog-Channel-ID": notification.channel_id,
            "X-Goog-Resource-ID": notification.resource_id,
            "X-Goog-Resource-URI": notification.resource_uri,
            "X-Goog-Resource-State": notification.state,
            "X-Goog-Message-Number": str(notification.message_number),
            "X-Goog-Channel-Expiration": formatdate(notification.expiration_ms / 1000, usegmt=True),
        }
        if notification.token is not None:
            headers["X-Goog-Channel-Token"] = notification.token
        try:
            response = self._session().post(notification.address, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS)
            delivered = response.status_code < 300
        except requests.RequestException:
            delivered = False
        with self._condition:
            self._delivering -= 1
            if delivered:
                self.counters.sent += 1
                self.counters.by_state[notification.state] = self.counters.by_state.get(notification.state, 0) + 1
            else:
                self.counters.failed += 1
