"""Helpers shared by the test suites."""

from pathlib import Path

#: Fleet's real payloads, kept beside the repository (../shared) in every checkout and in CI.
FLEET_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "fleet"
