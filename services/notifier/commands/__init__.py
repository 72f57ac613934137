"""Notifier's commands."""
