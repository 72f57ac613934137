"""The hand-off's clock: when a lead routed now is due to be accepted, counting only working hours."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.qualifier.domain.rules import WorkingHours

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def due_at(start: datetime, hours: float, calendar: WorkingHours) -> datetime:
    """`hours` of working time after `start`: a hot lead routed on Friday at 16:00 with a 4-hour SLA and a
    9-17 week is due on Monday at 12:00. Returned in `start`'s zone."""
    zone = ZoneInfo(calendar.timezone)
    local = start.astimezone(zone)
    left = timedelta(hours=hours)
    for _ in range(366 * 2):  # a calendar with one working day a week still ends within two years
        day = local.date()
        opens = datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=calendar.start)
        closes = datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=calendar.end)
        if _DAYS[day.weekday()] in calendar.days and local < closes:
            begin = max(local, opens)
            if begin + left <= closes:
                return (begin + left).astimezone(start.tzinfo)
            left -= closes - begin
        local = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    raise ValueError("the working-hours calendar has no working time")


def working_hours_between(start: datetime, end: datetime, calendar: WorkingHours) -> float:
    """Working hours from `start` to `end` (0 when end is not after start): how long a hand-off waited."""
    if end <= start:
        return 0.0
    zone = ZoneInfo(calendar.timezone)
    local, finish = start.astimezone(zone), end.astimezone(zone)
    total = timedelta()
    while local < finish:
        day = local.date()
        opens = datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=calendar.start)
        closes = datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=calendar.end)
        if _DAYS[day.weekday()] in calendar.days:
            begin, stop = max(local, opens), min(finish, closes)
            if stop > begin:
                total += stop - begin
        local = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    return total.total_seconds() / 3600
