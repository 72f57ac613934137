"""The `leadflow` command: run, migrate and operate the pipeline."""

import asyncio
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
import uvicorn

from services.cli.subscriptions import subscriptions_app
from services.registry import SERVICE_NAMES, service
from shared.db.database import Database
from shared.logging import configure_logging
from shared.messaging.relay import republish
from shared.rules import RulesError

T = TypeVar("T")

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from services.cli.whatif import Plan
    from services.forecast.domain.history import Revision
    from services.intake.commands.erasure import Erasure
    from services.intake.commands.quarantine import Quarantine
    from shared.messaging.kafka_options import KafkaOptions
    from shared.messaging.outbox_admin import HeldRow

app = typer.Typer(help="leadflow: lead intake, scoring, qualification and revenue forecast.", no_args_is_help=True)

CONSOLE_PORT = 8080
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
def console(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = CONSOLE_PORT,
    environment: Annotated[
        str, typer.Option(envvar="LEADFLOW_ENVIRONMENT", help="production (the default) needs a session key")
    ] = "production",
) -> None:
    """Run the web console: pages for sales and marketing, from the services' APIs (LEADFLOW_<SERVICE>_URL)."""
    from pydantic import ValidationError

    from services.console.bootstrap import build_app
    from services.console.settings import ConsoleSettings
    from shared.settings import settings_errors

    try:
        settings = ConsoleSettings(environment=environment)
    except ValidationError as exc:
        raise typer.BadParameter(f"invalid environment for the console: {settings_errors(exc)}") from exc
    configure_logging(settings.log_level, json=settings.log_json)
    uvicorn.run(build_app(settings), host=host, port=port, log_config=None, access_log=False)


@app.command()
def serve(
    name: ServiceName,
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="port; default 8000-8003 by service")] = None,
    environment: Annotated[
        str,
        typer.Option(
            envvar="LEADFLOW_ENVIRONMENT",
            help="production (the default) refuses weak tokens and hides the docs; `leadflow dev` runs development",
        ),
    ] = "production",
) -> None:
    """Run one service (API and consumers) in this process, for production."""
    spec = _spec(name)
    # A service started by hand is taken for a deployment: forgetting a variable must not open /docs or accept
    # a weak token. The embedded pipeline (`leadflow dev`, the tests) says development itself.
    settings = _settings(spec.name, environment=environment)
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
    roles: Annotated[
        bool,
        typer.Option(
            help="then give each service a role of its own, limited to its schema (password from "
            "LEADFLOW_DB_ROLE_PASSWORD_<SERVICE>); run as the schemas' owner"
        ),
    ] = False,
) -> None:
    """Apply each service's Alembic migrations to its own schema (or SQLite file)."""
    import os

    from shared.db.roles import grant_service_role, role_name

    chosen = names or list(SERVICE_NAMES)
    passwords = {name: os.environ.get(f"LEADFLOW_DB_ROLE_PASSWORD_{name.upper()}", "") for name in chosen}
    missing = [f"LEADFLOW_DB_ROLE_PASSWORD_{name.upper()}" for name, password in passwords.items() if not password]
    if roles and missing:
        raise typer.BadParameter(f"--roles needs {', '.join(missing)}")
    for name in chosen:
        spec = _spec(name)
        # Migrating needs the database only: the checks that guard a serving production service (its tokens,
        # the scorer's model key) are the services' own, not the migrator's.
        settings = _settings(name, environment="development")
        spec.migrate(settings, revision)
        typer.echo(f"{name}: migrated to {revision}")
        if roles:
            database = Database(settings.database_url, settings.database_schema or name)

            async def grant(database: Database = database, name: str = name) -> None:
                try:
                    async with database.engine.begin() as connection:
                        await grant_service_role(
                            connection,
                            schema=database.schema or name,
                            role=role_name(name),
                            password=passwords[name],
                        )
                finally:
                    await database.dispose()

            asyncio.run(grant())
            typer.echo(f"{name}: role {role_name(name)} may use schema {settings.database_schema or name} only")


