"""Forecast's tables and repositories."""
