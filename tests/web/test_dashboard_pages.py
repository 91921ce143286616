"""Office dashboard pages: who may see them, numbers that match the exports, filters, both languages."""
from __future__ import annotations

import csv
import io
import re

import pytest

from inspections.accounts.enums import Role
from tests.factories import GOOD_PRIMARY, make_user, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import csrf as _csrf, login as _login

SHORT_PE = {**GOOD_PRIMARY, "pe_art_teachers": 4}


def _count(page: str, name: str) -> int:
    return int(re.search(rf'data-testid="count-{name}">(\d+)<', page).group(1))


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    submit_visit(client, h, w.school_a1.id, SHORT_PE)
    insp_a2 = make_user(session, Role.inspector, jurisdiction=w.county_a2)
    session.commit()
    submit_visit(client, token_for(session, insp_a2), w.school_a2.id, SHORT_PE)
    run_jobs(app)
    return w


def test_office_sees_its_scope_and_the_csv_matches(client, world):
    _login(client, world.office_a1.username)
    page = client.get("/web/dashboard").get_data(as_text=True)
    open_a1 = _count(page, "open")
    assert open_a1 > 0 and _count(page, "closed") == 0
    assert world.county_a2.name not in page  # county A2's tickets are another office's
    assert "<svg" in page and 'data-testid="aging"' in page
    r = client.get("/web/dashboard/export.csv")
    assert r.status_code == 200 and r.data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    # Headers and values in the reader's language (Chinese by default), no internal ids.
    assert len([x for x in rows if x["状态"] not in ("已销号", "已撤销")]) == open_a1
    assert {x["县区"] for x in rows} == {world.county_a1.name}
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", r.get_data(as_text=True))
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", x["开单时间"]) for x in rows)  # local, to the minute
    english = list(csv.DictReader(io.StringIO(client.get("/web/dashboard/export.csv?lang=en")
                                              .get_data(as_text=True).lstrip("\ufeff"))))
    assert {x["Status"] for x in english} <= {"Open", "Acknowledged", "In progress", "Awaiting verification"}
    assert all("short by" in x["Ticket"] and x["Unit"] == "teachers" for x in english)
    client.get("/web/dashboard?lang=zh-CN")
    # The city office sees both counties.
    client.post("/web/logout", data={"csrf_token": _csrf(client.get("/web/dashboard"))})
    _login(client, world.office_a.username)
    page = client.get("/web/dashboard").get_data(as_text=True)
    assert _count(page, "open") > open_a1 and world.county_a2.name in page
    filtered = client.get(f"/web/dashboard?county_id={world.county_a1.id}").get_data(as_text=True)
    assert _count(filtered, "open") == open_a1


