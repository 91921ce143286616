"""Planning pages: the office's page and forms, the inspector's page, both languages, CSRF, scope."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from inspections import clock
from inspections.accounts.enums import Role
from inspections.accounts.scope import principal_for

from inspections.planning.models import VisitSchedule
from inspections.tickets import service as tickets
from inspections.tickets.enums import TicketStatus as T
from inspections.tickets.models import Ticket
from inspections.visits import service as visits
from inspections.visits.models import Visit
from tests.factories import GOOD_PRIMARY, make_user, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import csrf as _csrf, login


def _login(client, username, password="password-123"):
    login(client, username, password)
    return _csrf(client.get("/web/tickets"))  # signing in starts a new session with a new token


@pytest.fixture
def world(session):
    w = make_world(session)
    today = clock.today()
    for days, name in ((4, "up"), (-3, "late"), (-20, "missed")):
        setattr(w, f"v_{name}", visits.create(session, school=w.school_a1, created_by=w.office_a1,
                                              inspector_ids=[w.inspector_a1.id], planned_for=today + timedelta(days=days)))
    w.v_other = visits.create(session, school=w.school_b1, created_by=w.admin, inspector_ids=[],
                              planned_for=today + timedelta(days=2))
    session.commit()
    return w


def _section(page: str, name: str) -> str:
    return re.search(rf'<section id="{name}">(.*?)</section>', page, re.S).group(1)


def test_office_page_in_both_languages(client, world):
    _login(client, world.office_a1.username)
    page = client.get("/web/planning").get_data(as_text=True)
    assert "访视计划" in page and "已延误 (1)" in page and "已错过 (1)" in page and "即将进行 (1)" in page
    assert str(world.v_late.planned_for) in _section(page, "late")
    assert str(world.v_other.planned_for) not in _section(page, "upcoming")  # county B1 is not in scope
    en = client.get("/web/planning?lang=en").get_data(as_text=True)
    assert "Visit planning" in en and "Late (1)" in en and "Missed (1)" in en and "New schedule" in en
    assert 'href="/web/planning"' in en  # the header link


def _error(resp) -> str:
    """The text of the page's error block."""
    m = re.search(r'data-testid="error">(.*?)</div>', resp.get_data(as_text=True), re.S)
    assert m, "no error block on the page"
    return re.sub(r"<[^>]+>", "", m.group(1))


def test_create_schedule_through_the_form(client, session, world):
    token = _login(client, world.office_a1.username)
    start = (clock.today() + timedelta(days=1)).isoformat()
    form = {"school_id": str(world.school_a1b.id), "recurrence": "monthly", "every": "1", "start_date": start,
            "inspector_id": str(world.inspector_a1.id)}
    assert client.post("/web/planning/schedules", data=form).status_code == 400  # no CSRF token
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 0
    r = client.post("/web/planning/schedules", data=form | {"csrf_token": token})
    assert r.status_code == 303
    s = session.scalar(select(VisitSchedule))
    assert s.school_id == world.school_a1b.id and s.inspector_ids == [world.inspector_a1.id]
    assert session.scalar(select(func.count()).select_from(Visit).where(Visit.school_id == world.school_a1b.id)) == 2
    # Bad input: 422 with the reason, nothing written.
    # Bad input: 422 naming the field as the form labels it, in the page's language, no ids; nothing written.
    r = client.post("/web/planning/schedules", data=form | {"csrf_token": token, "end_date": "2000-01-01"})
    assert r.status_code == 422 and "结束日期: 结束日期不能早于开始日期。" in _error(r)
    r = client.post("/web/planning/schedules", data=form | {"csrf_token": token, "school_id": str(world.school_b1.id)})
    assert r.status_code == 422 and "学校: 请从列表中选择学校。" in _error(r)
    r = client.post("/web/planning/schedules?lang=en", data=form | {"csrf_token": token,
                                                                     "inspector_id": str(world.inspector_assigned.id)})
    err = _error(r)
    assert r.status_code == 422 and "Inspectors: Choose an active inspector whose area covers this school." in err
    assert str(world.inspector_assigned.id) not in err and "inspector_ids" not in err
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 1


