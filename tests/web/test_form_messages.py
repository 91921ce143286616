"""Domain messages on the pages: every kind a service can raise on a web form's path reads as its own sentence
in the page's language (never the generic line, never an untranslated or English string, never an id)."""
from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from inspections.errors import KINDS, Message
from server.web import forms
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import csrf, login

ROOT = Path(__file__).resolve().parents[2]
# The services the pages' forms call (tickets, planning, yearly reports): every message they raise is a kind.
WEB_SERVICES = ["inspections/tickets/service.py", "inspections/planning/service.py", "inspections/reports/service.py"]
ERRORS = {"DomainError", "ValidationFailed", "Conflict", "Forbidden", "NotFound"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def _words(app, lang: str, msg) -> str:
    with app.test_request_context("/web/tickets"):
        from flask import session as web_session
        web_session["lang"] = lang
        return forms.message(msg)


def _generic(app, lang: str) -> str:
    with app.test_request_context("/web/tickets"):
        from flask import session as web_session
        web_session["lang"] = lang
        from server.web.i18n import _
        return _("This value was not accepted; check it and try again.")


def _kinds_raised_by(path: str) -> tuple[set[str], list[str]]:
    """(names of the kinds a service module raises, [bare strings it raises or puts in field errors])."""
    tree = ast.parse((ROOT / path).read_text())
    bare, used = [], set()

    def strings(node):
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and isinstance(getattr(node, "value", ""), str):
            bare.append(ast.unparse(node))
        elif isinstance(node, (ast.List, ast.Tuple)):
            for e in node.elts:
                strings(e)
        elif isinstance(node, ast.Dict):
            for v in node.values:
                strings(v)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.isupper():
            used.add(node.func.id)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ERRORS:
            for arg in list(node.args) + [k.value for k in node.keywords]:
                strings(arg)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)
                                                  and t.value.id == "errors" for t in node.targets):
            strings(node.value)
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            strings(node.value)  # check_inspectors returns its field errors
    return used, bare


@pytest.mark.parametrize("path", WEB_SERVICES)
def test_the_web_forms_services_raise_only_kinds_of_message(path):
    used, bare = _kinds_raised_by(path)
    assert used, f"{path}: no kinds of message found (has the check gone blind?)"
    assert not bare, f"{path} raises messages the pages cannot say in the reader's words: {bare}"


