"""The one way an adapter or the capture refuses an authentic delivery: anything else it raises is a bug."""


class Refused(ValueError):
    """A signed, authentic delivery that cannot become a lead as it is: the message says why, naming the field.

    `kind` is one of a few words (a metric label and a filter for operators): unknown_shape, no_email,
    invalid_email, invalid_field, fetch_failed.
    """

    def __init__(self, message: str, *, kind: str = "unknown_shape") -> None:
        super().__init__(message)
        self.kind = kind
