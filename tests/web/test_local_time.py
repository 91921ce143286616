"""Pages show times in the business zone (Asia/Shanghai) and decide days there."""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from inspections import clock
from inspections.tickets.enums import Severity, TicketStatus as T
from inspections.tickets.models import Ticket, TicketEvent
from tests.factories import make_world
from tests.web.helpers import login

OPENED = datetime(2026, 1, 23, 22, 5, tzinfo=timezone.utc)  # 06:05 Beijing time, 24 January


@pytest.fixture
def world(session):
    w = make_world(session)
    t = Ticket(id=uuid.uuid4(), school_id=w.school_a1.id, item_code="R1", section="", title="R1", status=T.open,
               severity=Severity.medium, due_date=date(2026, 1, 23), opened_at=OPENED, shortfall=Decimal("1"),
               unit="teachers")
    session.add(t)
    session.flush()
    session.add(TicketEvent(ticket_id=t.id, at=OPENED, to_status="open", data={}))
    session.commit()
    w.ticket = t
    return w


def test_history_shows_beijing_time(client, world):
    login(client, world.school_user_a1.username)
    page = client.get(f"/web/tickets/{world.ticket.id}").get_data(as_text=True)
    history = re.search(r'data-testid="history">(.*?)</ol>', page, re.S).group(1)
    assert "2026-01-24 06:05" in history and "UTC" not in history and "2026-01-23 22:05" not in history


def test_overdue_is_decided_on_the_beijing_day(client, world, monkeypatch):
    login(client, world.school_user_a1.username)
    url = f"/web/tickets/{world.ticket.id}?lang=en"
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 1, 23, 15, 0, tzinfo=timezone.utc))  # 23:00 on the 23rd
    assert "Overdue" not in client.get(url).get_data(as_text=True)
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 1, 23, 17, 0, tzinfo=timezone.utc))  # 01:00 on the 24th
    assert "Overdue" in client.get(url).get_data(as_text=True)


def test_dashboard_date_filter_files_the_ticket_under_its_beijing_day(client, world):
    login(client, world.office_a1.username)

    def count(day: str) -> int:
        page = client.get(f"/web/dashboard?opened_from={day}&opened_to={day}").get_data(as_text=True)
        return int(re.search(r'data-testid="count-open">(\d+)<', page).group(1))
    assert (count("2026-01-23"), count("2026-01-24")) == (0, 1)
