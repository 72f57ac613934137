"""Intake's tables and repositories."""
