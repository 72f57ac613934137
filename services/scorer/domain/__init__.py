"""Scorer's pure domain: rules and the scoring arithmetic."""
