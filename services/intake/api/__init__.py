"""Intake's HTTP entry points."""
