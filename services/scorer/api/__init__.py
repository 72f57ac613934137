"""Scorer's HTTP entry points."""
