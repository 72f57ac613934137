"""Forecast's HTTP entry points."""
