"""OsReleasesPort over the SOFA feed (sofa.macadmins.io), the MacAdmins' machine-readable list of Apple's
releases, built from Apple's own software-update catalogue (gdmf) and security pages.

    https://sofafeed.macadmins.io/v1/macos_data_feed.json   macOS
    https://sofafeed.macadmins.io/v1/ios_data_feed.json     iOS and iPadOS (Apple ships them together)

Shape (macadmins/sofa v1/macos_data_feed.json): {"UpdateHash", "OSVersions": [{"OSVersion": "Tahoe 26",
"Latest": {"ProductVersion", "Build", "ReleaseDate", "ExpirationDate", "SupportedDevices", ...},
"SecurityReleases": [...]}, ...]}, newest major first. "Latest" is the highest Latest.ProductVersion over
all OSVersions (not relying on the order). Each feed is cached for `ttl` (SOFA asks tools to cache and to
send a User-Agent); a failed refresh keeps serving the cached answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from maintenance_windows.domain.os_updates import version_tuple
from maintenance_windows.observability import get_logger, log
from maintenance_windows.ports.os_releases import ReleasesUnavailable

_logger = get_logger(__name__)
DEFAULT_URL = "https://sofafeed.macadmins.io/v1/"
FEEDS = {"darwin": "macos_data_feed.json", "ios": "ios_data_feed.json", "ipados": "ios_data_feed.json"}
USER_AGENT = "maintenance-windows/0.1 (+https://github.com/fleetdm/fleet calendar maintenance windows)"


def latest_in_feed(body: Any) -> str | None:
    """The highest Latest.ProductVersion of a SOFA feed body; None when it lists none."""
    versions: list[str] = []
    entries = body.get("OSVersions") if isinstance(body, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        latest = entry.get("Latest") if isinstance(entry, dict) else None
        version = latest.get("ProductVersion") if isinstance(latest, dict) else None
        if isinstance(version, str) and version_tuple(version):
            versions.append(version)
    return max(versions, key=version_tuple) if versions else None


class SofaFeed:
    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        ttl_seconds: float = 6 * 3600,
        timeout: tuple[float, float] = (3.05, 10.0),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/") + "/"
        self._ttl = ttl_seconds
        self._timeout = timeout
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})

    def latest_version(self, platform: str) -> str | None:
        feed = FEEDS.get(platform)
        if feed is None:
            return None
        with self._lock:
            cached = self._cache.get(feed)
            if cached is not None and self._monotonic() - cached[0] < self._ttl:
                return cached[1]
            try:
                version = latest_in_feed(self._fetch(feed))
            except (requests.RequestException, ValueError) as problem:
                log(_logger, logging.WARNING, "OS release feed unreadable", event="os_feed_unavailable", feed=feed,
                    error=type(problem).__name__)  # fmt: skip
                if cached is not None:
                    return cached[1]
                raise ReleasesUnavailable(f"{self._base}{feed}: {type(problem).__name__}") from problem
            self._cache[feed] = (self._monotonic(), version)
            return version

    def _fetch(self, feed: str) -> Any:
        response = self._session.get(self._base + feed, timeout=self._timeout)
        response.raise_for_status()
        return response.json()
