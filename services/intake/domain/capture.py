"""Normalise a submission into a lead.captured payload: identity, company domain, source."""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from shared.events.models import Company, Contact, LeadCaptured, Source
from shared.events.vocabulary import ActivityType
from shared.ids import lead_id_for, normalise_email

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


@dataclass(frozen=True)
class Submission:
    """What a person told us, already mapped to leadflow's fields."""

    email: str
    provider: str
    occurred_at: datetime
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
    answers: dict[str, str] = field(default_factory=dict)


def email_domain(email: str) -> str:
    """The part after the @ of a normalised email."""
    return normalise_email(email).rpartition("@")[2]


def company_domain(email: str) -> str | None:
    """The employer's domain, or None for free-mail addresses."""
    domain = email_domain(email)
    return None if domain in FREE_MAIL_DOMAINS else domain


def to_captured(submission: Submission) -> LeadCaptured:
    """The lead.captured payload for a submission."""
    email = normalise_email(submission.email)
    lead_id: UUID = lead_id_for(email)
    return LeadCaptured(
        lead_id=lead_id,
        contact=Contact(
            email=email,
            first_name=_clean(submission.first_name),
            last_name=_clean(submission.last_name),
            phone=_clean(submission.phone),
            job_title=_clean(submission.job_title),
        ),
        company=Company(
            name=_clean(submission.company),
            domain=company_domain(email),
            size=_clean(submission.company_size),
            industry=_clean(submission.industry),
            country=_clean(submission.country),
        ),
        source=Source(
            provider=submission.provider,
            form_id=submission.form_id,
            utm_source=submission.utm_source,
            utm_medium=submission.utm_medium,
            utm_campaign=submission.utm_campaign,
        ),
        consent=submission.consent,
        answers={k: v for k, v in submission.answers.items() if v.strip()},
        via=submission.activity,
        free_mail=email_domain(email) in FREE_MAIL_DOMAINS,
        captured_at=submission.occurred_at,
    )


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = " ".join(value.split())
    return stripped or None
