"""The Calendar adapter against the Calendar stand-in, and the stand-in itself. Import maintenance_windows,
infra and tests.support."""
