"""Forecast: revenue projections from opportunity events, by month or quarter."""

SERVICE = "forecast"
