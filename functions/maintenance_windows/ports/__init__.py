"""Interfaces to the outside world (typing.Protocol), one per dependency. Imports only domain/."""
