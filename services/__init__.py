"""The four leadflow services, the embedded run mode and the `leadflow` CLI."""