@app.command()
def replay(
    name: ServiceName,
    since: Annotated[datetime | None, typer.Option(help="only events created at or after this time")] = None,
    topic: Annotated[str | None, typer.Option(help="only events of this topic")] = None,
) -> None:
    """Publish a service's outbox history again (after a broker loss); consumers skip what they applied."""
    database = _database(name)

    async def run() -> int:
        try:
            return await republish(database, since=since, topic=topic)
        finally:
            await database.dispose()

    count = asyncio.run(run())
    typer.echo(f"{name}: {count} events queued for publishing again; the running service's relay sends them")


@app.command()
def erase(
    email: Annotated[str, typer.Argument(help="the person's email address")],
    by: Annotated[str, typer.Option(help="who asks, for the record (person.erased carries it)")] = "leadflow erase",
) -> None:
    """Erase a person: intake deletes their leads and raw deliveries and announces person.erased, which every
    service applies (the running intake's relay publishes it)."""
    from services.intake.commands.erasure import NobodyToErase
    from services.intake.commands.erasure import erase as erase_person
    from shared.db.unit_of_work import UnitOfWorkFactory

    database = _database("intake")

    async def run() -> "Erasure":
        try:
            return await erase_person(UnitOfWorkFactory(database), email, by=by)
        finally:
            await database.dispose()

    try:
        done = asyncio.run(run())
    except NobodyToErase as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"erased {len(done.lead_ids)} lead(s) ({', '.join(map(str, done.lead_ids))}) and {done.raw_rows} raw row(s); "
        "person.erased is queued for the other services"
    )


outbox_app = typer.Typer(
    help="Outbox rows the broker refused: what they are, and sending them again.", no_args_is_help=True
)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def outbox_list(
    name: ServiceName,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
) -> None:
    """List a service's parked rows (refused for good) and rows waiting for a retry, with their last error."""
    from shared.messaging.outbox_admin import held_rows

    database = _database(name)

    async def run() -> list["HeldRow"]:
        try:
            return await held_rows(database, limit=limit)
        finally:
            await database.dispose()

    rows = asyncio.run(run())
    for row in rows:
        typer.echo(
            f"#{row.id}  {row.state}  {row.topic}  key {row.key}  event {row.event_id}  {row.size} bytes  "
            f"attempts {row.attempts}  since {row.created_at:%Y-%m-%d %H:%M:%S}  {(row.last_error or '')[:200]}"
        )
    typer.echo(f"{len(rows)} rows held ({sum(r.state == 'parked' for r in rows)} parked)")


@outbox_app.command("retry")
def outbox_retry(
    name: ServiceName,
    row_id: Annotated[
        list[int] | None, typer.Option("--id", help="only these rows (repeatable); all when omitted")
    ] = None,
) -> None:
    """Release parked rows for the running relay to send again (after fixing what the broker refused)."""
    from shared.messaging.outbox_admin import retry_parked

    database = _database(name)

    async def run() -> int:
        try:
            return await retry_parked(database, row_id)
        finally:
            await database.dispose()

    typer.echo(f"{name}: {asyncio.run(run())} parked rows released; the running service's relay sends them")


quarantine_app = typer.Typer(
    help="Webhook deliveries kept because they could not become a lead: why, and replaying them.",
    no_args_is_help=True,
)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list(
    provider: Annotated[str | None, typer.Option(help="only this provider's")] = None,
    everything: Annotated[bool, typer.Option("--all", help="replayed ones too")] = False,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
) -> None:
    """What waits in intake's quarantine, newest first."""
    found = asyncio.run(
        _with_quarantine(lambda q: q.listed(provider=provider, status=None if everything else "held", limit=limit))
    )
    for held in found:
        typer.echo(
            f"#{held.id}  {held.status:<8} {held.provider:<16} {held.kind:<14} x{held.deliveries}  "
            f"last {held.last_seen_at:%Y-%m-%d %H:%M}  {held.reason[:160]}"
        )
    typer.echo(f"{len(found)} deliveries")


