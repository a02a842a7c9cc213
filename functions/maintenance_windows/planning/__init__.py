"""Leases: exclusive, expiring ownership of a piece of work in the store. Imports domain and ports."""
