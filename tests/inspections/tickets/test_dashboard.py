"""Dashboard figures against hand-counted tickets: counts, overdue, aging edges, closure, median, trend, scope."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from inspections.accounts.scope import principal_for
from inspections.tickets import dashboard as dash
from inspections.tickets.enums import Severity, TicketStatus as T
from inspections.tickets.models import Ticket
from tests.factories import make_world

TODAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def _ticket(session, school, item, status, *, opened_days_ago, closed_days_after=None, due_in=30,
            severity=Severity.medium):
    opened = NOON - timedelta(days=opened_days_ago)
    t = Ticket(id=uuid.uuid4(), school_id=school.id, item_code=item, section="", title=f"{item} at {school.code}",
               status=status, severity=severity, due_date=(opened + timedelta(days=due_in)).date(), opened_at=opened,
               closed_at=opened + timedelta(days=closed_days_after) if closed_days_after is not None else None,
               shortfall=Decimal("1.00"), unit="teachers")
    session.add(t)
    return t


@pytest.fixture
def world(session):
    w = make_world(session)
    a1, a1b, a2, b1 = w.school_a1, w.school_a1b, w.school_a2, w.school_b1
    # County A1: school a1 has 3 open (one 30 days old, one 31, one 95) and 2 closed (3 and 10 days to close).
    _ticket(session, a1, "R1", T.open, opened_days_ago=30)                      # age 30: bucket 0-30, not overdue
    _ticket(session, a1, "R2", T.in_progress, opened_days_ago=31)               # age 31: 31-60, overdue (due 30 d)
    _ticket(session, a1, "R3", T.awaiting_verification, opened_days_ago=95, due_in=200)  # >90, not overdue
    _ticket(session, a1, "R4", T.closed, opened_days_ago=40, closed_days_after=3)
    _ticket(session, a1, "R5", T.closed, opened_days_ago=200, closed_days_after=10)
    _ticket(session, a1b, "R1", T.cancelled, opened_days_ago=5)
    _ticket(session, a1b, "R1", T.acknowledged, opened_days_ago=61)              # 61-90, overdue
    # County A2 and county B1 (another city): one open ticket each.
    _ticket(session, a2, "R1", T.open, opened_days_ago=1)
    _ticket(session, b1, "R1", T.open, opened_days_ago=1)
    session.commit()
    return w


def test_counts_by_county_school_and_indicator(session, world):
    s = dash.summary(session, principal_for(session, world.office_a), dash.Filters(), today=TODAY)
    assert (s.totals.open, s.totals.overdue, s.totals.closed, s.totals.cancelled) == (5, 2, 2, 1)
    assert s.totals.closure_rate == pytest.approx(2 / 7)
    counties = {r.label: (r.counts.open, r.counts.overdue, r.counts.closed) for r in s.by_county}
    assert counties == {world.county_a1.name: (4, 2, 2), world.county_a2.name: (1, 0, 0)}
    r1 = next(r for r in s.by_indicator if r.key == "R1")
    assert (r1.counts.open, r1.counts.overdue, r1.counts.cancelled) == (3, 1, 1)
    assert s.by_school[0].key == str(world.school_a1.id)  # most open first


def test_aging_edges_median_and_trend(session, world):
    s = dash.summary(session, principal_for(session, world.office_a1), dash.Filters(), today=TODAY)
    assert s.aging == [("0-30", 1), ("31-60", 1), ("61-90", 1), (">90", 1)]
    assert s.median_days_to_close == pytest.approx(6.5)  # 3 and 10 days
    months = dict((m, (o, c)) for m, o, c in s.trend)
    assert len(s.trend) == 12 and s.trend[-1][0] == "2026-11"
    # October: R1 (Oct 21), R2 (Oct 20) and R4 (Oct 11) opened; R4 closed on Oct 14.
    assert months["2026-10"] == (3, 1)
    assert months["2026-11"] == (1, 0) and "2026-05" in months  # the cancelled R1 of a1b, Nov 15


def test_scope_and_filters(session, world):
    office_b = principal_for(session, world.office_b1) if hasattr(world, "office_b1") else None
    p = principal_for(session, world.office_a1)
    s = dash.summary(session, p, dash.Filters(), today=TODAY)
    assert s.totals.open == 4  # county A2 and city B are out of this office's scope
    only_r1 = dash.summary(session, p, dash.Filters(item_code="R1"), today=TODAY)
    assert (only_r1.totals.open, only_r1.totals.cancelled) == (2, 1)
    overdue = dash.tickets(session, p, dash.Filters(state="overdue"), today=TODAY)
    assert sorted(r.Ticket.item_code for r in overdue) == ["R1", "R2"]
    # A county outside the scope as a filter narrows to nothing rather than widening the scope.
    none = dash.summary(session, p, dash.Filters(county_id=world.county_b1.id), today=TODAY)
    assert none.totals.open == 0 and none.by_county == []
    assert office_b is None or dash.summary(session, office_b, dash.Filters(), today=TODAY).totals.open == 1


def test_drill_down_pages_and_export_rows(session, world):
    p = principal_for(session, world.admin)
    first = dash.tickets(session, p, dash.Filters(), limit=4, today=TODAY)
    rest = dash.tickets(session, p, dash.Filters(), limit=100, today=TODAY,
                        after=(first[-1].Ticket.opened_at, first[-1].Ticket.id))
    ids = [r.Ticket.id for r in first] + [r.Ticket.id for r in rest]
    assert len(ids) == len(set(ids)) == 9
    row = dash.export_row(next(r for r in first + rest if r.Ticket.item_code == "R2"), TODAY)
    assert dict(zip(dash.EXPORT_COLUMNS, row))["overdue"] == "yes"
