"""Intake: webhook receivers and direct capture; turns submissions into lead events via the outbox."""

SERVICE = "intake"
