"""Scorer: fit and engagement scores with decay, segments and MQL crossings, each with its reasons."""

SERVICE = "scorer"
