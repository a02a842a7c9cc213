"""Parsing Fleet's failing-policies webhook, over every real fixture and the shapes Fleet may send."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from maintenance_windows.domain.failing_policies import FailingPoliciesWebhook, sightings_of, snapshot_of

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


def test_current_shape_snapshot(fleet_fixtures: str) -> None:
    payload = FailingPoliciesWebhook.model_validate(_load(fleet_fixtures, WEBHOOKS[0]))
    snapshot = snapshot_of(payload)
    assert (snapshot.name, snapshot.platform, snapshot.critical, snapshot.team_id) == ("policy1", "darwin", True, None)
    assert snapshot.description == "policy1 description"
    assert snapshot.resolution == "policy1 resolution"
    assert [s.host_id for s in sightings_of(payload)] == [1, 2]
    assert sightings_of(payload)[0].display_name == "display1"


def test_old_shape_carries_team(fleet_fixtures: str) -> None:
    snapshot = snapshot_of(FailingPoliciesWebhook.model_validate(_load(fleet_fixtures, WEBHOOKS[1])))
    assert snapshot.team_id == 1
    assert snapshot.calendar_events_enabled is True


def test_fleet_id_stands_in_for_team_id(fleet_fixtures: str) -> None:
    raw = _load(fleet_fixtures, WEBHOOKS[0])
    raw["policy"]["fleet_id"] = 7
    assert snapshot_of(FailingPoliciesWebhook.model_validate(raw)).team_id == 7


def test_unknown_fields_are_ignored_and_nulls_allowed(fleet_fixtures: str) -> None:
    raw = _load(fleet_fixtures, WEBHOOKS[0])
    raw["brand_new_field"] = {"x": 1}
    raw["policy"].update(description=None, resolution=None, platform=None, critical=None, future="y")
    raw["hosts"][0].update(display_name=None, hostname=None, url=None, extra=[1])
    payload = FailingPoliciesWebhook.model_validate(raw)
    snapshot = snapshot_of(payload)
    assert (snapshot.description, snapshot.platform, snapshot.critical) == ("", "", False)
    assert sightings_of(payload)[0].display_name == "host 1"


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
