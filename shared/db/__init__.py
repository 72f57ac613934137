"""Database plumbing: engines per service, metadata conventions, migrations, the unit of work."""
