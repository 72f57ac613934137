"""Request and response bodies of intake's HTTP API."""

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.intake.domain.capture import Submission
from shared.email import Email
from shared.events.vocabulary import ActivityType


class LeadIn(BaseModel):
    """A lead in leadflow's own normalised shape."""

    model_config = ConfigDict(
        extra="ignore",
        str_max_length=2000,
        json_schema_extra={
            "examples": [
                {
                    "email": "ada.lovelace@analytical-engines.example",
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "job_title": "VP Engineering",
                    "company": "Analytical Engines Ltd",
                    "company_size": "201-500",
                    "industry": "Software",
                    "country": "United Kingdom",
                    "consent": True,
                    "utm_source": "google",
                    "utm_medium": "cpc",
                    "utm_campaign": "q4-pipeline",
                    "answers": {"timeline": "this quarter", "pain": "leads lost between marketing and sales"},
                }
            ]
        },
    )

    email: Email
    first_name: str | None = Field(None, max_length=200)
    last_name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=50)
    job_title: str | None = Field(None, max_length=200)
    company: str | None = Field(None, max_length=300)
    company_size: str | None = Field(None, max_length=50)
    industry: str | None = Field(None, max_length=200)
    country: str | None = Field(None, max_length=100)
    consent: bool | None = None
    form_id: str | None = Field(None, max_length=200)
    utm_source: str | None = Field(None, max_length=200)
    utm_medium: str | None = Field(None, max_length=200)
    utm_campaign: str | None = Field(None, max_length=200)
    activity: ActivityType = ActivityType.FORM_SUBMITTED
    occurred_at: datetime | None = Field(None, description="when the person submitted; defaults to now")
    answers: dict[str, str] = Field(default_factory=dict, description="free-text answers, kept for qualification")

    def to_submission(self, provider: str) -> Submission:
        """The domain's view of this request."""
        occurred = self.occurred_at or datetime.now(UTC)
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
        return Submission(
            email=str(self.email),
            provider=provider,
            occurred_at=occurred,
            first_name=self.first_name,
            last_name=self.last_name,
            phone=self.phone,
            job_title=self.job_title,
            company=self.company,
            company_size=self.company_size,
            industry=self.industry,
            country=self.country,
            consent=self.consent,
            form_id=self.form_id,
            utm_source=self.utm_source,
            utm_medium=self.utm_medium,
            utm_campaign=self.utm_campaign,
            activity=self.activity,
            answers=dict(self.answers),
        )


class GenericWebhook(BaseModel):
    """A Standard Webhooks delivery from any JSON source: `data` holds the lead."""

    model_config = ConfigDict(extra="ignore")

    type: str = "lead.submitted"
    timestamp: datetime | None = None
    data: LeadIn


class CaptureAccepted(BaseModel):
    """The answer to an accepted delivery; a retry gets the original ids with duplicate=true.

    event_id and lead_id are null when the delivery carried no lead yet (a webinar join, a Meta lead that is
    fetched afterwards: `pending` counts those).
    """

    event_id: str | None
    lead_id: str | None
    duplicate: bool
    pending: int = 0
    quarantined: bool = Field(
        False, description="authentic but not a lead yet: kept to be fixed and replayed (GET /v1/quarantine)"
    )
    quarantine_id: int | None = None
    reason: str | None = Field(None, description="why a quarantined delivery could not become a lead")
