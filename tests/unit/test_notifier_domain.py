"""The notifier's pure parts: which events a subscription wants, how long to wait after a failure, what a chat
message says."""

import random
import uuid
from datetime import UTC, datetime

import pytest

from services.notifier.domain.messages import slack_body
from services.notifier.domain.retry import next_delay_s
from services.notifier.domain.subscriptions import SubscriptionError, Wanted
from shared.events.models import LeadScored, LeadStageChanged, ScoreFactor
from shared.events.vocabulary import LeadStage, Segment

pytestmark = pytest.mark.unit


def _scored(segment: Segment, previous: Segment | None, *, crossed: bool = False) -> LeadScored:
    return LeadScored(
        lead_id=uuid.uuid4(),
        fit=70,
        engagement=70,
        score=70,
        segment=segment,
        previous_segment=previous,
        mql=True,
        mql_crossed=crossed,
        factors=[
            ScoreFactor(kind="fit", name="a", points=5, reason="small"),
            ScoreFactor(kind="engagement", name="b", points=45, reason="demo <requested> & more"),
        ],
        rules_version="r",
        scored_at=datetime.now(UTC),
    )


def test_segment_matches_when_a_lead_enters_it_not_while_it_stays() -> None:
    hot = Wanted.checked(["lead.scored"], {"segment": "HOT"})
    assert hot.matches("lead.scored", _scored(Segment.HOT, Segment.WARM))
    assert hot.matches("lead.scored", _scored(Segment.HOT, None))
    assert not hot.matches("lead.scored", _scored(Segment.HOT, Segment.HOT))
    assert not hot.matches("lead.scored", _scored(Segment.WARM, Segment.HOT))
    mql = Wanted.checked(["lead.scored"], {"mql": "true"})
    assert mql.matches("lead.scored", _scored(Segment.WARM, Segment.WARM, crossed=True))
    assert not mql.matches("lead.scored", _scored(Segment.WARM, Segment.WARM))
    everything = Wanted.checked(["lead.scored", "lead.stage_changed"], {})
    assert everything.matches("lead.scored", _scored(Segment.COLD, Segment.COLD))
    assert not everything.matches("opportunity.closed", _scored(Segment.COLD, None))


def test_a_filter_must_apply_to_every_chosen_type() -> None:
    with pytest.raises(SubscriptionError, match=r"filter 'segment' does not apply to \['lead.stage_changed'\]"):
        Wanted.checked(["lead.scored", "lead.stage_changed"], {"segment": "hot"})
    with pytest.raises(SubscriptionError, match="unknown event types"):
        Wanted.checked(["lead.captured"], {})
    with pytest.raises(SubscriptionError, match="at least one"):
        Wanted.checked([], {})
    both = Wanted.checked(["lead.stage_changed", "opportunity.closed"], {"owner": "ana"})
    assert both.filters == {"owner": "ana"}


def test_waits_grow_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    waits = [[next_delay_s(n, max_delay_s=3600, rng=rng) for n in range(1, 15)] for _ in range(50)]
    for run in waits:
        for n, wait in enumerate(run, start=1):
            ceiling = min(3600, 5 * 2 ** (n - 1))
            assert ceiling / 2 <= wait <= ceiling
    assert len({run[5] for run in waits}) == 50  # no two endpoints that failed together retry together


def test_a_chat_message_is_a_sentence_with_slacks_characters_escaped() -> None:
    who = {"name": "Ada <Lovelace>", "job_title": "CTO", "company": "A&B"}
    text = slack_body("lead.scored", _scored(Segment.HOT, Segment.WARM), who, "https://console/leads/1")["text"]
    assert text.startswith("<https://console/leads/1|*Ada &lt;Lovelace&gt;* (CTO, A&amp;B)> is now *hot*: score 70")
    assert text.endswith("(demo &lt;requested&gt; &amp; more; small)")
    moved = LeadStageChanged(
        lead_id=uuid.uuid4(),
        from_stage=LeadStage.MQL,
        to_stage=LeadStage.PROSPECT,
        reason="three_stage: organisation pass",
        decided_by="qualifier",
        rules_version="r",
        changed_at=datetime.now(UTC),
    )
    assert slack_body("lead.stage_changed", moved, None, None)["text"] == (
        f"lead {moved.lead_id} moved mql → *prospect*: three_stage: organisation pass"
    )
