"""Forecast gauges for Grafana: this and next period's forecast lines, funnel counts and conversion."""

import asyncio
from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge

from services.forecast.domain.forecasting import forecast
from services.forecast.domain.funnel import FUNNEL, conversion_rates, funnel, reached
from services.forecast.domain.history import as_of
from services.forecast.domain.projection import Period, period_keys
from services.forecast.persistence import repository
from shared.db.database import Database
from shared.metrics import JobGauges, Metrics

LINES = ("closed_won", "commit", "best_case", "pipeline", "weighted")
LEARNED = ("win_rate", "p10", "p50", "p90")
_SIMULATIONS = 500  # enough for a dashboard; the API runs more
_WINDOW = timedelta(days=90)
_OFFSETS = {0: "current", 1: "next"}


class ForecastMetrics:
    """Recomputed from the projections on a timer, so a scrape never waits on the database."""

    def __init__(self, metrics: Metrics, database: Database, every_s: float) -> None:
        self._database = database
        r = metrics.registry
        self._computed = JobGauges(r, every_s)
        g = self._computed.registry
        self.forecast = Gauge(
            "leadflow_forecast_amount",
            "Forecast line of the current or next period, in the opportunity's currency",
            ["period", "offset", "line", "currency"],
            registry=g,
        )
        self.funnel = Gauge("leadflow_funnel_leads", "Leads that reached each funnel stage", ["stage"], registry=g)
        self.conversion = Gauge(
            "leadflow_funnel_conversion_ratio",
            "Share of leads that went on from one funnel stage to the next",
            ["from_stage", "to_stage"],
            registry=g,
        )
        self.win_rate = Gauge("leadflow_win_rate_ratio", "Won ÷ closed opportunities over the last 90 days", registry=g)
        self.velocity = Gauge(
            "leadflow_pipeline_velocity_per_day",
            "Open opportunities × win rate × average deal ÷ median cycle days (last 90 days)",
            registry=g,
        )

    async def refresh(self) -> None:
        """Recompute every gauge."""
        now = datetime.now(UTC)
        async with self._database.session() as session:
            states = as_of(await repository.revisions(session), now)
            stages = await repository.stage_counts(session)
        for period in Period:
            keys = period_keys(now.date(), period, len(_OFFSETS))
            # Simulations are CPU work: off the event loop, so consumers and requests are not held up by them.
            made = await asyncio.to_thread(
                forecast, states, now, period=period, horizon=len(_OFFSETS), simulations=_SIMULATIONS
            )
            for f in made:
                line = f.line
                offset = _OFFSETS[keys.index(line.period)]
                for name in LINES:
                    self.forecast.labels(period.value, offset, name, line.currency).set(float(getattr(line, name)))
                for name in LEARNED:
                    self.forecast.labels(period.value, offset, name, line.currency).set(float(getattr(f, name)))
        overall = funnel([], states, start=now - _WINDOW, end=now)[0]
        self.win_rate.set(overall.win_rate)
        self.velocity.set(overall.velocity_per_day)
        counts = reached(stages)
        for stage in FUNNEL:
            self.funnel.labels(stage.value).set(counts[stage])
        for (a, b), ratio in conversion_rates(stages).items():
            self.conversion.labels(a.value, b.value).set(ratio)
        self._computed.computed()
