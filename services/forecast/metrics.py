"""Forecast gauges for Grafana: this and next period's forecast lines, funnel counts and conversion."""

from datetime import UTC, datetime

from prometheus_client import Gauge

from services.forecast.domain.funnel import FUNNEL, conversion_rates, reached
from services.forecast.domain.projection import Period, period_keys, project
from services.forecast.persistence import repository
from shared.db.database import Database
from shared.metrics import Metrics

LINES = ("closed_won", "commit", "best_case", "pipeline", "weighted")
_OFFSETS = {0: "current", 1: "next"}


class ForecastMetrics:
    """Recomputed from the projections on a timer, so a scrape never waits on the database."""

    def __init__(self, metrics: Metrics, database: Database) -> None:
        self._database = database
        r = metrics.registry
        self.forecast = Gauge(
            "leadflow_forecast_amount",
            "Forecast line of the current or next period, in the opportunity's currency",
            ["period", "offset", "line", "currency"],
            registry=r,
        )
        self.funnel = Gauge("leadflow_funnel_leads", "Leads that reached each funnel stage", ["stage"], registry=r)
        self.conversion = Gauge(
            "leadflow_funnel_conversion_ratio",
            "Share of leads that went on from one funnel stage to the next",
            ["from_stage", "to_stage"],
            registry=r,
        )

    async def refresh(self) -> None:
        """Recompute every gauge."""
        async with self._database.session() as session:
            views = await repository.opportunity_views(session)
            stages = await repository.stage_counts(session)
        today = datetime.now(UTC).date()
        for period in Period:
            keys = period_keys(today, period, len(_OFFSETS))
            for line in project(views, today=today, period=period, horizon=len(_OFFSETS)):
                offset = _OFFSETS[keys.index(line.period)]
                for name in LINES:
                    self.forecast.labels(period.value, offset, name, line.currency).set(float(getattr(line, name)))
        counts = reached(stages)
        for stage in FUNNEL:
            self.funnel.labels(stage.value).set(counts[stage])
        for (a, b), ratio in conversion_rates(stages).items():
            self.conversion.labels(a.value, b.value).set(ratio)
