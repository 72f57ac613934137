"""HTTP plumbing shared by the services: problem+json errors, bearer auth, health and metrics routes."""
