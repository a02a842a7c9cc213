"""A stand-in for Slack's and Google Chat's incoming webhooks that records what it is sent (docs/status-page.md)."""
