"""infra/terraform_checks.py: terraform fmt and checkov, offline, on the real module and on known-bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra import terraform_checks

BADLY_FORMATTED = 'resource "google_storage_bucket" "b" {\nname = "x"\n    location="EU"\n}\n'


def test_module_is_formatted() -> None:
    result = terraform_checks.check_fmt()
    assert result.ok, result.details


def test_fmt_check_reports_an_unformatted_file(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(BADLY_FORMATTED)
    result = terraform_checks.check_fmt(tmp_path)
    assert not result.ok
    assert any(line.endswith("main.tf") for line in result.details)


def test_checkov_result_fails_on_a_skip_without_reason() -> None:
    report = {
        "summary": {"passed": 3, "failed": 0, "skipped": 1, "parsing_errors": 0},
        "results": {
            "failed_checks": [],
            "skipped_checks": [
                {
                    "check_id": "CKV_GCP_62",
                    "resource": "google_storage_bucket.b",
                    "check_result": {"result": "SKIPPED", "suppress_comment": "No comment provided"},
                }
            ],
        },
    }
    result = terraform_checks._checkov_result(report)
    assert not result.ok
    assert result.details == ["CKV_GCP_62 google_storage_bucket.b: skipped without a reason"]


def test_checkov_result_counts_failures_across_reports() -> None:
    failed = {
        "check_id": "CKV_GCP_29",
        "resource": "google_storage_bucket.b",
        "file_path": "/main.tf",
        "check_name": "uniform access",
    }
    reports: list[dict[str, Any]] = [
        {"summary": {"passed": 1, "failed": 1, "skipped": 0}, "results": {"failed_checks": [failed]}},
        {"summary": {"passed": 2, "failed": 0, "skipped": 0}, "results": {}},
    ]
    result = terraform_checks._checkov_result(reports)
    assert not result.ok
    assert result.summary.startswith("passed 3, failed 1")


@pytest.mark.timeout(600)  # the first run builds .venv-checkov
def test_module_passes_checkov_offline_with_every_skip_explained() -> None:
    result = terraform_checks.check_checkov()
    assert result.ok, result.details
