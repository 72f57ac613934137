"""Normalise a submission into lead events: identity, company domain, source, activity."""

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from pydantic_core import PydanticCustomError

from services.intake.domain.identity import MatchRules, configured, derived_id, email_key, external_key
from services.intake.domain.refused import Refused
from shared.email import checked_email
from shared.events.models import Company, Contact, LeadActivity, LeadCaptured, LeadOutcomeRecorded, Source
from shared.events.vocabulary import ActivityType
from shared.ids import normalise_email

# Addresses at these domains say nothing about the employer.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "hotmail.com",
        "hotmail.co.uk",
        "outlook.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.ru",
        "yandex.com",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "tutanota.com",
    }
)


class SubmissionError(Refused):
    """A submission that cannot become a lead; the message says what to fix."""


# The longest value each lead field may have: the columns that keep it downstream (intake's, the scorer's and the
# qualifier's tables). Longer was a database error, a 500 on every retry of the delivery until the provider
# gave up: the lead was lost. Checked here, it is refused by name (a webhook's delivery waits in quarantine).
FIELD_LIMITS = {
    "first_name": 200,
    "last_name": 200,
    "job_title": 200,
    "company": 300,
    "company_size": 50,
    "industry": 200,
    "country": 100,
    "phone": 50,
    "external_id": 200,
    "form_id": 200,
    "utm_source": 200,
    "utm_medium": 200,
    "utm_campaign": 200,
}


@dataclass(frozen=True)
class Submission:
    """What a person told us (or did), already mapped to leadflow's fields."""

    provider: str
    occurred_at: datetime
    email: str | None = None
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    job_title: str | None = None
    company: str | None = None
    company_size: str | None = None
    industry: str | None = None
    country: str | None = None
    consent: bool | None = None
    form_id: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    activity: ActivityType = ActivityType.FORM_SUBMITTED
    minutes: float | None = None
    # Attendance and the like: something a person did, not something they told us.
    engagement_only: bool = False
    outcome: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    # How addresses are matched (the rules file's intake.identity), and the lead the capture resolved it to
    # (a link from an earlier join or merge); neither is something the person told us.
    match: MatchRules = field(default_factory=configured, compare=False, repr=False)
    resolved: UUID | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # NUL is not text to PostgreSQL (a 500 on every retry, found by the API fuzz test); it carries nothing.
        for name, value in self.__dict__.items():
            if isinstance(value, str) and "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", ""))
        if any("\x00" in k or "\x00" in v for k, v in self.answers.items()):
            clean = {k.replace("\x00", ""): v.replace("\x00", "") for k, v in self.answers.items()}
            object.__setattr__(self, "answers", clean)
        if not self.email and not self.external_id:
            raise SubmissionError(
                "no email in the submission: map a question to `email` (rules file, intake.forms)", kind="no_email"
            )
        if self.email:
            if not isinstance(self.email, str):
                raise SubmissionError(f"email must be text, not {type(self.email).__name__}", kind="invalid_email")
            try:
                address = checked_email(self.email.strip())
            except PydanticCustomError as exc:
                raise SubmissionError(f"email {self.email!r} is not a valid address", kind="invalid_email") from exc
            object.__setattr__(self, "email", normalise_email(address))
        for name, limit in FIELD_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, str) and len(value.strip()) > limit:
                raise SubmissionError(
                    f"{name} is {len(value.strip())} characters; at most {limit} are kept", kind="invalid_field"
                )
        if self.outcome not in (None, "won", "lost"):
            raise SubmissionError(f"outcome must be won or lost, not {self.outcome!r}", kind="invalid_field")

    @cached_property
    def lead_id(self) -> UUID:
        """The lead the capture resolved; else derived from the email's match key or, for email-less imports,
        from the source's own id (derived once: the profile, the events and the delivery record all ask)."""
        if self.resolved is not None:
            return self.resolved
        return derived_id(self.email_key or self.external_key or "")

    @property
    def email_key(self) -> str | None:
        """The identity key of the address (see domain/identity.py)."""
        return email_key(self.email, self.match) if self.email else None

    @property
    def external_key(self) -> str | None:
        """The identity key of the source's own id."""
        return external_key(self.provider, self.external_id) if self.external_id else None


def submission(fields: dict[str, Any], **context: Any) -> Submission:
    """A Submission from mapped fields plus what the adapter knows (provider, time, form, activity)."""
    known = {k: v for k, v in fields.items() if k in Submission.__dataclass_fields__}
    return Submission(**(known | context))


def email_domain(email: str) -> str:
    """The part after the @ of a normalised email."""
    return normalise_email(email).rpartition("@")[2]


def company_domain(email: str | None) -> str | None:
    """The employer's domain, or None for free-mail addresses (and for leads without an email)."""
    if not email:
        return None
    domain = email_domain(email)
    return None if domain in FREE_MAIL_DOMAINS else domain


def source_of(s: Submission) -> Source:
    """Where the submission came from."""
    return Source(
        provider=s.provider,
        form_id=s.form_id,
        utm_source=s.utm_source,
        utm_medium=s.utm_medium,
        utm_campaign=s.utm_campaign,
    )


def to_captured(s: Submission) -> LeadCaptured:
    """The lead.captured payload for a submission."""
    return LeadCaptured(
        lead_id=s.lead_id,
        contact=Contact(
            email=s.email,
            first_name=_clean(s.first_name),
            last_name=_clean(s.last_name),
            phone=_clean(s.phone),
            job_title=_clean(s.job_title),
        ),
        company=Company(
            name=_clean(s.company),
            domain=company_domain(s.email),
            size=_clean(s.company_size),
            industry=_clean(s.industry),
            country=_clean(s.country),
        ),
        source=source_of(s),
        consent=s.consent,
        answers={k: v for k, v in s.answers.items() if v.strip()},
        via=s.activity,
        free_mail=bool(s.email) and email_domain(s.email or "") in FREE_MAIL_DOMAINS,
        external_id=s.external_id,
        captured_at=s.occurred_at,
    )


def to_activity(s: Submission) -> LeadActivity:
    """The lead.activity payload for an engagement of a known lead."""
    return LeadActivity(
        lead_id=s.lead_id,
        activity_type=s.activity,
        occurred_at=s.occurred_at,
        minutes=s.minutes,
        source=source_of(s),
        details={k: v for k, v in s.answers.items() if v.strip()},
    )


def to_outcome(s: Submission) -> LeadOutcomeRecorded | None:
    """The historical outcome carried by an imported row, if any."""
    if s.outcome is None:
        return None
    outcome = "won" if s.outcome == "won" else "lost"
    return LeadOutcomeRecorded(lead_id=s.lead_id, outcome=outcome, source=source_of(s), recorded_at=s.occurred_at)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = " ".join(str(value).split())
    return stripped or None
