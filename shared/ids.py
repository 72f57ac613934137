"""Lead identity: every service derives the same lead_id from an email without asking another."""

import hashlib
import hmac
import uuid
from typing import NewType

# A lead's id past the event boundary: the canonical text of its UUID (events carry the UUID itself, tables and
# partition keys the text). Made only by `as_lead_id`, so what a function takes as a LeadId is one of them.
LeadId = NewType("LeadId", str)


def as_lead_id(value: uuid.UUID | str) -> LeadId:
    """The LeadId of a UUID or of its text (any case); ValueError for anything else."""
    return LeadId(str(value if isinstance(value, uuid.UUID) else uuid.UUID(value)))


# Fixed forever: changing it would split every existing lead in two.
LEAD_NAMESPACE = uuid.UUID("6f1c1d2e-93a4-5b8e-9a51-4c1e0b7f2a10")


def normalise_email(email: str) -> str:
    """Lower-case and trim an email the way every service must before deriving an id."""
    return email.strip().lower()


def lead_id_for(email: str) -> uuid.UUID:
    """UUIDv5 of the normalised email in the leadflow namespace."""
    normalised = normalise_email(email)
    if not normalised:
        raise ValueError("an email is required to derive a lead_id")
    return uuid.uuid5(LEAD_NAMESPACE, normalised)


def lead_id_for_external(source: str, external_id: str) -> uuid.UUID:
    """A stable id for a lead known only by a source system's id (no email, nothing invented)."""
    return uuid.uuid5(LEAD_NAMESPACE, f"external:{source.strip().lower()}:{external_id.strip()}")


def keyed_lead_id(secret: bytes, identity_key: str) -> uuid.UUID:
    """The lead id of an identity key (`email:<match key>`, `external:<source>:<id>`) under an installation's
    secret: an HMAC, so whoever sees ids (in logs, in events) cannot tell whether a known address is among them,
    as they can with the UUIDv5 of a public namespace."""
    digest = hmac.new(secret, identity_key.encode(), hashlib.sha256).digest()
    return uuid.UUID(bytes=digest[:16], version=4)
