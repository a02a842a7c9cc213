"""Everything that runs the system off Google Cloud: the local stack and its stand-in servers. Imports
maintenance_windows (never the other way round)."""