def test_xlsx_export_reads_back(client, world):
    openpyxl = pytest.importorskip("openpyxl")
    _login(client, world.office_a1.username)
    r = client.get("/web/dashboard/export.xlsx?state=open")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(r.data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("学校代码", "学校", "县区")
    head = rows[0]
    for row in rows[1:]:  # numbers are numbers a spreadsheet can sum
        cells = dict(zip(head, row))
        assert isinstance(cells["实测"], (int, float)) and isinstance(cells["差距"], (int, float)), cells
    page = client.get("/web/dashboard").get_data(as_text=True)
    assert len(rows) - 1 == _count(page, "open")


def test_drill_down_links_to_ticket_pages(client, world):
    _login(client, world.office_a1.username)
    page = client.get("/web/dashboard/tickets?state=open").get_data(as_text=True)
    link = re.search(r'href="(/web/tickets/[0-9a-f-]+)"', page).group(1)
    assert client.get(link).status_code == 200
    assert "Tickets" in client.get("/web/dashboard/tickets?state=open&lang=en").get_data(as_text=True)


@pytest.mark.parametrize("query", ["county_id=nope", "state=whatever", "opened_from=2026-13-01", "after=%%%"])
def test_bad_filters_are_400(client, world, query):
    _login(client, world.office_a1.username)
    assert client.get(f"/web/dashboard/tickets?{query}").status_code == 400


@pytest.mark.parametrize("who", ["school_user_a1", "inspector_a1"])
def test_schools_and_inspectors_do_not_get_the_office_dashboard(client, world, who):
    _login(client, getattr(world, who).username)
    for url in ("/web/dashboard", "/web/dashboard/export.csv", "/web/dashboard/export.xlsx", "/web/dashboard/counties"):
        assert client.get(url).status_code == 403


def test_signed_out_is_sent_to_login(client, world):
    r = client.get("/web/dashboard/export.csv")
    assert r.status_code == 302 and "/web/login" in r.headers["Location"]


def test_county_reports_page(app, client, session, world):
    _login(client, world.office_a1.username)
    page = client.get("/web/dashboard/counties").get_data(as_text=True)
    assert world.county_a1.name in page and world.county_a2.name not in page
    assert "差异系数" in page


def test_the_state_filter_is_offered_and_shown(client, world):
    """The form offers open / overdue / closed / cancelled; the chosen one stays selected, the counts
    follow it, and a closure rate (meaningless within one state) is not shown."""
    _login(client, world.office_a1.username)
    page = client.get("/web/dashboard?lang=en").get_data(as_text=True)
    select = re.search(r'<select name="state" data-testid="state">(.*?)</select>', page).group(1)
    assert re.findall(r'value="(\w*)"', select) == ["", "open", "overdue", "closed", "cancelled"]
    assert ">Overdue<" in select and "selected" not in select
    everything = _count(page, "open")
    page = client.get("/web/dashboard?state=open").get_data(as_text=True)
    assert '<option value="open" selected>' in page
    assert _count(page, "open") == everything and _count(page, "closed") == 0
    assert re.search(r'data-testid="closure-rate">–<', page)
    page = client.get("/web/dashboard?state=closed").get_data(as_text=True)
    assert _count(page, "open") == 0 and _count(page, "closed") == 0  # nothing closed yet


def test_indicator_filter_is_a_select_with_names_and_severities_are_words(client, world):
    _login(client, world.office_a1.username)
    page = client.get("/web/dashboard?lang=en").get_data(as_text=True)
    select = re.search(r'<select name="item_code" data-testid="indicator">(.*?)</select>', page, re.S).group(1)
    assert re.search(r'<option value="R1">R1 Teachers above required qualification per 100 students</option>', select)
    severity = re.search(r'<select name="severity">(.*?)</select>', page, re.S).group(1)
    assert ">High<" in severity and ">high<" not in severity
    zh = client.get("/web/dashboard?lang=zh-CN").get_data(as_text=True)
    assert ">高<" in re.search(r'<select name="severity">(.*?)</select>', zh, re.S).group(1)


def test_drill_down_shows_and_clears_its_filters_and_sorts_by_deadline(client, session, world):
    from datetime import date

    from inspections.tickets.models import Ticket
    _login(client, world.office_a.username)
    tickets = session.query(Ticket).all()
    assert len(tickets) >= 2
    for i, t in enumerate(tickets):  # deadlines in the reverse of the opening order
        t.due_date = date(2027, 1, 1 + len(tickets) - i)
    session.commit()
    page = client.get(f"/web/dashboard/tickets?state=open&county_id={world.county_a1.id}&lang=en").get_data(as_text=True)
    active = re.search(r'data-testid="active-filters">(.*?)</div>', page, re.S).group(1)
    assert f"County: {world.county_a1.name}" in active and "State: Not closed" in active
    assert 'href="/web/dashboard/tickets"' in active  # clear all
    assert re.search(r'href="/web/dashboard/tickets\?state=open"[^>]*>×', active)  # remove the county only
    dues = re.findall(r"<td>(\d{4}-\d\d-\d\d)", page)
    assert dues == sorted(dues) and dues
    assert "data-testid=\"active-filters\"" not in client.get("/web/dashboard/tickets").get_data(as_text=True)