def test_assign_through_the_form(client, session, world):
    token = _login(client, world.office_a1.username)
    url = f"/web/planning/visits/{world.v_late.id}/assign"
    other = make_user(session, Role.inspector, jurisdiction=world.county_a1)
    session.commit()
    assert client.post(url, data={"inspector_id": str(other.id)}).status_code == 400
    r = client.post(url, data={"inspector_id": str(world.inspector_assigned.id), "csrf_token": token})
    assert r.status_code == 422  # covers only school A2
    assert client.post(url, data={"inspector_id": str(other.id), "csrf_token": token}).status_code == 303
    session.expire_all()
    assert session.get(Visit, world.v_late.id).inspector_ids == [other.id]
    # Another county's visit: 404, as if it did not exist.
    r = client.post(f"/web/planning/visits/{world.v_other.id}/assign",
                    data={"inspector_id": str(other.id), "csrf_token": token})
    assert r.status_code == 404


def test_roles(client, session, world):
    _login(client, world.school_user_a1.username)
    assert client.get("/web/planning").status_code == 403
    assert client.get("/web/my-visits").status_code == 403
    office_b = make_user(session, Role.office, jurisdiction=world.county_b1)
    session.commit()
    client.post("/web/logout", data={"csrf_token": _csrf(client.get("/web/tickets"))})
    token = _login(client, office_b.username)
    page = client.get("/web/planning").get_data(as_text=True)
    assert "已延误 (0)" in page and "即将进行 (1)" in page  # only county B1's visit
    r = client.post(f"/web/planning/visits/{world.v_late.id}/assign",
                    data={"inspector_id": str(world.inspector_a1.id), "csrf_token": token})
    assert r.status_code == 404


def test_signed_out_is_sent_to_login(client, world):
    r = client.get("/web/my-visits")
    assert r.status_code == 302 and "/web/login" in r.headers["Location"]


