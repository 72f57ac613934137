"""The console's HTML pages."""
