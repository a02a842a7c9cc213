"""Pure domain rules: no I/O, no clock, no network. Imports nothing from outside domain/ (pydantic aside)."""
