"""The topic registry: each topic's name, key and the event types it carries, in one place."""

from dataclasses import dataclass

from shared.events.models import (
    EventPayload,
    LeadActivity,
    LeadCaptured,
    LeadHandoffChanged,
    LeadMerged,
    LeadOutcomeRecorded,
    LeadOwnerChanged,
    LeadScored,
    LeadStageChanged,
    LeadUnmerged,
    OpportunityClosed,
    OpportunityOpened,
    OpportunityUpdated,
    PersonErased,
)


@dataclass(frozen=True)
class Topic:
    """A Kafka topic and its contract."""

    name: str
    description: str
    payloads: tuple[type[EventPayload], ...]
    producer: str  # the one service whose outbox publishes it
    key: str = "lead_id"

    def dead_letter(self, consumer_group: str) -> str:
        """Name of this topic's dead-letter topic for one consumer group."""
        return f"{self.name}.dlq.{consumer_group}"


LEADS_INTAKE = Topic(
    "leads.intake",
    "Leads captured, their activities and imported outcomes",
    (LeadCaptured, LeadActivity, LeadOutcomeRecorded),
    "intake",
)
LEADS_SCORES = Topic("leads.scores", "Fit, engagement and segment of each lead", (LeadScored,), "scorer")
LEADS_STAGES = Topic(
    "leads.stages",
    "Funnel stage transitions with reasons, and owner changes",
    (LeadStageChanged, LeadOwnerChanged, LeadHandoffChanged),
    "qualifier",
)
OPPORTUNITIES = Topic(
    "opportunities",
    "Opportunity lifecycle, each event a full snapshot",
    (OpportunityOpened, OpportunityUpdated, OpportunityClosed),
    "qualifier",
)

LEADS_IDENTITY = Topic(
    "leads.identity",
    "Leads merged into another (the same person), merges undone, and people erased; keyed by the lead concerned",
    (LeadMerged, LeadUnmerged, PersonErased),
    "intake",
)

ALL_TOPICS: tuple[Topic, ...] = (LEADS_INTAKE, LEADS_SCORES, LEADS_STAGES, OPPORTUNITIES, LEADS_IDENTITY)

_TOPIC_BY_PAYLOAD = {payload: topic for topic in ALL_TOPICS for payload in topic.payloads}
_TOPIC_BY_NAME = {topic.name: topic for topic in ALL_TOPICS}


def topic_for(payload_type: type[EventPayload]) -> Topic:
    """The one topic a payload type is published on."""
    return _TOPIC_BY_PAYLOAD[payload_type]


def topic_named(name: str) -> Topic:
    """Look a topic up by name; KeyError names it when unknown."""
    return _TOPIC_BY_NAME[name]
