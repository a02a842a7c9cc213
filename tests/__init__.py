"""The test suites: unit, integration, reliability, terraform, and their shared support. They may import
maintenance_windows, infra and tests.support."""
