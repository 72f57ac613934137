"""Qualifier's pure domain: stage machine, stage decisions, opportunities."""
