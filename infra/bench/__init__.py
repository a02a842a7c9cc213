"""Benchmarks (`make bench`): each runs beside a reference strategy in the same run; figures go to
.local/bench/*.json and docs/performance.md quotes them with the command. Imports maintenance_windows and infra."""
