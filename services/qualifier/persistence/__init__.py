"""Qualifier's tables and repositories."""
