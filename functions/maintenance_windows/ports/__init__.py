"""Small interfaces between handlers and the outside world; each has one adapter per technology."""
