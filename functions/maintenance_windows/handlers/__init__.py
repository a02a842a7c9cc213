"""Use cases: take a request, call the domain through ports, return a result."""
