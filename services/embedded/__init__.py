"""The embedded run mode: a local broker, a SQLite file per service, the four services in child processes."""
