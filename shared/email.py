"""Email addresses checked as email_validator does, cheaply for the common case.

A full RFC check (email_validator, through pydantic) is costly, and every service validates each lead's address
when it decodes lead.captured. Addresses that are plain
lower-case ASCII (how intake normalises them) take a strict fast path that accepts only a subset of what
email_validator accepts and returns them unchanged, as it would; anything else gets the full check, cached
per process. A property test holds the fast path to email_validator's answers.
"""

import re
from functools import lru_cache
from typing import Annotated

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import AfterValidator, Field, validate_email

_LOCAL = r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN = re.compile(rf"({_LOCAL})@((?:{_LABEL}\.)+([a-z]{{2,63}}))")
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def checked_email(value: str) -> str:
    """The address in email_validator's normalised form; raises PydanticCustomError for an invalid one."""
    match = _PLAIN.fullmatch(value)
    if (
        match is not None
        and len(match.group(1)) <= 64
        and len(value) <= 254
        and "--" not in match.group(2)  # IDNA ("xn--") labels are normalised to Unicode: the full check does that
        and match.group(3) not in _SPECIAL_USE
    ):
        return value
    return _fully_checked(value)


@lru_cache(maxsize=16384)
def _fully_checked(value: str) -> str:
    # Only valid addresses are cached (an exception is not), so junk input cannot crowd out real leads.
    return validate_email(value)[1]


# Same validation and JSON schema as pydantic's EmailStr, without paying for it again and again.
Email = Annotated[str, AfterValidator(checked_email), Field(json_schema_extra={"format": "email"})]
