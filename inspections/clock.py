"""The business time zone: which calendar day an instant falls on, for every rule that counts days.

Times are stored in UTC; days (due dates, overdue, late and missed visits, the dashboard's date filters,
months and counts, exports) are decided in one zone, BUSINESS_TIMEZONE (default Asia/Shanghai: every
user is in China). The app sets it at start-up (`configure`); code that runs outside an app (a script,
a test) gets the default.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"
_zone = ZoneInfo(DEFAULT_ZONE)


def configure(name: str | None) -> ZoneInfo:
    """Use the zone `name` (an IANA name); a wrong name is an error at start-up."""
    global _zone
    try:
        _zone = ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"BUSINESS_TIMEZONE must be an IANA time zone such as Asia/Shanghai, not {name!r}") from None
    return _zone


def zone(tz: str | None = None) -> ZoneInfo:
    """The configured business zone (or the zone named `tz`)."""
    return ZoneInfo(tz) if tz else _zone


def local(at: datetime, tz: str | None = None) -> datetime:
    """A stored (UTC) instant as the business zone's wall-clock time (or zone `tz`'s)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(zone(tz))


def day_of(at: datetime) -> date:
    """The business day an instant falls on."""
    return local(at).date()


def now() -> datetime:
    """The current instant, UTC (tests replace this one function to stand at a given moment)."""
    return datetime.now(timezone.utc)


def today() -> date:
    """Today in the business zone."""
    return day_of(now())


def day_start(d: date) -> datetime:
    """The UTC instant the business day `d` starts (its local midnight)."""
    return datetime.combine(d, time.min, tzinfo=_zone).astimezone(timezone.utc)


def utc_offset_at(d: date) -> timedelta:
    """The zone's offset from UTC on day `d` (for SQL that cannot name a zone)."""
    return datetime.combine(d, time(12), tzinfo=_zone).utcoffset() or timedelta(0)


def year_of(at: datetime, tz: str | None = None) -> int:
    """The business year an instant falls in (`tz`: a zone name other than the configured one)."""
    return at.astimezone(zone(tz)).year


def year_bounds(year: int, tz: str | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a business year as aware datetimes (compare them with stored UTC times)."""
    z = zone(tz)
    return datetime.combine(date(year, 1, 1), time(), z), datetime.combine(date(year + 1, 1, 1), time(), z)
