"""The console's JSON routes."""
