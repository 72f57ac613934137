"""The four services by name: settings class, app factory, migrations and default port."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shared.db import migrations
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceSpec:
    """How to configure, migrate and build one service."""

    name: str
    port: int
    settings_type: type[ServiceSettings]
    build_app: Callable[[Any], FastAPI]
    migrations: Path

    def settings(self, **overrides: Any) -> ServiceSettings:
        """Settings from the environment, with explicit overrides."""
        return self.settings_type(**overrides)

    def migrate(self, settings: ServiceSettings, revision: str = "head") -> None:
        """Upgrade this service's schema (or file) to `revision`."""
        migrations.upgrade(self.migrations, settings.database_url, settings.database_schema or self.name, revision)


def _specs() -> dict[str, ServiceSpec]:
    from services.forecast import bootstrap as forecast
    from services.forecast.settings import ForecastSettings
    from services.intake import bootstrap as intake
    from services.intake.settings import IntakeSettings
    from services.qualifier import bootstrap as qualifier
    from services.qualifier.settings import QualifierSettings
    from services.scorer import bootstrap as scorer
    from services.scorer.settings import ScorerSettings

    return {
        "intake": ServiceSpec("intake", 8000, IntakeSettings, intake.build_app, intake.MIGRATIONS),
        "scorer": ServiceSpec("scorer", 8001, ScorerSettings, scorer.build_app, scorer.MIGRATIONS),
        "qualifier": ServiceSpec("qualifier", 8002, QualifierSettings, qualifier.build_app, qualifier.MIGRATIONS),
        "forecast": ServiceSpec("forecast", 8003, ForecastSettings, forecast.build_app, forecast.MIGRATIONS),
    }


SERVICE_NAMES = ("intake", "scorer", "qualifier", "forecast")


def service(name: str) -> ServiceSpec:
    """The spec of one service; ValueError names the known ones."""
    specs = _specs()
    if name not in specs:
        raise ValueError(f"unknown service {name!r}; known: {', '.join(SERVICE_NAMES)}")
    return specs[name]
