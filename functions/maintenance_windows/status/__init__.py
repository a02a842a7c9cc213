"""The admins' status page and chat alerts. Imports cli.host_view (the reasons `mw` shows), domain, ports,
repository, auth, config, observability and clock; Jinja2 is imported here only, so no other function pays
for it at cold start."""
