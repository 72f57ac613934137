"""Qualifier: the lead stage machine, qualification decisions and the opportunity lifecycle."""

SERVICE = "qualifier"
