"""How numbers, times and reasons read on the pages."""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup, escape


def percent(value: Any) -> str:
    """0.4213 → '42 %'; unknown (None, or a part of the page its service did not send) → '—'."""
    return f"{float(value) * 100:.0f} %" if isinstance(value, int | float | Decimal) else "—"


def money(value: Any) -> str:
    """An amount with thousands separators and no cents when there are none."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def shown(value: Any) -> str:
    """A piece of evidence as a rep typed it: yes/no, whole numbers without a decimal point."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sla(due: str | None, status: str | None, now: datetime | None = None) -> str:
    """The hand-off's clock as a rep reads it: 'due in 3 h 10 min', 'overdue by 2 h', 'accepted'."""
    if status in ("accepted", "rejected"):
        return str(status)
    if not due or status not in ("pending", "breached"):
        return ""
    try:
        moment = datetime.fromisoformat(due.replace("Z", "+00:00"))
    except ValueError:
        return ""
    left = moment - (now or datetime.now(UTC))
    minutes = int(abs(left.total_seconds()) // 60)
    span = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    if status == "breached":
        return f"not accepted in time (overdue by {span})" if left.total_seconds() < 0 else "escalated"
    return f"due in {span}" if left.total_seconds() >= 0 else f"overdue by {span}"


def when(value: str | None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM UTC'."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def why(factors: Iterable[Mapping[str, Any]], most: int = 3) -> str:
    """The reasons behind a score, strongest first."""
    strongest = sorted(factors, key=lambda f: -abs(float(f.get("points", 0))))[:most]
    return "; ".join(str(f.get("reason") or f.get("name")) for f in strongest)


def band(line: Mapping[str, Any]) -> Markup:
    """The P10-P90 band of a forecast line as a bar scaled to its best case, with P50 marked."""
    top = max(float(line.get("best_case") or 0), float(line.get("p90") or 0), 1.0)
    low, mid, high = (float(line.get(k) or 0) / top * 100 for k in ("p10", "p50", "p90"))
    label = escape(f"P10 {money(line.get('p10'))} to P90 {money(line.get('p90'))}, P50 {money(line.get('p50'))}")
    return Markup(  # noqa: S704 - built from numbers and an escaped label
        f'<span class="band" role="img" aria-label="{label}">'
        f'<span style="left:{low:.1f}%;width:{max(high - low, 0.5):.1f}%"></span>'
        f'<i style="left:{mid:.1f}%"></i></span>'
    )
