"""Parsing Fleet's failing-policies webhook, over every real fixture and the shapes Fleet may send."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from maintenance_windows.domain.failing_policies import (
    MAX_CLOCK_SKEW,
    FailingPoliciesWebhook,
    HostSighting,
    sightings_of,
    timestamp_problem,
)

WEBHOOKS = ["failing_policies_webhook.json", "failing_policies_webhook_v4_48_era.json"]


def _load(fleet_fixtures: str, name: str) -> dict[str, Any]:
    with open(os.path.join(fleet_fixtures, name)) as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


@pytest.mark.parametrize("name", WEBHOOKS)
def test_every_fixture_parses_unchanged(fleet_fixtures: str, name: str) -> None:
    raw = _load(fleet_fixtures, name)
    payload = FailingPoliciesWebhook.model_validate(raw)
    assert payload.policy.id == raw["policy"]["id"]
    assert [host.id for host in payload.hosts] == [host["id"] for host in raw["hosts"]]
    # Go's nanosecond timestamp keeps its microseconds and its zone.
    assert payload.timestamp == datetime(2024, 6, 18, 13, 27, 18, 123456, tzinfo=UTC)


@pytest.mark.parametrize("name", WEBHOOKS)
def test_only_host_ids_the_policy_id_and_the_moment_are_kept(fleet_fixtures: str, name: str) -> None:
    payload = FailingPoliciesWebhook.model_validate(_load(fleet_fixtures, name))
    moment = datetime(2024, 6, 18, 13, 27, 18, 123456, tzinfo=UTC)
    assert sightings_of(payload) == [HostSighting(host.id, payload.policy.id, moment) for host in payload.hosts]


def test_unknown_fields_are_ignored_and_nulls_allowed(fleet_fixtures: str) -> None:
    raw = _load(fleet_fixtures, WEBHOOKS[0])
    raw["brand_new_field"] = {"x": 1}
    raw["policy"].update(description=None, resolution=None, platform=None, critical=None, future="y")
    raw["hosts"][0].update(display_name=None, hostname=None, url=None, extra=[1])
    payload = FailingPoliciesWebhook.model_validate(raw)
    assert [sighting.host_id for sighting in sightings_of(payload)] == [1, 2]


@pytest.mark.parametrize(
    ("ahead", "refused"),
    [
        (timedelta(0), False),
        (MAX_CLOCK_SKEW, False),
        (MAX_CLOCK_SKEW + timedelta(seconds=1), True),
        (timedelta(days=3_000_000), True),
    ],
)
def test_a_timestamp_beyond_the_clock_skew_is_refused(fleet_fixtures: str, ahead: timedelta, refused: bool) -> None:
    now = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    raw = _load(fleet_fixtures, WEBHOOKS[0])
    raw["timestamp"] = (now + ahead).isoformat() if ahead < timedelta(days=10) else "9999-12-31T23:59:59Z"
    problem = timestamp_problem(FailingPoliciesWebhook.model_validate(raw), now)
    assert (problem is not None) is refused
    assert problem is None or "in the future" in problem


def test_duplicate_hosts_in_one_payload_count_once(fleet_fixtures: str) -> None:
    raw = _load(fleet_fixtures, WEBHOOKS[0])
    raw["hosts"].append(dict(raw["hosts"][0]))
    assert len(sightings_of(FailingPoliciesWebhook.model_validate(raw))) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda raw: raw.pop("policy"), "policy"),
        (lambda raw: raw["policy"].pop("id"), "policy.id"),
        (lambda raw: raw["policy"].update(id="1"), "policy.id"),
        (lambda raw: raw["hosts"][0].update(id="one"), "hosts.0.id"),
        (lambda raw: raw.update(hosts={"id": 1}), "hosts"),
        (lambda raw: raw.update(timestamp="yesterday"), "timestamp"),
        (lambda raw: raw["policy"].update(critical="yes"), "policy.critical"),
        (lambda raw: raw["policy"].update(name=""), "policy.name"),
    ],
)
def test_wrong_shapes_name_the_field(fleet_fixtures: str, change: Any, field: str) -> None:
    raw = _load(fleet_fixtures, WEBHOOKS[0])
    change(raw)
    with pytest.raises(ValidationError) as raised:
        FailingPoliciesWebhook.model_validate(raw)
    assert field in {".".join(str(p) for p in error["loc"]) for error in raised.value.errors()}
