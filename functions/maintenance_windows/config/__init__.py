"""Configuration: process settings from the environment, team rules from a YAML file."""
