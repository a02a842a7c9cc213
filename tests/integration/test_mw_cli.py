"""`mw` against the running stack as against a deployed project: --project reads Firestore with no stack file,
and `mw check` runs its Fleet and Google checks wherever Fleet is configured (the local stack included)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from infra import stack as local_stack
from maintenance_windows.adapters.firestore_store import FirestoreStore
from maintenance_windows.adapters.memory_tasks import MemoryTaskQueue
from maintenance_windows.cli.main import main as mw
from maintenance_windows.domain.failing_policies import FailingPoliciesWebhook
from maintenance_windows.service.ingestion import IngestionContext, ingest
from tests.support.world import MONDAY, webhook_payload

pytestmark = pytest.mark.stack


def stack_file() -> str:
    return os.environ.get("MW_STACK_FILE") or str(local_stack.stack_file("test"))


def test_mw_project_reads_the_emulator_from_a_folder_with_no_stack_file(
    stack: dict[str, Any],
    store: FirestoreStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ctx = IngestionContext(store, MemoryTaskQueue(), lambda: MONDAY)  # the webhook arrives on that Monday
    ingest(ctx, FailingPoliciesWebhook.model_validate(webhook_payload(7, [4101, 4102], MONDAY)))
    monkeypatch.chdir(tmp_path)
    for name in ("MW_STACK_FILE", "MW_PROJECT", "MW_FIRESTORE_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", stack["firestore_emulator_host"])
    capsys.readouterr()
    assert mw(["--project", stack["project"], "hosts", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["host_id"], row["failing_policies"]) for row in rows] == [(4101, [7]), (4102, [7])]
    assert mw(["hosts"]) == 2  # no --project, no MW_PROJECT, no stack file
    assert "--project PROJECT" in capsys.readouterr().err
    monkeypatch.setenv("MW_PROJECT", stack["project"])
    assert mw(["host", "4101", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["why"] == "waiting for the next plan"


def test_mw_check_runs_the_fleet_checks_on_the_local_stack(
    stack: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MW_STACK_FILE", stack_file())
    capsys.readouterr()
    assert mw(["check", "--json"]) == 0, capsys.readouterr()
    report = json.loads(capsys.readouterr().out)
    assert report["source"] == stack["team_config"]
    assert not any("not checked" in w["message"] for w in report["warnings"])
    wrong = tmp_path / "team.yaml"
    wrong.write_text("defaults:\n  actions:\n    - policy_id: 999999\n      actions: [{type: refetch}]\n")
    assert mw(["check", "--config", str(wrong)]) == 1
    assert "defaults.actions[0].policy_id: policy 999999 does not exist for hosts in no team" in capsys.readouterr().out
    assert mw(["check", "--offline", "--config", str(wrong)]) == 0