@quarantine_app.command("show")
def quarantine_show(held_id: Annotated[int, typer.Argument(help="the id `list` shows")]) -> None:
    """One held delivery: why, when, and its raw body."""
    held = asyncio.run(_with_quarantine(lambda q: q.get(held_id)))
    if held is None:
        raise typer.BadParameter(f"no quarantined delivery {held_id}", param_hint="ID")
    typer.echo(f"#{held.id} {held.provider} ({held.kind}, {held.status}), {held.deliveries} deliveries")
    typer.echo(f"first {held.first_seen_at:%Y-%m-%d %H:%M:%S}, last {held.last_seen_at:%Y-%m-%d %H:%M:%S}")
    typer.echo(f"reason: {held.reason}")
    typer.echo(f"headers: {held.headers}")
    typer.echo(held.body.decode(errors="replace"))


@quarantine_app.command("replay")
def quarantine_replay(
    held_id: Annotated[
        list[int] | None, typer.Option("--id", help="only these (repeatable); all held by default")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="a rules file whose intake section (labels, per-form fields) to map with", exists=True),
    ] = None,
) -> None:
    """Map held deliveries again (with the fixed mapping) and accept those that now make a lead; the running
    intake publishes them. Fetch failures are queued to be fetched again by the running intake."""
    from services.intake.domain import identity
    from services.intake.domain.mapping import FieldMapping
    from services.intake.webhooks.registry import build_adapters
    from services.rules import rules_path
    from shared.rules import load_rules_section

    settings = _settings("intake")
    try:
        fields, _ = load_rules_section(mapping or rules_path(settings.rules), "intake", FieldMapping)
    except RulesError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mapping") from exc
    identity.configure(fields.identity)
    adapters = build_adapters(settings, fields)

    outcomes = asyncio.run(_with_quarantine(lambda quarantine: quarantine.replay(held_id, adapters)))
    for outcome in outcomes:
        result = f"lead {outcome.lead_id}" if outcome.lead_id else (outcome.reason or "queued to fetch again")
        typer.echo(f"#{outcome.id}  {outcome.status:<8} {result}")
    typer.echo(f"{sum(o.status == 'replayed' for o in outcomes)} of {len(outcomes)} replayed")


async def _with_quarantine(work: "Callable[[Quarantine], Awaitable[T]]") -> T:
    from services.intake.commands.quarantine import Quarantine
    from shared.db.unit_of_work import UnitOfWorkFactory
    from shared.metrics import Metrics

    database = _database("intake")
    try:
        return await work(Quarantine(UnitOfWorkFactory(database), Metrics("intake")))
    finally:
        await database.dispose()


app.add_typer(subscriptions_app, name="subscriptions")

