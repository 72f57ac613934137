"""The console: pages for the people who work the leads, composed from the services' own APIs."""
