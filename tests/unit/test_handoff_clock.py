"""The hand-off's SLA clock counts working hours only, in the rules' time zone."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.qualifier.domain.handoff import due_at, working_hours_between
from services.qualifier.domain.rules import HandoffRules, WorkingHours
from services.qualifier.domain.stages import Situation, decide
from shared.events.vocabulary import LeadStage

pytestmark = pytest.mark.unit

WEEK = WorkingHours()  # 9-17, Monday to Friday, UTC


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (datetime(2026, 12, 1, 10, tzinfo=UTC), 4, datetime(2026, 12, 1, 14, tzinfo=UTC)),  # Tuesday, in hours
        (datetime(2026, 12, 1, 7, tzinfo=UTC), 4, datetime(2026, 12, 1, 13, tzinfo=UTC)),  # before opening
        (datetime(2026, 12, 1, 16, tzinfo=UTC), 4, datetime(2026, 12, 2, 12, tzinfo=UTC)),  # over the night
        (datetime(2026, 12, 4, 16, tzinfo=UTC), 4, datetime(2026, 12, 7, 12, tzinfo=UTC)),  # Friday → Monday
        (datetime(2026, 12, 5, 3, tzinfo=UTC), 4, datetime(2026, 12, 7, 13, tzinfo=UTC)),  # on a Saturday
        (datetime(2026, 12, 1, 9, tzinfo=UTC), 40, datetime(2026, 12, 7, 17, tzinfo=UTC)),  # five full days
    ],
)
def test_due_after_working_hours(start: datetime, hours: float, due: datetime) -> None:
    assert due_at(start, hours, WEEK) == due
    assert working_hours_between(start, due, WEEK) == pytest.approx(hours)


def test_the_clock_runs_in_the_teams_time_zone_across_daylight_saving() -> None:
    berlin = WorkingHours(timezone="Europe/Berlin")
    # 07:00 UTC is 08:00 in Berlin in winter: the day opens at 09:00 Berlin, 08:00 UTC.
    assert due_at(datetime(2026, 12, 1, 7, tzinfo=UTC), 4, berlin) == datetime(2026, 12, 1, 12, tzinfo=UTC)
    # Friday 27 March 2026, 16:00 Berlin (15:00 UTC) + 2 h: Monday 30 March 10:00 Berlin, now summer time (08:00 UTC).
    assert due_at(datetime(2026, 3, 27, 15, tzinfo=UTC), 2, berlin) == datetime(2026, 3, 30, 8, tzinfo=UTC)


def test_bad_calendars_and_escalations_without_anyone_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkingHours(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="ends"):
        WorkingHours(start=17, end=9)
    with pytest.raises(ValueError, match="escalate_to"):
        HandoffRules(on_breach="escalate")
    with pytest.raises(ValueError, match="unknown segments"):
        HandoffRules(sla_hours={"lukewarm": 8})
    assert working_hours_between(datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), WEEK) == 0


def test_a_lead_handed_back_to_nurture_stays_until_it_does_something() -> None:
    from tests.unit.test_qualification import UNKNOWN

    quiet = Situation(LeadStage.NURTURE, mql=True, score=70, qualification=UNKNOWN, opportunity=UNKNOWN)
    assert decide(replace(quiet, news_since_stage=False)) == []
    assert [m.target for m in decide(quiet)] == [LeadStage.MQL]
