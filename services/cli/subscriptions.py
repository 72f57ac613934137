"""`leadflow subscriptions`: outbound webhooks managed from a shell, on the notifier's database."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from shared.db.database import Database

if TYPE_CHECKING:
    from services.notifier.commands.subscriptions import Subscriptions

T = TypeVar("T")

subscriptions_app = typer.Typer(
    help="Outbound webhooks: who is told what (a CRM, a chat channel), their queues, replays.", no_args_is_help=True
)


async def _with(work: "Callable[[Subscriptions], Awaitable[T]]") -> T:
    from services.notifier.commands.subscriptions import Subscriptions
    from services.registry import service
    from shared.db.unit_of_work import UnitOfWorkFactory

    settings = service("notifier").settings()
    database = Database(settings.database_url, settings.database_schema or "notifier")
    plain_http = bool(getattr(settings, "allow_plain_http", False)) or settings.environment != "production"
    try:
        return await work(Subscriptions(UnitOfWorkFactory(database), plain_http=plain_http))
    finally:
        await database.dispose()


def _run(work: "Callable[[Subscriptions], Awaitable[T]]") -> T:
    from services.notifier.commands.subscriptions import UnknownSubscription
    from services.notifier.domain.subscriptions import SubscriptionError

    try:
        return asyncio.run(_with(work))
    except SubscriptionError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except UnknownSubscription as exc:
        raise typer.BadParameter(f"no subscription {exc}", param_hint="ID") from exc


@subscriptions_app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="the endpoint: https://…")],
    event: Annotated[list[str], typer.Option("--event", help="lead.scored, lead.stage_changed, opportunity.*")],
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", help="key=value, all must match (segment=hot, stage=mql, …)")
    ] = None,
    slack: Annotated[bool, typer.Option(help="a Slack-compatible {text} message instead of the JSON event")] = False,
    description: Annotated[str | None, typer.Option(help="what it is for")] = None,
) -> None:
    """Subscribe an endpoint; prints its id and the secret to verify signatures with (shown this once)."""
    filters = {}
    for item in filter_ or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint="--filter")
        filters[key.strip()] = value.strip()
    row = _run(
        lambda s: s.add(
            url=url,
            event_types=event,
            filters=filters,
            format="slack" if slack else "standard",
            secret=None,
            description=description,
            actor="cli",
        )
    )
    typer.echo(f"subscription {row['subscription_id']}")
    typer.echo(f"secret {row['secret']}")


@subscriptions_app.command("list")
def listed() -> None:
    """Every subscription with its queue and state."""
    found = _run(lambda s: s.listed())
    for s in found:
        state = "disabled" if s["disabled_at"] else f"failing x{s['failures']}" if s["failures"] else "active"
        typer.echo(
            f"{s['subscription_id']}  {state:<12} pending {s['pending']:<6} {s['format']:<8} "
            f"{','.join(s['event_types'])} {json.dumps(s['filters'])}  {s['url']}"
        )
    typer.echo(f"{len(found)} subscriptions")


@subscriptions_app.command("enable")
def enable(subscription_id: Annotated[str, typer.Argument(help="the id `list` shows")]) -> None:
    """Enable a disabled endpoint again; its queue is delivered from where it stopped."""
    found = _run(lambda s: s.enable(subscription_id))
    typer.echo(f"enabled; {found['pending']} deliveries waiting")


@subscriptions_app.command("remove")
def remove(subscription_id: Annotated[str, typer.Argument(help="the id `list` shows")]) -> None:
    """Remove a subscription with its queue and delivery log."""
    _run(lambda s: s.remove(subscription_id))
    typer.echo("removed")


@subscriptions_app.command("replay")
def replay(
    subscription_id: Annotated[str, typer.Argument(help="the id `list` shows")],
    delivery: Annotated[int | None, typer.Option(help="one delivery, by its id in the log")] = None,
    start: Annotated[datetime | None, typer.Option("--from", help="deliveries queued from then")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="… until then")] = None,
) -> None:
    """Deliver again one delivery or those queued in a time range (the running notifier sends them)."""
    if delivery is None and start is None and end is None:
        raise typer.BadParameter("give --delivery, or --from and/or --to")
    start, end = (t.replace(tzinfo=t.tzinfo or UTC) if t else None for t in (start, end))  # naive: UTC
    count = _run(lambda s: s.replay(subscription_id, delivery_id=delivery, start=start, end=end))
    typer.echo(f"{count} deliveries queued again")
