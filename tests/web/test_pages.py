"""School portal pages: login, CSRF, scope, language and a ticket answered through the form."""
from __future__ import annotations

import re

import pytest

from tests.factories import GOOD_PRIMARY, make_user, make_world, run_jobs, submit_visit, token_for
from inspections.accounts.enums import Role
from tests.web.helpers import csrf as _csrf, sign_in as _login

SHORT_PE = {**GOOD_PRIMARY, "pe_art_teachers": 4}


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, SHORT_PE)
    run_jobs(app)
    return w


def test_login_sets_httponly_lax_cookie_and_lists_tickets(client, world):
    r = _login(client, world.school_user_a1.username)
    assert r.status_code == 303
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/web/tickets").get_data(as_text=True)
    assert "还差 2 名教师" in page and "待处理" in page
    assert "Open" in client.get("/web/tickets?lang=en").get_data(as_text=True)


def test_wrong_password_and_signed_out(client, world):
    assert _login(client, world.school_user_a1.username, "nope").status_code == 401
    r = client.get("/web/tickets")
    assert r.status_code == 302 and "/web/login" in r.headers["Location"]


def test_post_without_csrf_is_rejected(client, world):
    r = client.post("/web/login", data={"username": world.school_user_a1.username, "password": "password-123"})
    assert r.status_code == 400


def test_school_answers_ticket_and_other_school_gets_404(client, session, world):
    _login(client, world.school_user_a1.username)
    page = client.get("/web/tickets").get_data(as_text=True)
    url = re.search(r'href="(/web/tickets/[0-9a-f-]+)"', page).group(1)
    detail = client.get(url)
    token = _csrf(detail)
    assert client.post(url, data={"to": "acknowledged", "csrf_token": token}).status_code == 303
    r = client.post(url, data={"to": "in_progress", "csrf_token": token})
    assert r.status_code == 422  # a plan with at least one milestone is required
    r = client.post(url, data={"to": "in_progress", "milestone": "招聘 2 名体育教师", "due": "2027-03-01",
                               "csrf_token": token})
    assert r.status_code == 303
    r = client.post(url, data={"to": "awaiting_verification", "csrf_token": token,
                               "note": "已招聘两名专职体育教师，合同与任教安排已上报县教育局备案。"})
    assert r.status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert '<span id="status">待核验</span>' in page
    # The wrong move is refused with the reason, nothing written.
    assert client.post(url, data={"to": "closed", "csrf_token": token}).status_code == 422
    # Another school's user sees 404, the same answer as for a ticket that does not exist.
    other = make_user(session, Role.school, school=world.school_a2)
    session.commit()
    client.post("/web/logout", data={"csrf_token": token})
    _login(client, other.username)
    assert client.get(url).status_code == 404
    assert client.get("/web/tickets/not-a-uuid").status_code == 404


def test_inspector_rejects_with_reason_then_closes(client, session, world):
    from sqlalchemy import select
    from inspections.accounts.scope import principal_for
    from inspections.tickets import service as tickets
    from inspections.tickets.enums import TicketStatus as T
    from inspections.tickets.models import Ticket
    t = session.scalar(select(Ticket).where(Ticket.school_id == world.school_a1.id, Ticket.item_code == "R3"))
    school = principal_for(session, world.school_user_a1)
    tickets.transition(session, t, to=T.in_progress, actor=school, plan=[{"milestone": "招聘", "due": "2027-03-01"}])
    tickets.transition(session, t, to=T.awaiting_verification, actor=school, note="已招聘两名专职体育教师，并已完成县教育局备案手续。")
    session.commit()
    _login(client, world.inspector_a1.username)
    url = f"/web/tickets/{t.id}"
    token = _csrf(client.get(url))
    assert client.post(url, data={"to": "in_progress", "csrf_token": token}).status_code == 422  # reason required
    assert client.post(url, data={"to": "in_progress", "note": "照片不清楚", "csrf_token": token}).status_code == 303
    session.expire_all()  # the page changed the ticket in another session
    tickets.transition(session, session.get(Ticket, t.id), to=T.awaiting_verification, actor=school,
                       note="重新提交：两名教师的聘用合同与课表均已上传。")
    session.commit()
    assert client.post(url, data={"to": "closed", "csrf_token": token}).status_code == 303
    assert '<span id="status">已销号</span>' in client.get(url).get_data(as_text=True)


def test_ticket_page_states_the_shortfall_in_the_pages_language(client, world):
    _login(client, world.school_user_a1.username)
    page = client.get("/web/tickets").get_data(as_text=True)
    url = re.search(r'href="(/web/tickets/[0-9a-f-]+)"', page).group(1)
    zh = re.search(r'data-testid="shortfall">([^<]*)<', client.get(url).get_data(as_text=True)).group(1)
    assert re.fullmatch(r"实测 [\d.]+，要求 ≥ [\d.]+，还差 2 名教师", zh), zh  # whole people, Chinese units
    en = re.search(r'data-testid="shortfall">([^<]*)<', client.get(url + "?lang=en").get_data(as_text=True)).group(1)
    assert re.fullmatch(r"Measured [\d.]+, required ≥ [\d.]+, short by 2 teachers", en), en
