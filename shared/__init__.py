"""leadflow's shared contract and plumbing: events, messaging, database, settings, HTTP, observability."""
