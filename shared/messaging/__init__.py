"""Messaging on aiokafka: broker connection, outbox relay, consumer loop with inbox and dead letters."""