def test_inspector_page_lists_my_visits_and_tickets_awaiting_verification(app, client, session, world):
    submit_visit(client, token_for(session, world.inspector_a1), world.school_a1.id,
                 {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    t = session.scalar(select(Ticket).where(Ticket.school_id == world.school_a1.id))
    school = principal_for(session, world.school_user_a1)
    tickets.transition(session, t, to=T.in_progress, actor=school, plan=[{"milestone": "招聘", "due": "2027-03-01"}])
    tickets.transition(session, t, to=T.awaiting_verification, actor=school,
                       note="已招聘两名专职体育教师，并已完成县教育局备案手续。")
    session.commit()
    _login(client, world.inspector_a1.username)
    page = client.get("/web/my-visits").get_data(as_text=True)
    assert "我的访视" in page and "待核验的整改单 (1)" in page
    assert f'href="/web/tickets/{t.id}"' in page
    assert str(world.v_missed.planned_for) in _section(page, "missed")
    assert str(world.v_up.planned_for) in _section(page, "upcoming")
    en = client.get("/web/my-visits?lang=en").get_data(as_text=True)
    assert "My visits" in en and "Tickets awaiting verification (1)" in en
    assert client.get("/web/planning").status_code == 403
    # Another inspector's page does not show these visits.
    client.post("/web/logout", data={"csrf_token": _csrf(client.get("/web/my-visits"))})
    _login(client, world.inspector_assigned.username)
    page = client.get("/web/my-visits").get_data(as_text=True)
    assert "即将进行 (0)" in page and "待核验的整改单 (0)" in page


def test_assign_form_offers_only_inspectors_covering_the_school(client, session, world):
    a2_visit = visits.create(session, school=world.school_a2, created_by=world.office_a, inspector_ids=[],
                             planned_for=clock.today() + timedelta(days=6))
    session.commit()
    _login(client, world.office_a.username)  # city A: sees both inspectors
    page = client.get("/web/planning").get_data(as_text=True)
    rows = {m.group(1): m.group(2) for m in re.finditer(r'/web/planning/visits/([0-9a-f-]+)/assign"(.*?)</form>', page, re.S)}
    assert str(world.inspector_a1.id) in rows[str(world.v_up.id)]
    assert str(world.inspector_assigned.id) not in rows[str(world.v_up.id)]
    assert str(world.inspector_assigned.id) in rows[str(a2_visit.id)]
    assert str(world.inspector_a1.id) not in rows[str(a2_visit.id)]


def test_office_edits_pauses_and_deletes_a_schedule_on_the_web(client, session, world):
    from inspections.planning.models import VisitSchedule
    token = _login(client, world.office_a1.username)
    start = (clock.today() + timedelta(days=1)).isoformat()
    form = {"school_id": str(world.school_a1b.id), "recurrence": "monthly", "every": "1", "start_date": start,
            "inspector_id": str(world.inspector_a1.id), "csrf_token": token}
    assert client.post("/web/planning", data=form).status_code == 303
    sid = session.scalar(select(VisitSchedule.id).where(VisitSchedule.school_id == world.school_a1b.id))
    assert "访视安排已保存。" in client.get("/web/planning").get_data(as_text=True)  # flash after the action
    url = f"/web/planning/schedules/{sid}"
    r = client.post(url, data={**form, "notes": "每月第一周", "end_date": "2000-01-01"})
    assert r.status_code == 422 and "结束日期不能早于开始日期" in r.get_data(as_text=True)
    assert client.post(url, data={**form, "notes": "每月第一周"}).status_code == 303
    session.expire_all()
    assert session.get(VisitSchedule, sid).notes == "每月第一周"
    assert client.post(f"{url}/pause", data={"csrf_token": token}).status_code == 303
    session.expire_all()
    assert session.get(VisitSchedule, sid).active is False
    planned = lambda: session.scalar(select(func.count()).select_from(Visit).where(  # noqa: E731
        Visit.school_id == world.school_a1b.id, Visit.status == "planned"))
    assert planned() == 0
    assert client.post(f"{url}/pause", data={"csrf_token": token}).status_code == 303
    assert planned() > 0
    confirm = client.get(f"{url}/delete")
    assert confirm.status_code == 200 and 'data-testid="confirm-delete"' in confirm.get_data(as_text=True)
    assert session.get(VisitSchedule, sid) is not None  # nothing deleted by looking
    assert client.post(f"{url}/delete", data={"csrf_token": token}).status_code == 303
    session.expire_all()
    assert session.get(VisitSchedule, sid) is None and planned() == 0
    # Another county's office cannot reach it.
    assert client.get(f"/web/planning/schedules/{uuid.uuid4()}").status_code == 404



def test_long_notes_and_a_repeated_schedule_are_refused_with_the_input_kept(client, session, world):
    from inspections.planning.models import VisitSchedule
    token = _login(client, world.office_a1.username)
    start = (clock.today() + timedelta(days=1)).isoformat()
    form = {"school_id": str(world.school_a1b.id), "recurrence": "monthly", "every": "1", "start_date": start,
            "inspector_id": str(world.inspector_a1.id), "csrf_token": token}
    r = client.post("/web/planning", data={**form, "notes": "长" * 100_000})
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "太长（最多 2,000 个字符）" in page and "备注" in page
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 0
    assert client.post("/web/planning", data=form).status_code == 303
    r = client.post("/web/planning?lang=en", data=form)
    assert r.status_code == 422 and "already has this schedule" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 1


def test_a_nul_character_names_the_field_and_keeps_the_input(client, session, world):
    import html
    from inspections.planning.models import VisitSchedule
    token = _login(client, world.office_a1.username)
    start = (clock.today() + timedelta(days=1)).isoformat()
    form = {"school_id": str(world.school_a1b.id), "recurrence": "monthly", "every": "1", "start_date": start,
            "inspector_id": str(world.inspector_a1.id), "csrf_token": token}
    r = client.post("/web/planning", data={**form, "notes": "每月\x00第一周"}, headers={"Accept": "text/html"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and r.mimetype == "text/html"
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 0
    named = re.search(r'data-testid="bad-text-fields">(.*?)</ul>', page, re.S).group(1)
    assert "备注" in named and "NUL" in named
    again = re.search(r'<form method="post" action="([^"]+)" data-testid="bad-text-form">(.*?)</form>', page, re.S)
    assert again.group(1) == "/web/planning" and ">每月第一周</textarea>" in again.group(2)
    resent = {m.group(1): html.unescape(m.group(2)) for m in
              re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', again.group(2))}
    assert resent == form  # everything typed is offered again
    assert client.post("/web/planning", data={**resent, "notes": "每月第一周"}).status_code == 303
    assert session.scalar(select(VisitSchedule.notes)) == "每月第一周"
