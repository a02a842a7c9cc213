"""The `mw` admin command line. Imports config, adapters, repository and domain."""
