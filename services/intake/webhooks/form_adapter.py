"""What most provider adapters share: their secret, the field mapping, a JSON body."""

from services.intake.domain.mapping import FieldMapping


class FormAdapter:
    """An adapter for a provider that posts signed form answers."""

    name = "form"
    content_types: tuple[str, ...] = ("application/json",)

    def __init__(self, secret: str | None, mapping: FieldMapping) -> None:
        self.secret = secret
        self._mapping = mapping

    @property
    def key(self) -> str:
        """The configured secret; the route answers 503 before verify() when there is none."""
        assert self.secret is not None
        return self.secret
