"""Checks of terraform/: its configuration read as HCL, and the static checkers. Import infra and tests.support."""
