"""Integration tests against the local stack (emulators, functions, stand-ins). Import maintenance_windows,
infra and tests.support."""
