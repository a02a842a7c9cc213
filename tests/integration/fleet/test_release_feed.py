"""The SOFA feed adapter on the stand-in's static copy of the feed (GET /sofa/v1/...)."""

from __future__ import annotations

import pytest
import requests

from infra.fleet_server import RunningFleet
from maintenance_windows.adapters.sofa_feed import SofaFeed
from maintenance_windows.ports.os_releases import ReleasesUnavailable


def test_latest_macos_and_ios_come_from_the_feed_and_are_cached(fleet: RunningFleet) -> None:
    now = [0.0]
    feed = SofaFeed(fleet.url + "/sofa/v1/", ttl_seconds=60, monotonic=lambda: now[0])
    assert (feed.latest_version("darwin"), feed.latest_version("ipados"), feed.latest_version("ios")) == (
        "27.1",
        "27.1",
        "27.1",
    )
    assert feed.latest_version("windows") is None  # SOFA covers Apple only
    served = requests.get(fleet.url + "/sofa/v1/macos_data_feed.json", timeout=5).json()
    assert [entry["OSVersion"] for entry in served["OSVersions"]] == ["27", "Tahoe 26", "Sequoia 15"]
    assert requests.get(fleet.url + "/sofa/v1/other.json", timeout=5).status_code == 404


def test_an_unreachable_feed_is_unavailable_and_a_cached_answer_outlives_it(fleet: RunningFleet) -> None:
    with pytest.raises(ReleasesUnavailable):
        SofaFeed("http://127.0.0.1:9/sofa/v1/").latest_version("darwin")
    now = [0.0]
    feed = SofaFeed(fleet.url + "/sofa/v1/", ttl_seconds=60, monotonic=lambda: now[0])
    assert feed.latest_version("darwin") == "27.1"
    feed._base = "http://127.0.0.1:9/sofa/v1/"  # the feed goes away
    now[0] = 120.0
    assert feed.latest_version("darwin") == "27.1"
