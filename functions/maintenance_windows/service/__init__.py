"""Use cases, free of HTTP: plan, follow, dispatch, verify. Imports domain, ports, repository, config."""
