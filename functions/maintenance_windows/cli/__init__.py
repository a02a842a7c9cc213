"""The `mw` admin command line. Imports config, adapters, repository, ports and domain."""
