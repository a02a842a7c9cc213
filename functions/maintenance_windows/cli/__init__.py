"""The `mw` admin command line."""
