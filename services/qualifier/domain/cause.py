"""Why a decision was made, carried onto everything it records and emits."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Cause:
    """Who decided (a rep, or the qualifier on an event), when, under which rules, and for which incoming event
    (its correlation id, so a stage change, an owner change and an opened opportunity trace back to the capture
    that caused them; a command's decision gets one of its own). Made once per decision and passed whole."""

    actor: str
    at: datetime
    rules_version: str
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
