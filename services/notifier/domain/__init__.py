"""Notifier's domain."""
