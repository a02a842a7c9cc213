"""The OS-releases port: the newest public version of an operating system ("latest" in the team rules)."""

from __future__ import annotations

from typing import Protocol


class ReleasesUnavailable(Exception):
    """The feed could not be read and nothing usable is cached; the caller goes on without a version."""


class OsReleasesPort(Protocol):
    def latest_version(self, platform: str) -> str | None:
        """The newest release for a Fleet platform (darwin, ios, ipados), e.g. "27.1"; None when the feed
        does not cover the platform. Raises ReleasesUnavailable."""
        ...
