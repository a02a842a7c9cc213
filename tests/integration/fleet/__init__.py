"""The Fleet client against the Fleet stand-in, and the stand-in itself. Import maintenance_windows, infra and
tests.support."""
