"""Integration events: vocabulary, v1 payloads, CloudEvents envelope and topic registry."""
