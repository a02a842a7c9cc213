"""HTTP handlers: check the caller and input, run a use case, map its outcome. Imports service, domain, ports."""
