"""Intake's pure domain: signature schemes and normalisation of submissions."""
