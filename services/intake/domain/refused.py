"""The one way an adapter or the capture refuses an authentic delivery: anything else it raises is a bug."""


class Refused(ValueError):
    """A signed, authentic delivery that cannot become a lead as it is: the message says why, naming the field."""
