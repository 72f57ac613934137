"""Commands: what the service does when asked (by its API, the CLI or a schedule), each in one transaction."""
