"""A stand-in for Identity-Aware Proxy in front of the status page: sign-in, allowed admins, signed header."""
