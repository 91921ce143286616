"""Days, years and clock times as the business reads them (Asia/Shanghai unless configured): times are
stored UTC; which day or year something happened in is decided here."""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"


def zone(name: str | None = None) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_ZONE)


def local(at: datetime, tz: str | None = None) -> datetime:
    """A stored UTC time on the business clock."""
    return at.astimezone(zone(tz))


def year_of(at: datetime, tz: str | None = None) -> int:
    return local(at, tz).year


def today(now: datetime, tz: str | None = None) -> date:
    return local(now, tz).date()


def year_bounds(year: int, tz: str | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a business year as aware datetimes (compare them with stored UTC times)."""
    z = zone(tz)
    return datetime.combine(date(year, 1, 1), time(), z), datetime.combine(date(year + 1, 1, 1), time(), z)