def test_a_ticket_evidence_target_is_refused_with_kinds_of_message():
    """The ticket form's photos: the only photo target the pages use, refused with kinds the pages know."""
    tree = ast.parse((ROOT / "inspections/photos/service.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "resolve_target")
    branch = next(n for n in ast.walk(fn) if isinstance(n, ast.If) and ast.unparse(n.test) == "ticket_id is not None")
    raised = [n.exc for n in ast.walk(branch) if isinstance(n, ast.Raise)]
    assert raised and all(isinstance(e.args[0], ast.Call) and isinstance(e.args[0].func, ast.Name)
                          for e in raised), [ast.unparse(e) for e in raised]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_kind_of_domain_message_has_its_own_words(app, lang):
    """Each kind of message (with ids for facts) renders as its own translated sentence: not the generic
    line, not the API's English (in Chinese), no id. Strict mode raises on a msgid the catalogue lacks."""
    import inspections.photos.service  # noqa: F401 - the kinds register when their service is imported
    import inspections.planning.service  # noqa: F401
    import inspections.reports.service  # noqa: F401
    import inspections.tickets.service  # noqa: F401
    assert len(KINDS) >= 20
    generic = _generic(app, lang)
    for code, kind in KINDS.items():
        facts = {name: str(uuid.uuid4()) for name in kind.fact_names()}
        if code == "planning.only_planned_reassigned":
            facts["status"] = "submitted"
        msg = kind(**facts)
        assert isinstance(msg, Message) and msg.code == code
        text = _words(app, lang, msg)
        assert text and text != generic, f"{code} reads as the generic line"
        assert not UUID.search(text), f"{code} shows an id: {text}"
        if lang == "zh-CN":
            assert re.search(r"[\u4e00-\u9fff]", text), f"{code} is not Chinese: {text}"
            assert text != str(msg)


def test_a_message_keeps_its_english_for_the_api_and_its_code_through_a_copy():
    import copy
    import pickle

    from inspections.tickets.service import PHOTOS_ELSEWHERE
    m = PHOTOS_ELSEWHERE(photos="a, b")
    assert m == "not uploaded as evidence for this ticket, or already used by an earlier step: a, b"
    for again in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert again == m and again.code == "ticket.photos_elsewhere" and again.facts == {"photos": "a, b"}


# -- Pages: real cases.

def _error(resp) -> str:
    m = re.search(r'data-testid="error">(.*?)</div>', resp.get_data(as_text=True), re.S)
    assert m, "no error block on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1)))


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    from inspections import clock
    w.visit_day = clock.today()
    return w


def _awaiting_ticket(session, w):
    from inspections.accounts.scope import principal_for
    from inspections.tickets import service as tickets
    from inspections.tickets.enums import TicketStatus as T
    from inspections.tickets.models import Ticket
    t = session.scalar(select(Ticket).where(Ticket.school_id == w.school_a1.id, Ticket.item_code == "R3"))
    school = principal_for(session, w.school_user_a1)
    tickets.transition(session, t, to=T.in_progress, actor=school, plan=[{"milestone": "招聘", "due": "2027-03-01"}])
    tickets.transition(session, t, to=T.awaiting_verification, actor=school,
                       note="已招聘两名专职体育教师，并已完成县教育局备案手续。")
    session.commit()
    return t


def test_a_step_without_its_reason_says_a_reason_is_needed_in_chinese_and_english(client, session, world):
    t = _awaiting_ticket(session, world)
    login(client, world.inspector_a1.username)
    url = f"/web/tickets/{t.id}"
    token = csrf(client.get(url))
    r = client.post(url, data={"to": "in_progress", "csrf_token": token})
    assert r.status_code == 422
    err = _error(r)
    assert "说明: 请填写本步操作的理由。" in err, err  # the field as the form labels it, what to do
    assert "missing information" not in err and "填写的内容未通过校验" not in err
    r = client.post(url + "?lang=en", data={"to": "in_progress", "csrf_token": token})
    assert "Note: Write the reason for this step." in _error(r)


def test_a_school_moving_a_ticket_it_may_not_is_told_so_in_chinese(client, session, world):
    from inspections.tickets.models import Ticket
    t = session.scalar(select(Ticket).where(Ticket.school_id == world.school_a1.id, Ticket.item_code == "R3"))
    login(client, world.school_user_a1.username)
    url = f"/web/tickets/{t.id}"
    token = csrf(client.get(url))
    r = client.post(url, data={"to": "closed", "csrf_token": token})  # open -> closed: no such step
    assert r.status_code == 422
    err = _error(r)
    assert "整改单当前状态下不能进行这一步" in err and "cannot become" not in err and not UUID.search(err)


def test_reassigning_a_visit_that_is_no_longer_planned_says_why(client, session, world):
    from inspections.visits.models import Visit
    visit = session.scalar(select(Visit).where(Visit.school_id == world.school_a1.id))  # the submitted one
    login(client, world.office_a1.username)
    token = csrf(client.get("/web/planning"))
    r = client.post(f"/web/planning/visits/{visit.id}/assign",
                    data={"inspector_id": str(world.inspector_a1.id), "csrf_token": token})
    assert r.status_code == 409
    err = _error(r)
    assert "该访视已是“已提交”状态，只有计划中的访视才能更换督学。" in err, err
    assert not UUID.search(err)


def test_pausing_a_schedule_of_a_closed_school_says_why_on_the_planning_page(client, session, world):
    from inspections.planning import service as planning
    from inspections.planning.enums import Recurrence
    s = planning.create_schedule(session, school=world.school_a1, created_by=world.office_a1,
                                 recurrence=Recurrence.monthly, start_date=world.visit_day)
    world.school_a1.active = False
    session.commit()
    login(client, world.office_a1.username)
    token = csrf(client.get("/web/planning"))
    r = client.post(f"/web/planning/schedules/{s.id}/pause", data={"csrf_token": token})
    assert r.status_code == 422
    assert "学校: 该校已停用。" in _error(r)
    session.expire_all()
    assert session.get(type(s), s.id).active is True  # nothing written


@pytest.mark.parametrize("where,year,says", [("province", "2026", "年度报告只能为县（区）或市生成。"),
                                             ("county_a1", "next year", "年度：请输入 2000 至 2100 之间的整数。")])
def test_a_yearly_report_refused_says_why_in_chinese(client, world, where, year, says):
    login(client, world.admin.username)
    token = csrf(client.get("/web/dashboard/counties"))
    r = client.post("/web/yearly-reports", data={"jurisdiction_id": str(getattr(world, where).id), "year": year,
                                                 "csrf_token": token})
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert says in body and "yearly reports are made" not in body and "must be" not in body


@pytest.mark.parametrize("api_message,said", [
    ("Special numeric values (nan or infinity) are not permitted.", "请输入数字，例如 28.123456。"),
    ("must be a date from 2000-01-01 to 2100-12-31", "请输入 2000-01-01 至 2100-12-31 之间的日期。"),
    ("write the milestone", "请填写里程碑内容。"),
])
def test_schema_refusals_say_what_to_enter(app, api_message, said):
    with app.test_request_context("/web/tickets"):
        assert forms.message(api_message) == said
