import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.forecast.handlers import subscription as forecast_subscription
from services.rules import DEFAULT_RULES
from services.scorer.active_model import ActiveModel
from services.scorer.domain.rules import ScoringRules
from services.scorer.handlers import subscription as scorer_subscription
from services.scorer.model_signing import DEVELOPMENT_KEY, ModelSigner
from shared.db.database import Database
from shared.db.unit_of_work import UnitOfWorkFactory
from shared.events.envelope import new_event
from shared.events.models import (
    Company,
    Contact,
    EventPayload,
    LeadActivity,
    LeadCaptured,
    OpportunityClosed,
    OpportunityOpened,
    OpportunityUpdated,
    Source,
)
from shared.events.vocabulary import ActivityType, ForecastCategory, OpportunityStatus
from shared.messaging.subscription import Subscription
from shared.rules import load_rules_section
from tests.service.conftest import running_service
from tests.support import bearer, token_with


async def apply(database: Database, subscription: Subscription[Any], payloads: list[EventPayload]) -> None:
    """Each event in a batch of its own, as the consumer applies a batch."""
    factory = UnitOfWorkFactory(database)
    for payload in payloads:
        async with factory() as uow:
            await subscription.apply(uow, [new_event(payload, source="/test")])
            await uow.commit()


async def test_score_explains_itself_and_worklist_ranks(database_url: str, kafka_bootstrap: str) -> None:
    async with running_service("scorer", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        rules, version = load_rules_section(DEFAULT_RULES, "scoring", ScoringRules)
        handlers = scorer_subscription(rules, version, ActiveModel(database, ModelSigner([DEVELOPMENT_KEY])))
        now = datetime.now(UTC)
        exec_id, student_id = uuid.uuid4(), uuid.uuid4()
        await apply(
            database,
            handlers,
            [
                LeadCaptured(
                    lead_id=exec_id,
                    contact=Contact(email="ceo@acme.com", first_name="Ada", last_name="Lovelace", job_title="CEO"),
                    company=Company(name="Acme", country="US"),
                    source=Source(provider="generic", utm_campaign="q4-pipeline"),
                    captured_at=now,
                ),
                LeadActivity(
                    lead_id=exec_id,
                    activity_type=ActivityType.DEMO_REQUESTED,
                    occurred_at=now,
                    source=Source(provider="generic"),
                ),
                LeadCaptured(
                    lead_id=student_id,
                    contact=Contact(email="kid@gmail.com", job_title="Student"),
                    free_mail=True,
                    source=Source(provider="generic"),
                    captured_at=now,
                ),
            ],
        )
        read = bearer(token_with("leads:read"))
        score = (await client.get(f"/v1/scores/{exec_id}", headers=read)).json()
        assert score["activity_count"] == 2 and score["mql"] is True and score["segment"] == "hot"
        names = {f["name"] for f in score["factors"]}
        assert {"seniority.executive", "company_named", "demo_requested", "form_submitted"} <= names
        worklist = (await client.get("/v1/worklist", headers=read)).json()
        assert [item["lead_id"] for item in worklist["items"]] == [str(exec_id), str(student_id)]
        top = worklist["items"][0]  # who to call, not an id
        assert (top["name"], top["email"], top["job_title"], top["company"], top["campaign"]) == (
            "Ada Lovelace",
            "ceo@acme.com",
            "CEO",
            "Acme",
            "q4-pipeline",
        )
        timeline = (await client.get(f"/v1/scores/{exec_id}/timeline", headers=read)).json()["items"]
        assert [a["activity_type"] for a in timeline] == ["demo_requested", "form_submitted"]  # newest first
        assert all(a["lead_id"] == str(exec_id) for a in timeline)
        # The grade grid: each axis on its thresholds; the worklist filters by a cell, a fit grade or an engagement.
        from services.scorer.domain.scoring import grade_for

        student = (await client.get(f"/v1/scores/{student_id}", headers=read)).json()
        for graded in (score, student):
            assert graded["grade"] == grade_for(graded["fit"], graded["engagement"], rules)
        assert score["grade"] != student["grade"]
        for wanted in (score["grade"], score["grade"][0], score["grade"][1]):
            found = (await client.get(f"/v1/worklist?grade={wanted}", headers=read)).json()["items"]
            assert str(exec_id) in [i["lead_id"] for i in found], wanted
        only_students = (await client.get(f"/v1/worklist?grade={student['grade']}", headers=read)).json()["items"]
        assert [i["lead_id"] for i in only_students] == [str(student_id)]
        by_grade = (await client.get("/v1/worklist?sort=grade", headers=read)).json()["items"]
        assert [i["grade"] for i in by_grade] == sorted(i["grade"] for i in by_grade)
        assert (await client.get("/v1/worklist?grade=E9", headers=read)).status_code == 422
        cold = (await client.get("/v1/worklist?segment=cold", headers=read)).json()
        assert [item["lead_id"] for item in cold["items"]] == [str(student_id)]
        missing = await client.get(f"/v1/scores/{uuid.uuid4()}", headers=read)
        assert missing.status_code == 404
        await database.dispose()


def snapshot(cls: type, oid: uuid.UUID, revision: int, **fields: object) -> EventPayload:
    now = datetime.now(UTC)
    base = dict(
        lead_id=uuid.uuid4(),
        opportunity_id=oid,
        revision=revision,
        name="Deal",
        amount=Decimal(1000),
        currency="USD",
        pipeline_stage="proposal",
        probability=0.6,
        forecast_category=ForecastCategory.BEST_CASE,
        expected_close_date=date.today() + timedelta(days=1),
        status=OpportunityStatus.OPEN,
        opened_at=now,
        changed_at=now,
    )
    return cls(**(base | fields))  # type: ignore[no-any-return]


async def test_forecast_reflects_latest_revision_only(database_url: str, kafka_bootstrap: str) -> None:
    async with running_service("forecast", database_url, kafka_bootstrap) as (_, client, s):
        database = Database(s.database_url, s.database_schema)
        won_id, open_id = uuid.uuid4(), uuid.uuid4()
        today = datetime.now(UTC).date()
        await apply(
            database,
            forecast_subscription(),
            [
                snapshot(OpportunityOpened, won_id, 1),
                snapshot(
                    OpportunityClosed,
                    won_id,
                    2,
                    status=OpportunityStatus.WON,
                    amount=Decimal(1500),
                    probability=1.0,
                    forecast_category=ForecastCategory.CLOSED,
                    expected_close_date=today,
                    closed_at=datetime.now(UTC),
                ),
                snapshot(OpportunityOpened, open_id, 1, expected_close_date=today),
                snapshot(OpportunityUpdated, open_id, 3, amount=Decimal(2000), expected_close_date=today),
                snapshot(OpportunityUpdated, open_id, 2, amount=Decimal(1), expected_close_date=today),  # stale
            ],
        )
        response = await client.get("/v1/forecast?period=month&horizon=2", headers=bearer(token_with("forecast:read")))
        assert response.status_code == 200
        body = response.json()
        current = body["lines"][0]
        assert current["period"] == f"{today.year}-{today.month:02d}"
        assert Decimal(current["closed_won"]) == 1500
        assert Decimal(current["best_case"]) == 3500
        assert Decimal(current["weighted"]) == Decimal("1200.00")
        assert len(body["lines"]) == 2
        bad = await client.get("/v1/forecast?period=week", headers=bearer())
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        await database.dispose()
