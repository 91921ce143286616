"""Ticket titles and history made from stored facts at display time, in the reader's language."""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from flask import session as web_session

from inspections.tickets.enums import Severity, TicketStatus as T
from inspections.tickets.models import Ticket, TicketEvent
from server.web import words
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import login

CJK = re.compile(r"[\u4e00-\u9fff]")


def _ticket(**kw) -> Ticket:
    base = dict(id=uuid.uuid4(), item_code="R1", section="", title="中文标题", status=T.open,
                severity=Severity.medium, measured=None, required=None, shortfall=None, unit=None,
                facts={"source": "scoring", "name": {"zh": "规模", "en": "School size"}, "comparator": "ge"})
    base.update(kw)
    return Ticket(**base)


@pytest.fixture
def en(app):
    with app.test_request_context("/web/tickets"):
        web_session["lang"] = "en"
        yield


@pytest.fixture
def zh(app):
    with app.test_request_context("/web/tickets"):
        yield


def test_an_excess_over_a_maximum_is_not_a_shortfall(en):
    t = _ticket(measured=2009, required=2000, shortfall=Decimal("9"), unit="students",
                facts={"source": "scoring", "name": {"zh": "学校规模", "en": "School size"}, "comparator": "le"})
    assert words.ticket_title(t) == "School size: Measured 2,009, required ≤ 2,000, over by 9 students"


def test_excess_in_chinese(zh):
    t = _ticket(measured=2009, required=2000, shortfall=Decimal("9"), unit="students",
                facts={"source": "scoring", "name": {"zh": "学校规模", "en": "School size"}, "comparator": "le"})
    assert words.ticket_title(t) == "学校规模：实测 2,009，要求 ≤ 2,000，超出 9 名学生"


def test_plurals_of_units(en):
    assert words.amount_text(Decimal("1"), "rooms") == "1 room"
    assert words.amount_text(Decimal("2"), "rooms") == "2 rooms"
    assert words.amount_text(Decimal("1"), "teachers") == "1 teacher"
    assert words.amount_text(Decimal("850"), "m2") == "850.00 m²"


def test_booleans_read_as_words_not_program_values(en):
    t = _ticket(measured=False, required=True, facts={"source": "scoring", "comparator": "eq",
                                                      "name": {"zh": "无过重课业负担", "en": "No excessive homework"}})
    title = words.ticket_title(t)
    assert title == "No excessive homework: Measured No, required = Yes"
    assert "False" not in title and "True" not in title


def test_old_tickets_without_facts_take_the_standards_names(en):
    t = _ticket(facts=None, measured=0.5, required=4.2, shortfall=Decimal("3"), unit="teachers")
    title = words.ticket_title(t)
    assert not CJK.search(title) and "≥ 4.2" in title and title.endswith("short by 3 teachers")


def test_escalation_history_in_the_page_language(zh):
    t = _ticket(due_date=date(2026, 1, 1))
    ev = TicketEvent(note="overdue since 2026-01-01: escalated to the supervisory office (督办)",
                     data={"escalation": 1, "on": "2026-02-01", "days_overdue": 31})
    text = words.event_text(ev, t)
    assert text == "已逾期 31 天（期限 2026-01-01）：已提交督导室督办" and "overdue" not in text


def test_a_scored_tickets_pages_are_in_english_in_english(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    t = session.query(Ticket).one()
    assert t.facts["source"] == "scoring" and t.facts["comparator"] and t.facts["name"]["en"]
    login(client, w.school_user_a1.username)
    listing = client.get("/web/tickets?lang=en").get_data(as_text=True)
    link = re.search(r'href="/web/tickets/[0-9a-f-]+">([^<]+)</a>', listing).group(1)
    assert not CJK.search(link) and "short by 2 teachers" in link
    page = client.get(f"/web/tickets/{t.id}").get_data(as_text=True)
    history = re.search(r'data-testid="history">(.*?)</ol>', page, re.S).group(1)
    assert "Opened after a visit." in history and not CJK.search(history)
