"""What the yearly report counts, on the business clock (Asia/Shanghai): tickets opened, closed, overdue
and escalated in the year, schools ranked by shortfall, laggards."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from inspections.reports.service import build_content
from inspections.tickets.enums import Severity, TicketStatus as T
from inspections.tickets.models import Ticket, TicketEvent
from tests.factories import make_world

UTC = timezone.utc
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _ticket(session, school, item, status, opened, *, due, closed=None):
    t = Ticket(id=uuid.uuid4(), school_id=school.id, item_code=item, section="", title=item, status=status,
               severity=Severity.medium, due_date=due, opened_at=opened, closed_at=closed,
               shortfall=Decimal("1.00"), unit="teachers")
    session.add(t)
    session.flush()
    return t


def _escalate(session, ticket, at):
    session.add(TicketEvent(ticket_id=ticket.id, at=at, data={"escalation": 1, "on": at.date().isoformat()}))


def test_ticket_figures_of_the_year_on_the_business_clock(session):
    w = make_world(session)
    a1, a1b, a2 = w.school_a1, w.school_a1b, w.school_a2
    # Opened 2025-12-31 17:00 UTC = 2026-01-01 01:00 in Shanghai: opened in 2026.
    new_year = _ticket(session, a1, "R1", T.open, datetime(2025, 12, 31, 17, 0, tzinfo=UTC), due=date(2026, 3, 1))
    # Opened in 2025 (Shanghai), closed in 2026 a day after it fell due: closed and overdue in 2026.
    late = _ticket(session, a1, "R2", T.closed, datetime(2025, 12, 31, 15, 0, tzinfo=UTC), due=date(2026, 2, 1),
                   closed=datetime(2026, 2, 2, 3, 0, tzinfo=UTC))
    # Closed at 01:00 the day after its due day in Shanghai (still its due day in UTC): overdue.
    _ticket(session, a1b, "R3", T.closed, datetime(2026, 3, 1, 0, 0, tzinfo=UTC), due=date(2026, 4, 1),
            closed=datetime(2026, 4, 1, 17, 0, tzinfo=UTC))
    # Due after today: not overdue yet. Cancelled: never overdue.
    _ticket(session, a1b, "R4", T.in_progress, datetime(2026, 11, 1, tzinfo=UTC), due=date(2026, 12, 15))
    _ticket(session, a1b, "R5", T.cancelled, datetime(2026, 1, 5, tzinfo=UTC), due=date(2026, 2, 5))
    # Another county's ticket is not this county's.
    _ticket(session, a2, "R1", T.open, datetime(2026, 5, 1, tzinfo=UTC), due=date(2026, 6, 1))
    _escalate(session, new_year, datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    _escalate(session, new_year, datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
    _escalate(session, late, datetime(2025, 12, 31, 15, 0, tzinfo=UTC))  # 23:00 on 2025-12-31 in Shanghai
    session.flush()

    c = build_content(session, w.county_a1, 2026, now=NOW)
    assert c["tickets"] == {"opened": 4, "closed": 2, "overdue": 3, "escalations": 2, "open_now": 2}
    assert c["as_of"] == "2026-11-30" and c["zone"] == "Asia/Shanghai" and c["generated_at"] == "2026-11-30 10:00"
    by_code = {s["code"]: s for s in c["schools"]}
    assert by_code[a1.code]["tickets"] == {"opened": 1, "closed": 1, "overdue": 2, "escalations": 2, "open_now": 1}
    assert by_code[a1b.code]["tickets"]["overdue"] == 1
    # No scores: ranked by overdue tickets, then open ones.
    assert [(s["code"], s["rank"]) for s in c["schools"]] == [(a1.code, 1), (a1b.code, 2)]
    laggard = {lag["code"]: lag for lag in c["laggards"]}
    assert laggard[a1.code]["why"] == [{"escalations": 2}, {"overdue": 2}]
    assert laggard[a1b.code]["why"] == [{"overdue": 1}]
    # On UTC days both early tickets were opened in 2025, and one escalation happened then.
    c2025 = build_content(session, w.county_a1, 2025, tz="UTC", now=NOW)
    assert (c2025["tickets"]["opened"], c2025["tickets"]["escalations"]) == (2, 1)
    assert c2025["as_of"] == "2025-12-31"
    # A city's report counts every county; its laggards include the counties not judged in the year.
    city = build_content(session, w.city_a, 2026, now=NOW)
    assert {c["code"] for c in city["counties"]} == {w.county_a1.code, w.county_a2.code}
    assert city["tickets"]["opened"] == 5
    assert {lag["code"] for lag in city["laggards"] if lag["kind"] == "county"} == {w.county_a1.code, w.county_a2.code}
    session.rollback()
