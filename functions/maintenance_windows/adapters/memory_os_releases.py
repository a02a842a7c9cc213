"""OsReleasesPort in memory: the newest version per platform, set by the test; `fail_next` for an outage."""

from __future__ import annotations

from collections.abc import Mapping

from maintenance_windows.ports.os_releases import ReleasesUnavailable


class MemoryOsReleases:
    def __init__(self, versions: Mapping[str, str] | None = None) -> None:
        self.versions = dict(versions or {})
        self.calls = 0
        self._failures = 0

    def fail_next(self, times: int = 1) -> None:
        self._failures += times

    def latest_version(self, platform: str) -> str | None:
        self.calls += 1
        if self._failures:
            self._failures -= 1
            raise ReleasesUnavailable("the release feed is unreachable")
        return self.versions.get("ios" if platform == "ipados" and "ipados" not in self.versions else platform)
