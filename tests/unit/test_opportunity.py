import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.qualifier.domain.opportunity import (
    OpportunityError,
    UnknownPipelineStage,
    change,
    close,
    open_opportunity,
)
from services.qualifier.domain.rules import OpportunityRules
from services.rules import DEFAULT_RULES
from shared.events.vocabulary import ForecastCategory, OpportunityStatus
from shared.rules import load_rules_section

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
RULES = load_rules_section(DEFAULT_RULES, "opportunities", OpportunityRules)[0]


def opened(stage: str | None = None):  # type: ignore[no-untyped-def]
    return open_opportunity(
        RULES,
        lead_id=uuid.uuid4(),
        name="Deal",
        amount=Decimal(1000),
        currency=None,
        expected_close_date=date(2026, 12, 15),
        pipeline_stage=stage,
        owner=None,
        source="generic",
        now=NOW,
    )


def test_open_uses_default_stage_probability_and_currency() -> None:
    o = opened()
    assert (o.pipeline_stage, o.probability, o.forecast_category) == ("qualification", 0.2, ForecastCategory.PIPELINE)
    assert o.currency == "USD" and o.revision == 1 and o.status is OpportunityStatus.OPEN


def test_unknown_stage_is_refused_with_known_ones() -> None:
    with pytest.raises(UnknownPipelineStage, match="known: qualification"):
        opened("dreaming")


def test_stage_change_brings_its_defaults_and_bumps_revision() -> None:
    o = change(RULES, opened(), now=NOW, pipeline_stage="commit")
    assert (o.probability, o.forecast_category, o.revision) == (0.9, ForecastCategory.COMMIT, 2)


def test_explicit_category_overrides_the_stage_default() -> None:
    o = change(RULES, opened(), now=NOW, pipeline_stage="proposal", forecast_category=ForecastCategory.COMMIT)
    assert o.forecast_category is ForecastCategory.COMMIT and o.probability == 0.6


def test_no_op_change_keeps_revision() -> None:
    o = opened()
    assert change(RULES, o, now=NOW, amount=Decimal(1000)) is o


def test_close_won_and_lost() -> None:
    won = close(opened(), won=True, reason="signed", amount=Decimal(1200), now=NOW)
    assert (won.status, won.amount, won.probability, won.forecast_category) == (
        OpportunityStatus.WON,
        Decimal(1200),
        1.0,
        ForecastCategory.CLOSED,
    )
    assert won.expected_close_date == NOW.date()
    lost = close(opened(), won=False, reason="budget", amount=None, now=NOW)
    assert (lost.status, lost.probability, lost.forecast_category) == (
        OpportunityStatus.LOST,
        0.0,
        ForecastCategory.OMITTED,
    )


def test_closed_opportunity_cannot_change_or_close_again() -> None:
    done = close(opened(), won=True, reason=None, amount=None, now=NOW)
    with pytest.raises(OpportunityError, match="already won"):
        change(RULES, done, now=NOW, amount=Decimal(5))
    with pytest.raises(OpportunityError, match="already won"):
        close(done, won=False, reason=None, amount=None, now=NOW)


def test_closed_category_only_through_close() -> None:
    with pytest.raises(OpportunityError, match="close route"):
        change(RULES, opened(), now=NOW, forecast_category=ForecastCategory.CLOSED)
