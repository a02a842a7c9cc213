"""Duplicates, faults, fuzzing and authentication on the local stack (docs/reliability.md). Import
maintenance_windows, infra and tests.support."""
