"""Domain records to and from store documents, one module per collection. Imports domain, ports, observability."""
