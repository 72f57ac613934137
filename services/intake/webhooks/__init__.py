"""Provider adapters: verify a delivery, name its delivery id, map its payload to a Submission."""
