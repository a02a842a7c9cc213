"""Configuration: settings from the environment, team rules from a YAML file. Imports domain and ports."""
