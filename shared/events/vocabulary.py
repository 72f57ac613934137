"""The domain words every service agrees on (DESIGN.md section 1)."""

from enum import StrEnum


class LeadStage(StrEnum):
    """Where a lead stands in the funnel."""

    LEAD = "lead"
    MQL = "mql"
    PROSPECT = "prospect"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    NURTURE = "nurture"
    DISQUALIFIED = "disqualified"
    CLOSED_LOST = "closed_lost"


class Segment(StrEnum):
    """Priority band a lead's scores put it in."""

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


class ActivityType(StrEnum):
    """One kind of engagement a lead can show."""

    FORM_SUBMITTED = "form_submitted"
    WEBINAR_REGISTERED = "webinar_registered"
    WEBINAR_ATTENDED = "webinar_attended"
    MEETING_BOOKED = "meeting_booked"
    DEMO_REQUESTED = "demo_requested"
    CONTENT_DOWNLOADED = "content_downloaded"
    PAGE_VIEW = "page_view"
    EMAIL_REPLY = "email_reply"
    UNSUBSCRIBED = "unsubscribed"
    EMAIL_BOUNCED = "email_bounced"


class ForecastCategory(StrEnum):
    """Salesforce-style forecast categories of an opportunity."""

    PIPELINE = "pipeline"
    BEST_CASE = "best_case"
    COMMIT = "commit"
    CLOSED = "closed"
    OMITTED = "omitted"


class CriterionOutcome(StrEnum):
    """Result of one qualification criterion."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


class OpportunityStatus(StrEnum):
    """Whether an opportunity is still being worked."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"
