"""Unit tests: in process, on the memory doubles and in-process stand-ins, no stack. Import maintenance_windows,
infra and tests.support."""