dlq_app = typer.Typer(help="Dead-letter topics: what was given up, and sending it again.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(
    group: Annotated[str | None, typer.Option(help="only this consumer group's dead letters")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    bootstrap: Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS")] = "127.0.0.1:9092",
) -> None:
    """List dead letters: where, which event, after how many attempts, and the error."""
    from shared.messaging import dead_letters

    kafka = _kafka(bootstrap)

    async def run() -> list[dead_letters.DeadLetter]:
        return await dead_letters.read(kafka, await dead_letters.dead_letter_topics(kafka, group), limit)

    letters = asyncio.run(run())
    for letter in letters:
        attempts = letter.headers.get("leadflow.attempts", b"?").decode()
        typer.echo(
            f"{letter.topic}[{letter.partition}]@{letter.offset}  event {letter.event_id}  "
            f"attempts {attempts}  {letter.error[:200]}"
        )
    typer.echo(f"{len(letters)} dead letters")


@dlq_app.command("replay")
def dlq_replay(
    group: Annotated[str, typer.Option(help="the consumer group whose dead letters to send again")],
    event_id: Annotated[list[str] | None, typer.Option(help="only these events (repeatable)")] = None,
    bootstrap: Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS")] = "127.0.0.1:9092",
) -> None:
    """Publish dead letters to their original topic again, after fixing what made them fail."""
    from shared.messaging import dead_letters

    kafka = _kafka(bootstrap)

    async def run() -> int:
        letters = await dead_letters.read(kafka, await dead_letters.dead_letter_topics(kafka, group), 100_000)
        chosen = [letter for letter in letters if not event_id or letter.event_id in event_id]
        return await dead_letters.replay(kafka, chosen)

    typer.echo(f"{asyncio.run(run())} dead letters published again; consumers skip what they already applied")


@app.command()
def contracts(
    out: Annotated[
        Path, typer.Option(help="directory for asyncapi.json, openapi/<service>.json and architecture.md")
    ] = Path("docs"),
    readme: Annotated[Path, typer.Option(help="the README whose event-flow block is generated")] = Path("README.md"),
    check: Annotated[bool, typer.Option(help="fail if the files differ from what the code generates")] = False,
    deploy: Annotated[Path, typer.Option(help="directory of the deploy files (the generated manifests)")] = Path(
        "deploy"
    ),
) -> None:
    """Generate the AsyncAPI and OpenAPI documents and the event flow of the README and architecture.md from the
    code, and the Prometheus-operator manifests from the alert rules and dashboards."""
    from services.contracts import generated_contracts
    from services.monitoring_manifests import generated_manifests

    stale = []
    wanted = generated_contracts(out, readme)
    wanted |= {deploy / relative: content for relative, content in generated_manifests(deploy).items()}
    for target, content in wanted.items():
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


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="the CSV export", exists=True, dir_okay=False)],
    mapping: Annotated[Path, typer.Option(help="the mapping file (YAML)", exists=True, dir_okay=False)],
    url: Annotated[str, typer.Option(help="intake's base URL")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="LEADFLOW_API_TOKEN", help="a token with leads:write")] = None,
    timeout: Annotated[
        float, typer.Option(help="seconds to follow the import before leaving it to run (exit code 2)")
    ] = 3600,
) -> None:
    """Import leads from a CSV through intake's import API, with a progress bar and a row error report."""
    from services.cli.csv_import import upload_and_follow

    raise typer.Exit(upload_and_follow(file, mapping, url.rstrip("/"), token, timeout_s=timeout))


@app.command()
def requalify(
    rules: Annotated[Path, typer.Option("--rules", help="the new rules file", exists=True, dir_okay=False)],
    dry_run: Annotated[bool, typer.Option(help="only show what would move")] = False,
    examples: Annotated[int, typer.Option(help="examples shown per from → to route")] = 3,
) -> None:
    """Re-qualify every lead under new rules: what would move, from where to where, and why."""
    from services.cli.whatif import apply, plan
    from services.qualifier.bootstrap import load_rules
    from services.rules import rules_path

    settings = _settings("qualifier")
    try:
        old, new = load_rules(rules_path(settings.rules)), load_rules(rules)
    except RulesError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rules") from exc
    database = Database(settings.database_url, settings.database_schema or "qualifier")

    async def run() -> None:
        try:
            result = await plan(database, old, new)
            _print_plan(result, old.version, new.version, examples)
            if dry_run or not result.moves:
                return
            with typer.progressbar(length=len(result.moves), label="applying") as bar:
                moved = await apply(
                    database,
                    new,
                    [m.lead_id for m in result.moves],
                    actor=f"requalify ({new.version})",
                    progress=lambda: bar.update(1),
                )
            typer.echo(f"applied: {moved} leads moved; their events are in the outbox for the qualifier to publish")
        finally:
            await database.dispose()

    asyncio.run(run())


@app.command()
def train() -> None:
    """Train the predictive model on recorded outcomes; it is activated only if it beats the one in use."""
    from services.rules import rules_path
    from services.scorer.active_model import ActiveModel
    from services.scorer.bootstrap import load_rules
    from services.scorer.commands.training import TrainingInProgress, train_model
    from services.scorer.domain.model import NotEnoughOutcomes
    from shared.db.unit_of_work import UnitOfWorkFactory

    settings = _settings("scorer")
    try:
        rules, _ = load_rules(rules_path(settings.rules))
    except RulesError as exc:
        raise typer.BadParameter(str(exc)) from exc
    database = Database(settings.database_url, settings.database_schema or "scorer")

    async def run() -> None:
        try:
            typer.echo("training on recorded outcomes…")
            result = await train_model(
                UnitOfWorkFactory(database), rules, ActiveModel(database, settings.model_signer())
            )
        except (NotEnoughOutcomes, TrainingInProgress) as exc:
            typer.echo(f"not trained: {exc}", err=True)
            raise typer.Exit(1) from exc
        finally:
            await database.dispose()
        m = result["metrics"]
        typer.echo(
            f"version {result['version']} {result['status']}: {result['decision']}\n"
            f"  AUC {m['auc']:.4f}  Brier {m['brier']:.4f}  top-decile lift {m['top_decile_lift']:.2f}  "
            f"({result['split']}; {result['training_examples']} training, {result['validation_examples']} validation, "
            f"{result['won']} won)"
        )
        if result.get("repredicted_leads") is not None:
            typer.echo(f"  {result['repredicted_leads']} leads re-predicted")

    asyncio.run(run())


