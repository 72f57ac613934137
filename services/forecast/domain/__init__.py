"""Forecast's pure domain: periods and the roll-up of opportunities into forecast lines."""
