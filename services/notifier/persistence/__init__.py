"""Notifier's persistence."""
