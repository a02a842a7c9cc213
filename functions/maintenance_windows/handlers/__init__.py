"""HTTP handlers: check the caller and input, run one use case, map its outcome. Imports service, domain, ports,
auth, config, observability."""
