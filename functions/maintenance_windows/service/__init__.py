"""Use cases, free of HTTP: ingest, plan, follow, dispatch, verify. Imports domain, ports, repository, config,
auth, observability, clock."""
