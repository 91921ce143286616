"""Days in the business zone (Asia/Shanghai by default): a ticket opened at 06:05 Beijing time on 24 January
(22:05 UTC on the 23rd) belongs to 24 January everywhere a day is decided."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from inspections import clock
from inspections.accounts.scope import principal_for
from inspections.planning import service as planning
from inspections.planning.enums import PlanState
from inspections.tickets import dashboard as dash
from inspections.tickets import service as tickets
from inspections.tickets.enums import Severity, TicketStatus as T
from inspections.tickets.models import Ticket
from tests.factories import make_world

BEIJING_0605_JAN24 = datetime(2026, 1, 23, 22, 5, tzinfo=timezone.utc)


def test_the_instant_falls_on_the_business_day():
    assert clock.zone().key == "Asia/Shanghai"
    assert clock.day_of(BEIJING_0605_JAN24) == date(2026, 1, 24)
    assert f"{clock.local(BEIJING_0605_JAN24):%Y-%m-%d %H:%M}" == "2026-01-24 06:05"
    assert clock.day_start(date(2026, 1, 24)) == datetime(2026, 1, 23, 16, 0, tzinfo=timezone.utc)


def test_today_and_overdue_follow_the_business_day(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: BEIJING_0605_JAN24)
    assert clock.today() == date(2026, 1, 24)
    t = Ticket(status=T.open, due_date=date(2026, 1, 23))
    assert tickets.is_overdue(t)  # due yesterday in Beijing (still "today" by UTC)
    # The deadline counts from the business day of opening.
    assert tickets.due_date_for(Severity.high, BEIJING_0605_JAN24) == date(2026, 2, 23)


def test_a_bad_zone_name_is_refused_at_start_up():
    with pytest.raises(ValueError, match="BUSINESS_TIMEZONE"):
        clock.configure("Mars/Olympus")
    assert clock.zone().key == "Asia/Shanghai"


def test_visits_turn_late_on_the_business_day(session):
    from inspections.visits.enums import VisitStatus
    from inspections.visits.models import Visit
    # Planned for 23 January: at 06:05 Beijing time on the 24th it is late, not upcoming.
    v = Visit(status=VisitStatus.planned, planned_for=date(2026, 1, 23))
    assert planning.state_of(v, date(2026, 1, 24)) == PlanState.late


@pytest.fixture
def world(session):
    w = make_world(session)
    for at, item in ((BEIJING_0605_JAN24, "R1"), (datetime(2026, 1, 31, 17, 0, tzinfo=timezone.utc), "R2")):
        session.add(Ticket(id=uuid.uuid4(), school_id=w.school_a1.id, item_code=item, section="", title=item,
                           status=T.open, severity=Severity.medium, due_date=date(2026, 6, 1), opened_at=at,
                           shortfall=Decimal("1"), unit="teachers"))
    session.commit()
    return w


def test_dashboard_date_filter_and_months_use_the_business_day(session, world):
    p = principal_for(session, world.office_a)
    on = lambda d: dash.Filters(opened_from=d, opened_to=d)  # noqa: E731
    assert dash.summary(session, p, on(date(2026, 1, 24)), today=date(2026, 3, 1)).totals.open == 1
    assert dash.summary(session, p, on(date(2026, 1, 23)), today=date(2026, 3, 1)).totals.open == 0
    # 01:00 Beijing time on 1 February is February's, in the kept counts and counted live alike.
    for f in (dash.Filters(), dash.Filters(opened_from=date(2026, 1, 1))):
        trend = dict((m, o) for m, o, _ in dash.summary(session, p, f, today=date(2026, 3, 1)).trend)
        assert (trend["2026-01"], trend["2026-02"]) == (1, 1), f
