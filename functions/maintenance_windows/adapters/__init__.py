"""One adapter per port and technology, and memory_* doubles. Imports ports, domain, config, observability, clock."""
