"""The five services by name: settings class, app factory, migrations and default port."""

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shared.db import migrations
from shared.messaging.subscription import Consumes
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceSpec:
    """How to configure, migrate and build one service."""

    name: str
    port: int
    settings_type: type[ServiceSettings]
    build_app: Callable[[Any], FastAPI]
    migrations: Path
    consumes: Consumes[Any] | None  # its handlers.py table; None for a service that consumes nothing

    def settings(self, **overrides: Any) -> ServiceSettings:
        """Settings from the environment, with explicit overrides."""
        return self.settings_type(**overrides)

    def migrate(self, settings: ServiceSettings, revision: str = "head") -> None:
        """Upgrade this service's schema (or file) to `revision`."""
        migrations.upgrade(self.migrations, settings.database_url, settings.database_schema or self.name, revision)


SERVICE_NAMES = ("intake", "scorer", "qualifier", "forecast", "notifier")
_PORTS = {"intake": 8000, "scorer": 8001, "qualifier": 8002, "forecast": 8003, "notifier": 8004}


def service(name: str) -> ServiceSpec:
    """The spec of one service; ValueError names the known ones.

    Only that service's modules are imported: a process of one service does not carry the others' libraries
    (bench/idle.py measures each process's memory).
    """
    if name not in _PORTS:
        raise ValueError(f"unknown service {name!r}; known: {', '.join(SERVICE_NAMES)}")
    bootstrap = import_module(f"services.{name}.bootstrap")
    settings_type = getattr(import_module(f"services.{name}.settings"), f"{name.capitalize()}Settings")
    handlers = f"services.{name}.handlers"
    consumes = import_module(handlers).CONSUMES if find_spec(handlers) is not None else None
    return ServiceSpec(name, _PORTS[name], settings_type, bootstrap.build_app, bootstrap.MIGRATIONS, consumes)
