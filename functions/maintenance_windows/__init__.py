"""Maintenance windows for Fleet: book each policy fix into its user's calendar at the least disruptive time.

Each package's __init__ says what it may import (tests/unit/test_architecture.py holds them to it); only
wiring.py imports everything.
"""
