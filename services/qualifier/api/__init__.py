"""Qualifier's HTTP entry points."""
