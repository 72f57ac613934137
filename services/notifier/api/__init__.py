"""Notifier's api."""
