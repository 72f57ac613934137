"""Forecast "as of" a past day, the learned lines, and the funnel, through the API on a real database."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.forecast.handlers import subscription
from shared.db.database import Database
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import new_event
from shared.events.models import EventPayload, LeadStageChanged, OpportunityClosed, OpportunityOpened
from shared.events.vocabulary import ForecastCategory, LeadStage, OpportunityStatus
from tests.service.conftest import running_service
from tests.support import bearer, token_with

START = datetime(2026, 1, 5, 12, tzinfo=UTC)


async def apply(database: Database, payloads: list[EventPayload]) -> None:
    factory = UnitOfWorkFactory(database)
    async with factory() as uow:
        await subscription().apply(uow, [new_event(payload, source="/test") for payload in payloads])
        await uow.commit()


def history(deals: int) -> list[EventPayload]:
    """A deal opened every day from 5 January; each closes 20 days later, two in three won, with a reason."""
    out: list[EventPayload] = []
    for i in range(deals):
        lead_id, oid = uuid.uuid4(), uuid.uuid4()
        opened = START + timedelta(days=i)
        common = dict(
            lead_id=lead_id,
            opportunity_id=oid,
            name=f"Deal {i}",
            currency="EUR",
            pipeline_stage="proposal",
            probability=0.6,
            expected_close_date=(opened + timedelta(days=20)).date(),
            owner="ana" if i % 2 else "ben",
            source="webinar" if i % 2 else "form",
            opened_at=opened,
        )
        out.append(
            LeadStageChanged(
                lead_id=lead_id,
                from_stage=None,
                to_stage=LeadStage.OPPORTUNITY,
                reason="test",
                decided_by="test",
                rules_version="t",
                owner=common["owner"],
                source=common["source"],
                changed_at=opened,
            )
        )
        out.append(
            OpportunityOpened(
                **common,
                revision=1,
                amount=Decimal(1000),
                forecast_category=ForecastCategory.BEST_CASE,
                status=OpportunityStatus.OPEN,
                changed_at=opened,
            )
        )
        closed = opened + timedelta(days=20)
        won = i % 3 != 0
        out.append(
            OpportunityClosed(
                **common,
                revision=2,
                amount=Decimal(1200) if won else Decimal(1000),
                forecast_category=ForecastCategory.CLOSED if won else ForecastCategory.OMITTED,
                status=OpportunityStatus.WON if won else OpportunityStatus.LOST,
                changed_at=closed,
                closed_at=closed,
                close_reason="champion" if won else "went with a competitor",
            )
        )
    return out


async def test_forecast_as_of_a_past_day_and_the_funnel(database_url: str, kafka_bootstrap: str) -> None:
    async with running_service("forecast", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        await apply(database, history(120))
        read = bearer(token_with("forecast:read"))

        past = await client.get("/v1/forecast?period=month&horizon=2&as_of=2026-03-31", headers=read)
        assert past.status_code == 200, past.text
        march, april = past.json()["lines"]
        assert (march["period"], march["currency"], april["period"]) == ("2026-03", "EUR", "2026-04")
        # As of 31 March: deals opened 5 Jan..31 Mar; those opened by 11 March closed in March or before.
        won_in_march = sum(1 for i in range(120) if i % 3 and (START + timedelta(days=i + 20)).month == 3)
        assert Decimal(march["closed_won"]) == 1200 * won_in_march
        assert march["closed_history"] > 40
        assert Decimal(april["p10"]) <= Decimal(april["p50"]) <= Decimal(april["p90"])
        # April's win-rate forecast: the deals open on 31 March (those opened 12..31 March) at the learned 2/3.
        assert Decimal(april["win_rate"]) > Decimal(april["weighted"]) * Decimal("0.8")

        everything = (await client.get("/v1/forecast?period=quarter&horizon=1&as_of=2026-12-31", headers=read)).json()
        assert everything["lines"][0]["open_opportunities"] == 0

        funnel = await client.get("/v1/funnel?from=2026-01-01&to=2026-04-30&by=source", headers=read)
        assert funnel.status_code == 200, funnel.text
        groups = {g["group"]: g for g in funnel.json()["groups"]}
        assert set(groups) == {"form", "webinar"}
        webinar = groups["webinar"]
        may = datetime(2026, 5, 1, tzinfo=UTC)
        entered = sum(1 for i in range(1, 120, 2) if START + timedelta(days=i) < may)
        assert webinar["leads"] == entered == 58 and webinar["reached"]["opportunity"] == entered
        assert webinar["won"] + webinar["lost"] == sum(
            1 for i in range(1, 120, 2) if START + timedelta(days=i + 20) < may
        )
        assert webinar["median_cycle_days"] == 20
        assert set(webinar["reasons"]["lost"]) == {"went with a competitor"}
        assert webinar["velocity_per_day"] > 0

        # The backtest beside the console's forecast: deals won January..May; from February on, each month had
        # closed deals before it to learn from, so four months are scored.
        accuracy = (
            await client.get("/v1/forecast/accuracy?period=month&periods=12&as_of=2026-12-01", headers=read)
        ).json()
        assert (accuracy["periods"], accuracy["scored"]) == (12, 4)
        assert set(accuracy["mape"]) == {"weighted", "win_rate", "p50"} and 0 <= accuracy["coverage"] <= 1
        assert accuracy["mape"]["win_rate"] < accuracy["mape"]["weighted"]  # learning beats the stage weights here
        assert (await client.get("/v1/forecast/accuracy?periods=0", headers=read)).status_code == 422

        swapped = await client.get("/v1/funnel?from=2026-05-01&to=2026-01-01", headers=read)
        assert swapped.status_code == 400 and "swap" in swapped.json()["detail"]
        assert (await client.get("/v1/funnel?by=planet", headers=read)).status_code == 422
        assert (await client.get("/v1/funnel?from=0001-01-01", headers=read)).status_code == 422
        assert (await client.get("/v1/forecast?as_of=9999-12-31", headers=read)).status_code == 422
        await database.dispose()


async def test_the_funnel_counts_hand_offs_rejections_and_time_to_accept_by_campaign(
    database_url: str, kafka_bootstrap: str
) -> None:
    from shared.events.models import LeadHandoffChanged

    async with running_service("forecast", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        day = datetime(2026, 6, 1, 9, tzinfo=UTC)
        events: list[EventPayload] = []
        for i, (outcome, waited_h, reason) in enumerate(
            [("accepted", 1.0, None), ("accepted", 3.0, None), ("accepted", 8.0, None), ("rejected", 2.0, "no_budget")]
        ):
            lead_id = uuid.uuid4()
            assigned_at = day + timedelta(days=i)
            events.append(
                LeadStageChanged(
                    lead_id=lead_id,
                    from_stage=None,
                    to_stage=LeadStage.PROSPECT,
                    reason="t",
                    decided_by="t",
                    rules_version="t",
                    source="typeform",
                    campaign="q4-pipeline" if i < 2 else "webinar-nov",
                    changed_at=assigned_at,
                )
            )
            # A prospect for 2, 4, 6 and 8 days, then an opportunity: time in stage.
            events.append(
                LeadStageChanged(
                    lead_id=lead_id,
                    from_stage=LeadStage.PROSPECT,
                    to_stage=LeadStage.OPPORTUNITY,
                    reason="t",
                    decided_by="t",
                    rules_version="t",
                    changed_at=assigned_at + timedelta(days=2 * (i + 1)),
                )
            )
            common = {"lead_id": lead_id, "owner": "ana.emea", "team": "emea"}
            events.append(LeadHandoffChanged(**common, status="assigned", decided_by="q", changed_at=assigned_at))
            events.append(
                LeadHandoffChanged(
                    **common,
                    status=outcome,
                    reason=reason,
                    decided_by="ana.emea",
                    waited_s=waited_h * 3600,
                    changed_at=assigned_at + timedelta(hours=waited_h),
                )
            )
        await apply(database, events)
        read = bearer(token_with("forecast:read"))
        (group,) = (await client.get("/v1/funnel?from=2026-06-01&to=2026-06-30", headers=read)).json()["groups"]
        assert group["handoffs"] == {"assigned": 4, "accepted": 3, "rejected": 1}
        assert group["median_hours_to_accept"] == 3.0 and group["rejections"] == {"no_budget": 1}
        assert group_days(group, "prospect") == (5.0, 8.0) and group["days_in_stage"]["prospect"]["stays"] == 4
        by_campaign = (await client.get("/v1/funnel?from=2026-06-01&to=2026-06-30&by=campaign", headers=read)).json()
        campaigns = {g["group"]: g for g in by_campaign["groups"]}
        assert set(campaigns) == {"q4-pipeline", "webinar-nov"} and campaigns["q4-pipeline"]["leads"] == 2
        assert campaigns["q4-pipeline"]["median_hours_to_accept"] == 2.0  # accepted after 1 h and 3 h
        assert campaigns["webinar-nov"]["rejections"] == {"no_budget": 1}
        await database.dispose()


def group_days(group: dict[str, object], stage: str) -> tuple[float, float]:
    """A funnel group's median and p90 days in a stage."""
    days = group["days_in_stage"]
    assert isinstance(days, dict)
    return days[stage]["median"], days[stage]["p90"]
