"""Visit pages: the visits in scope and one visit's record (answers, score per indicator, evidence, tickets
raised), linked both ways with tickets; the ticket page's essentials."""
from __future__ import annotations

import re

import pytest

from inspections.tickets.models import Ticket
from inspections.visits.models import Visit
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import login

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _visible(html: str) -> str:
    """The page's text as a reader sees it (no tags, attributes, scripts)."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    w.visit = session.query(Visit).filter(Visit.school_id == w.school_a1.id).one()
    w.ticket = session.query(Ticket).one()
    return w


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_office_lists_and_opens_a_visit_and_its_tickets_link_back(client, world, lang):
    login(client, world.office_a1.username)
    listing = client.get(f"/web/visits?lang={lang}").get_data(as_text=True)
    assert f'href="/web/visits/{world.visit.id}"' in listing and world.school_a1.name in listing
    page = client.get(f"/web/visits/{world.visit.id}").get_data(as_text=True)
    assert f'href="/web/tickets/{world.ticket.id}"' in page  # the tickets it raised
    score = re.search(r'data-testid="score">(.*?)</section>', page, re.S).group(1)
    short = "short by 2 teachers" if lang == "en" else "还差 2 名教师"
    assert short in score and ("Not met" if lang == "en" else "未达标") in score
    assert 'data-testid="answers"' in page and 'data-testid="evidence-complete"' in page
    assert not UUID.search(_visible(page)), UUID.search(_visible(page))
    ticket = client.get(f"/web/tickets/{world.ticket.id}").get_data(as_text=True)
    assert f'href="/web/visits/{world.visit.id}"' in ticket  # and back


def test_ticket_page_has_the_essentials(client, world):
    login(client, world.office_a1.username)
    page = client.get(f"/web/tickets/{world.ticket.id}?lang=en").get_data(as_text=True)
    facts = re.search(r'data-testid="ticket-facts">(.*?)</dl>', page, re.S).group(1)
    assert world.school_a1.name in facts and world.inspector_a1.display_name in facts
    assert re.search(r'data-testid="severity">(Low|Medium|High|Veto)<', facts)
    assert not UUID.search(_visible(page))


def test_a_plan_takes_several_milestones(client, session, world):
    from tests.web.helpers import csrf
    login(client, world.school_user_a1.username)
    url = f"/web/tickets/{world.ticket.id}"
    token = csrf(client.get(url))
    assert client.post(url, data={"to": "acknowledged", "csrf_token": token}).status_code == 303
    assert client.get(url).get_data(as_text=True).count('name="milestone"') >= 2
    r = client.post(url, data={"to": "in_progress", "csrf_token": token, "milestone": ["招聘", "到岗"],
                               "due": ["2027-03-01", "2027-04-01"]})
    assert r.status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "招聘" in page and "到岗" in page and "2027-04-01" in page
    assert re.search(r'data-testid="flash"><p>已保存：整改单现为“整改中”。</p>', page)  # the step is confirmed
    assert 'data-testid="flash"' not in client.get(url).get_data(as_text=True)  # once


def test_visits_out_of_scope_are_404_and_schools_cannot_list_them(client, session, world):
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    other = make_user(session, Role.office, jurisdiction=world.county_b1)
    session.commit()
    login(client, other.username)
    assert client.get(f"/web/visits/{world.visit.id}").status_code == 404
    assert f"/web/visits/{world.visit.id}" not in client.get("/web/visits").get_data(as_text=True)


def test_school_sees_an_empty_state_not_an_empty_table(client, session, world):
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    lonely = make_user(session, Role.school, school=world.school_a2)
    session.commit()
    login(client, lonely.username)
    page = client.get("/web/tickets?lang=en").get_data(as_text=True)
    assert 'data-testid="empty"' in page and "<table" not in page
    assert client.get("/web/visits").status_code == 403


def test_a_step_not_open_reads_as_a_sentence_not_a_program_message(client, world):
    from tests.web.helpers import csrf
    login(client, world.school_user_a1.username)
    url = f"/web/tickets/{world.ticket.id}"
    r = client.post(url, data={"to": "closed", "csrf_token": csrf(client.get(url))})
    error = re.search(r'data-testid="error">(.*?)</div>', r.get_data(as_text=True), re.S).group(1)
    assert r.status_code == 422 and "整改单当前状态下不能进行这一步" in error
    assert "cannot become" not in error and "closed" not in error


def test_the_header_shows_where_the_user_sits(client, world):
    login(client, world.office_a1.username)
    page = client.get("/web/visits").get_data(as_text=True)
    place = re.search(r'data-testid="place">\(([^)]*)\)<', page).group(1)
    assert place.endswith(world.county_a1.name) and " › " in place
    client.post("/web/logout", data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)})
    login(client, world.school_user_a1.username)
    page = client.get("/web/tickets").get_data(as_text=True)
    assert re.search(r'data-testid="place">\(' + re.escape(world.school_a1.name) + r'\)<', page)


@pytest.mark.parametrize("milestone,due,said", [
    ("", "2027-03-01", "请填写里程碑内容。"),
    ("招聘", "2200-01-01", "请输入 2000-01-01 至 2100-12-31 之间的日期。"),
    ("招聘", "2001-01-01", "里程碑的完成日期不能早于今天。"),
])
def test_a_milestone_is_refused_with_what_to_do(client, session, world, milestone, due, said):
    from tests.web.helpers import csrf
    login(client, world.school_user_a1.username)
    t = world.ticket
    url = f"/web/tickets/{t.id}"
    token = csrf(client.get(url))
    r = client.post(url, data={"to": "in_progress", "csrf_token": token, "milestone": milestone, "due": due})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and said in body and "里程碑" in body, body[:3000]
    assert "未通过校验" not in body and "长度" not in body and "未通过" not in body
    session.expire_all()
    assert session.get(Ticket, t.id).status.value == "open"


@pytest.mark.parametrize("lang,in_progress", [("zh-CN", "进行中"), ("en", "In progress")])
def test_a_visit_page_shows_the_visits_notes_and_its_own_word_for_in_progress(client, session, lang, in_progress):
    """The inspector's notes on the visit (the field app's visit notes) are on its page; a visit in
    progress reads as such, not as a ticket being rectified (整改中), which shares the English word."""
    from tests.sync.helpers import mutation, push
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid = push(client, h, mutation("visit", "create", school_id=str(w.school_a1.id), notes="heavy rain; <b>head</b> away"))[0]["id"]
    assert push(client, h, mutation("response", "create", visit_id=vid, item_code="enrolment", value=600))[0]["status"] == "applied"
    login(client, w.office_a1.username)
    page = client.get(f"/web/visits/{vid}?lang={lang}").get_data(as_text=True)
    facts = re.search(r'data-testid="visit-facts">(.*?)</dl>', page, re.S).group(1)
    assert re.search(r'data-testid="visit-notes">heavy rain; &lt;b&gt;head&lt;/b&gt; away<', facts)
    assert f"<dd>{in_progress}</dd>" in facts and "整改中" not in facts


def test_an_answer_left_with_nothing_is_not_listed_as_one(client, session):
    """An item flagged then unflagged (or a note typed then cleared) before it was answered keeps an answer
    record with no value, note or flag: the visit page lists only what the inspector recorded."""
    from tests.sync.helpers import mutation, push
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vid = push(client, h, mutation("visit", "create", school_id=str(w.school_a1.id)))[0]["id"]
    answered, flagged, emptied = push(
        client, h, mutation("response", "create", visit_id=vid, item_code="enrolment", value=600),
        mutation("response", "create", visit_id=vid, item_code="has_charter", flagged=True),
        mutation("response", "create", visit_id=vid, item_code="sports_area_m2", flagged=True))
    assert push(client, h, mutation("response", "update", id=emptied["id"], base_version=emptied["version"],
                                    flagged=False))[0]["status"] == "applied"
    login(client, w.office_a1.username)
    page = client.get(f"/web/visits/{vid}?lang=en").get_data(as_text=True)
    rows = re.search(r'data-testid="answers">(.*?)</table>', page, re.S).group(1)
    assert rows.count("<tr") == 3  # the header, the answer and the flagged item
    assert "Flagged by the inspector" in rows
    assert "sports" not in rows.lower() and "运动" not in rows
