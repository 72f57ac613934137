"""The `leadflow` command: run, migrate and operate the pipeline."""

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from services.registry import SERVICE_NAMES, service
from shared.db.database import Database
from shared.logging import configure_logging
from shared.messaging.relay import republish
from shared.rules import RulesError

app = typer.Typer(help="leadflow: lead intake, scoring, qualification and revenue forecast.", no_args_is_help=True)

ServiceName = Annotated[str, typer.Argument(help=f"one of: {', '.join(SERVICE_NAMES)}")]


@app.command()
def dev(
    demo: Annotated[bool, typer.Option(help="send a realistic set of sample leads through the webhooks")] = False,
    workdir: Annotated[Path, typer.Option(help="where SQLite files and logs go")] = Path(".leadflow"),
    port_base: Annotated[int, typer.Option(help="intake's port; the others follow")] = 8000,
) -> None:
    """Run the whole pipeline locally: embedded broker, SQLite per service, all four services."""
    from services.embedded.dev import run_dev

    raise typer.Exit(run_dev(workdir.resolve(), port_base=port_base, demo=demo))


@app.command()
def serve(
    name: ServiceName,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="port; default 8000-8003 by service")] = None,
) -> None:
    """Run one service (API and consumers) in this process, for production."""
    spec = _spec(name)
    settings = _settings(spec.name)
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        application = spec.build_app(settings)
    except RulesError as exc:
        raise typer.BadParameter(str(exc), param_hint="LEADFLOW_RULES") from exc
    uvicorn.run(application, host=host, port=port or spec.port, log_config=None, access_log=False)


@app.command()
def migrate(
    names: Annotated[list[str] | None, typer.Argument(help="services to migrate; all when omitted")] = None,
    revision: Annotated[str, typer.Option(help="target revision")] = "head",
) -> None:
    """Apply each service's Alembic migrations to its own schema (or SQLite file)."""
    for name in names or list(SERVICE_NAMES):
        spec = _spec(name)
        spec.migrate(_settings(name), revision)
        typer.echo(f"{name}: migrated to {revision}")


@app.command()
def replay(
    name: ServiceName,
    since: Annotated[datetime | None, typer.Option(help="only events created at or after this time")] = None,
    topic: Annotated[str | None, typer.Option(help="only events of this topic")] = None,
) -> None:
    """Publish a service's outbox history again (after a broker loss); consumers skip what they applied."""
    settings = _settings(name)
    database = Database(settings.database_url, settings.database_schema or name)

    async def run() -> int:
        try:
            return await republish(database, since=since, topic=topic)
        finally:
            await database.dispose()

    count = asyncio.run(run())
    typer.echo(f"{name}: {count} events queued for publishing again; the running service's relay sends them")


@app.command()
def contracts(
    out: Annotated[Path, typer.Option(help="directory for asyncapi.json and openapi/<service>.json")] = Path("docs"),
    check: Annotated[bool, typer.Option(help="fail if the files differ from what the code generates")] = False,
) -> None:
    """Generate the AsyncAPI and OpenAPI documents from the code."""
    from services.contracts import generated_contracts

    stale = []
    for relative, content in generated_contracts().items():
        target = out / relative
        if check:
            if not target.exists() or target.read_text() != content:
                stale.append(str(target))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        typer.echo(f"wrote {target}")
    if stale:
        typer.echo(f"out of date (run `leadflow contracts`): {', '.join(stale)}", err=True)
        raise typer.Exit(1)


def _spec(name: str):  # type: ignore[no-untyped-def]
    try:
        return service(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _settings(name: str):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    try:
        return service(name).settings()
    except ValidationError as exc:
        raise typer.BadParameter(f"invalid environment for {name}: {exc}") from exc


def main() -> None:
    """Entry point of the `leadflow` script."""
    app()


if __name__ == "__main__":
    main()
