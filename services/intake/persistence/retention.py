"""What intake keeps, and for how long: the rows that hold raw personal data go when they served their purpose."""

from services.intake.persistence.tables import deliveries, imports, pending_enrichments, quarantine
from services.intake.settings import IntakeSettings
from shared.db.retention import Retention


def intake_retention(settings: IntakeSettings) -> list[Retention]:
    """Delivery ids (a provider's retry window), raw quarantined bodies, finished fetches and imports."""
    raw_days = settings.quarantine_retention_days
    return [
        Retention(deliveries, deliveries.c.received_at, settings.delivery_retention_days),
        # A replayed delivery became a lead: its raw body is only needed while someone might ask why.
        Retention(quarantine, quarantine.c.replayed_at, min(settings.delivery_retention_days, raw_days)),
        # One nobody fixed goes too in the end, however it stands: the body is a person's raw answers.
        Retention(quarantine, quarantine.c.last_seen_at, raw_days),
        Retention(pending_enrichments, pending_enrichments.c.done_at, settings.delivery_retention_days),
        Retention(imports, imports.c.finished_at, raw_days),  # its row errors quote the rows
    ]