@app.command()
def backtest(
    start: Annotated[datetime, typer.Option("--from", help="first period starting on or after this day")],
    end: Annotated[datetime, typer.Option("--to", help="periods starting before this day")],
    period: Annotated[str, typer.Option(help="month or quarter")] = "quarter",
    chart: Annotated[Path | None, typer.Option(help="also draw the backtest into this PNG file")] = None,
    simulations: Annotated[int, typer.Option(min=100, max=50_000, help="Monte Carlo runs per period")] = 2000,
) -> None:
    """Replay the opportunity history: forecast each period from its start and compare with what was won."""
    from services.cli.backtest_report import ChartUnavailable, table
    from services.cli.backtest_report import chart as draw
    from services.forecast.domain.backtest import backtest as run_backtest
    from services.forecast.domain.backtest import summarise
    from services.forecast.domain.projection import Period
    from services.forecast.persistence import repository

    try:
        length = Period(period)
    except ValueError as exc:
        raise typer.BadParameter("month or quarter", param_hint="--period") from exc
    if end <= start:
        raise typer.BadParameter(f"--to ({end.date()}) must be after --from ({start.date()})")
    settings = _settings("forecast")
    database = Database(settings.database_url, settings.database_schema or "forecast")

    async def load() -> list["Revision"]:
        try:
            async with database.session() as session:
                return await repository.revisions(session)
        finally:
            await database.dispose()

    history = asyncio.run(load())
    if not history:
        typer.echo("no opportunity history in the forecast's database yet", err=True)
        raise typer.Exit(1)
    rows = run_backtest(history, start=start.date(), end=end.date(), period=length, simulations=simulations)
    typer.echo(table(rows, summarise(rows)))
    if chart is not None:
        try:
            typer.echo(f"chart: {draw(rows, chart, f'Backtest by {length.value}: forecast at the start vs won')}")
        except ChartUnavailable as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc


def _print_plan(result: "Plan", old_version: str, new_version: str, examples: int) -> None:
    typer.echo(
        f"rules {old_version} → {new_version}: {result.evaluated} leads evaluated, {len(result.moves)} would move"
    )
    shown = result.examples(examples)
    for (source, target), count in result.routes().most_common():
        typer.echo(f"\n  {source:>12} → {target:<12} {count:>6} leads")
        for move in shown[(source, target)]:
            path = " → ".join(d.target.value for d in move.moves)
            typer.echo(f"      {move.lead_id}  via {path}: {move.moves[-1].reason}")
            for change in move.changed_criteria[:4]:
                typer.echo(f"          {change}")


def _spec(name: str):  # type: ignore[no-untyped-def]
    try:
        return service(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _kafka(bootstrap: str) -> "KafkaOptions":
    """The brokers named on the command line, reached with the security settings of the environment."""
    configured: KafkaOptions = _settings("intake").kafka_options()
    return replace(configured, bootstrap_servers=bootstrap)


def _database(name: str) -> Database:
    settings = _settings(_spec(name).name)
    return Database(settings.database_url, settings.database_schema or name)


def _settings(name: str, **overrides: object):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from shared.settings import settings_errors

    try:
        return service(name).settings(**overrides)
    except ValidationError as exc:
        raise typer.BadParameter(f"invalid environment for {name}: {settings_errors(exc)}") from exc


def main() -> None:
    """Entry point of the `leadflow` script."""
    app()


if __name__ == "__main__":
    main()
