"""Maintenance windows for Fleet: book each policy fix into its user's calendar at the least disruptive time."""
