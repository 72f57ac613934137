"""Scorer's tables and repositories."""
