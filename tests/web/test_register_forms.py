"""Offices and admins register and change schools and accounts from the pages: the API's rules (one
service function each), CSRF, 303 after success with a flash, 422 with the form's own words and nothing
written on bad input, 403 for other roles, 404 outside the jurisdiction, sessions ended on deactivation."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import InspectorAssignment, User
from inspections.audit.models import AuditRecord
from inspections.org.models import School
from tests.factories import make_user, make_world, token_for
from tests.web.helpers import csrf, login

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def world(session):
    return make_world(session)


def _as(client, user) -> str:
    """Sign in; the CSRF token of the new session."""
    login(client, user.username)
    return csrf(client.get("/web/schools"))


def _error(resp) -> str:
    m = re.search(r'data-testid="error">(.*?)</div>', resp.get_data(as_text=True), re.S)
    assert m, "no error block on the page"
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1))))


def _visible(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html.split("<main>", 1)[1])


def _count(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _audit(session, entity_id) -> list[tuple[str, dict]]:
    session.expire_all()
    return [(a.action, a.data) for a in session.scalars(select(AuditRecord).where(
        AuditRecord.entity_id == str(entity_id)).order_by(AuditRecord.at, AuditRecord.id))]


def _school_form(world, **over) -> dict:
    return {"code": "WEB-1", "name": "网页新建小学", "jurisdiction_id": str(world.county_a1.id), "kind": "primary",
            "school_type": "ordinary", "locale": "rural", "enrolment_primary": "320", "enrolment_junior": "0",
            "address": "", "latitude": "28.123456", "longitude": "112.654321"} | over


# ---- schools -------------------------------------------------------------------------------------------------

def test_an_office_registers_a_school_from_the_form(client, session, world):
    token = _as(client, world.office_a1)
    page = client.get("/web/schools/new?lang=en").get_data(as_text=True)
    assert world.county_a1.name in page and world.county_b1.name not in page  # only its own counties offered
    assert 'href="/web/schools/new"' in client.get("/web/schools").get_data(as_text=True)
    assert client.post("/web/schools/new", data=_school_form(world)).status_code == 400  # no CSRF token
    assert _count(session, School, School.code == "WEB-1") == 0
    r = client.post("/web/schools/new?lang=en", data=_school_form(world) | {"csrf_token": token})
    assert r.status_code == 303
    school = session.scalar(select(School).where(School.code == "WEB-1"))
    assert r.headers["Location"].endswith(f"/web/schools/{school.id}")
    assert (school.jurisdiction_id, school.enrolment_primary, str(school.latitude), school.address) == \
        (world.county_a1.id, 320, "28.123456", None)
    assert _audit(session, school.id) == [("create", {"code": "WEB-1"})]  # as the API writes it
    shown = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "网页新建小学" in re.search(r'data-testid="flash">(.*?)</div>', shown, re.S).group(1)


@pytest.mark.parametrize("lang,over,label,text", [
    ("en", {"code": "bad code!"}, "School code", "Use at most 32 letters"),
    ("zh-CN", {"name": ""}, "学校名称", "必填"),
    ("en", {"enrolment_junior": "40"}, "Junior secondary students", "no junior secondary section"),
    ("en", {"enrolment_primary": "3.5"}, "Primary students", "Enter a whole number."),
    ("en", {"enrolment_primary": "100001"}, "Primary students", "from 0 to 100000"),
    ("en", {"enrolment_primary": "-5"}, "Primary students", "Enter a whole number from 0 to 100000."),
    ("zh-CN", {"enrolment_junior": "99999999999999999999", "kind": "junior", "enrolment_primary": "0"},
     "初中在校生数", "0 到 100000"),
    ("en", {"longitude": ""}, "Longitude", "Enter both latitude and longitude, or neither."),
    ("zh-CN", {"latitude": ""}, "纬度", "纬度和经度须同时填写，或同时留空。"),
    ("zh-CN", {"latitude": "95"}, "纬度", "-90 到 90"),
    ("en", {"longitude": "east"}, "Longitude", "Enter a number such as"),
    ("en", {"kind": "university"}, "Kind", "Choose one of the listed options."),
])
def test_a_bad_school_form_is_shown_again_and_writes_nothing(client, session, world, lang, over, label, text):
    token = _as(client, world.office_a1)
    r = client.post(f"/web/schools/new?lang={lang}", data=_school_form(world, **over) | {"csrf_token": token})
    assert r.status_code == 422
    err = _error(r)
    assert f"{label}:" in err and text in err, err
    assert not UUID.search(_visible(r.get_data(as_text=True)))
    assert _count(session, School, School.code.in_(["WEB-1", "bad code!"])) == 0
    assert _count(session, AuditRecord, AuditRecord.entity == "school") == 0


def test_a_used_code_is_refused_by_the_service_rule(client, session, world):
    token = _as(client, world.office_a1)
    r = client.post("/web/schools/new?lang=en", data=_school_form(world, code=world.school_a1.code)
                    | {"csrf_token": token})
    assert r.status_code == 422 and "School code: This code is already used by another school." in _error(r)
    assert _count(session, School, School.code == world.school_a1.code) == 1


@pytest.mark.parametrize("county", ["county_b1", "county_a2", "unknown", "city_a"])
def test_a_county_outside_the_office_reads_as_a_field_error_that_leaks_nothing(client, session, world, county):
    import uuid
    token = _as(client, world.office_a1)
    cid = str(uuid.uuid4()) if county == "unknown" else str(getattr(world, county).id)
    r = client.post("/web/schools/new?lang=en", data=_school_form(world, jurisdiction_id=cid) | {"csrf_token": token})
    assert r.status_code == 422 and "County: Choose one from the list." in _error(r)
    assert _count(session, School, School.code == "WEB-1") == 0


def test_a_city_office_picks_a_county_not_a_city(client, session, world):
    token = _as(client, world.office_a)
    r = client.post("/web/schools/new?lang=en", data=_school_form(world, jurisdiction_id=str(world.city_a.id))
                    | {"csrf_token": token})
    assert r.status_code == 422 and "County: Choose a county." in _error(r)
    assert _count(session, School, School.code == "WEB-1") == 0


def test_an_office_edits_a_school_and_moves_it_within_its_city(client, session, world):
    token = _as(client, world.office_a)
    page = client.get(f"/web/schools/{world.school_a1.id}/edit?lang=en").get_data(as_text=True)
    assert f'value="{world.school_a1.code}"' in page and not UUID.search(_visible(page))
    assert f"/web/schools/{world.school_a1.id}/edit" in client.get(f"/web/schools/{world.school_a1.id}").get_data(
        as_text=True)
    form = {"code": world.school_a1.code, "name": "改名小学", "jurisdiction_id": str(world.county_a2.id),
            "kind": "primary", "school_type": "ordinary", "locale": world.school_a1.locale.value,
            "enrolment_primary": "777", "enrolment_junior": "0", "address": "新街 1 号", "latitude": "",
            "longitude": "", "active": "1"}
    version = world.school_a1.version
    r = client.post(f"/web/schools/{world.school_a1.id}/edit", data=form | {"csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/web/schools/{world.school_a1.id}")
    session.expire_all()
    s = session.get(School, world.school_a1.id)
    assert (s.name, s.enrolment_primary, s.address, s.jurisdiction_id, s.version) == \
        ("改名小学", 777, "新街 1 号", world.county_a2.id, version + 1)
    [(action, data)] = _audit(session, s.id)
    assert action == "update" and data["name"] == "改名小学" and data["enrolment_primary"] == "777"
    assert data["jurisdiction_id"] == str(world.county_a2.id) and "code" not in data  # only what changed
    # The same form again changes nothing and writes nothing.
    r = client.post(f"/web/schools/{world.school_a1.id}/edit?lang=en", data=form | {"csrf_token": token})
    assert r.status_code == 303 and len(_audit(session, s.id)) == 1
    assert "Nothing was changed." in client.get(r.headers["Location"]).get_data(as_text=True)


def test_a_bad_edit_writes_nothing(client, session, world):
    token = _as(client, world.office_a1)
    form = {"code": world.school_a1.code, "name": "改名", "jurisdiction_id": str(world.county_b1.id),
            "kind": "primary", "school_type": "ordinary", "locale": "urban", "enrolment_primary": "10",
            "enrolment_junior": "0", "active": "1"}
    r = client.post(f"/web/schools/{world.school_a1.id}/edit?lang=en", data=form | {"csrf_token": token})
    assert r.status_code == 422 and "County: Choose one from the list." in _error(r)
    r = client.post(f"/web/schools/{world.school_a1.id}/edit?lang=en",
                    data=form | {"jurisdiction_id": str(world.county_a1.id), "code": world.school_a1b.code,
                                 "csrf_token": token})
    assert r.status_code == 422 and "already used" in _error(r)
    assert 'value="改名"' in r.get_data(as_text=True)  # the form keeps what was typed
    session.expire_all()
    assert session.get(School, world.school_a1.id).name != "改名" and _audit(session, world.school_a1.id) == []


def test_schools_outside_the_jurisdiction_are_404_and_other_roles_403(client, session, world):
    token = _as(client, world.office_a1)
    for url in (f"/web/schools/{world.school_b1.id}/edit", f"/web/schools/{world.school_a2.id}/edit",
                "/web/schools/nope/edit"):
        assert client.get(url).status_code == 404
        assert client.post(url, data={"csrf_token": token, "name": "x"}).status_code == 404
    for user in (world.inspector_a1, world.school_user_a1):
        c = client.application.test_client()
        login(c, user.username)
        t = csrf(c.get("/web/login"))
        assert c.get("/web/schools/new").status_code == 403
        assert c.post("/web/schools/new", data=_school_form(world) | {"csrf_token": t}).status_code == 403
        assert c.get(f"/web/schools/{world.school_a1.id}/edit").status_code == 403
        assert c.post(f"/web/schools/{world.school_a1.id}/edit", data={"csrf_token": t}).status_code == 403
    assert _count(session, School, School.code == "WEB-1") == 0


# ---- accounts ------------------------------------------------------------------------------------------------

def _user_form(**over) -> dict:
    return {"username": "web-insp", "display_name": "网页督学", "role": "inspector", "password": "s3cret-pass",
            "password2": "s3cret-pass"} | over


def test_an_office_creates_an_inspector_who_then_signs_in(app, client, session, world):
    token = _as(client, world.office_a1)
    page = client.get("/web/users/new?lang=en").get_data(as_text=True)
    roles = re.search(r'name="role"(.*?)</select>', page, re.S).group(1)
    assert 'value="inspector"' in roles and 'value="admin"' not in roles
    assert world.county_b1.name not in page and not UUID.search(_visible(page))
    form = _user_form(jurisdiction_id=str(world.county_a1.id), assigned_school_id=[str(world.school_a1b.id)])
    assert client.post("/web/users/new", data=form).status_code == 400  # no CSRF token
    assert _count(session, User, User.username == "web-insp") == 0
    r = client.post("/web/users/new", data=form | {"csrf_token": token})
    assert r.status_code == 303
    user = session.scalar(select(User).where(User.username == "web-insp"))
    assert r.headers["Location"].endswith(f"/web/users/{user.id}")
    assert (user.role, user.jurisdiction_id, user.display_name) == (Role.inspector, world.county_a1.id, "网页督学")
    assert accounts.assigned_school_ids(session, user.id) == [world.school_a1b.id]
    assert _audit(session, user.id) == [("create", {"username": "web-insp", "role": "inspector"})]
    assert "web-insp" in client.get(r.headers["Location"]).get_data(as_text=True)
    other = app.test_client()
    login(other, "web-insp", "s3cret-pass")


def test_a_school_account_is_bound_to_a_school_and_the_area_is_ignored(client, session, world):
    token = _as(client, world.office_a1)
    form = _user_form(username="web-school", role="school", school_id=str(world.school_a1b.id),
                      jurisdiction_id=str(world.county_a1.id))
    assert client.post("/web/users/new", data=form | {"csrf_token": token}).status_code == 303
    user = session.scalar(select(User).where(User.username == "web-school"))
    assert (user.school_id, user.jurisdiction_id) == (world.school_a1b.id, None)


@pytest.mark.parametrize("lang,over,label,text", [
    ("en", {"password": "short", "password2": "short"}, "Password", "Use 8 to 200 characters."),
    ("zh-CN", {"password2": "another-pass"}, "再次输入密码", "两次输入的密码不一致"),
    ("en", {"username": "a b"}, "Username", "Use 3 to 80 letters"),
    ("en", {"jurisdiction_id": "county_a2"}, "Area", "Choose one from the list."),
    ("en", {"jurisdiction_id": "unknown"}, "Area", "Choose one from the list."),
    ("en", {"jurisdiction_id": ""}, "Area", "Choose the inspector's area or assign schools."),
    ("en", {"role": "school", "school_id": "school_b1"}, "School (school accounts)", "Choose a school from the list."),
    ("en", {"role": "school"}, "School (school accounts)", "Choose the school of a school account."),
    ("en", {"assigned_school_id": "school_a2"}, "Assigned schools", "Choose schools from the list."),
    ("en", {"role": ""}, "Role", "This is required."),
    ("en", {"role": "king"}, "Role", "Choose one of the listed options."),
])
def test_a_bad_account_form_is_shown_again_and_writes_nothing(client, session, world, lang, over, label, text):
    import uuid
    token = _as(client, world.office_a1)
    ids = {"county_a2": world.county_a2.id, "school_b1": world.school_b1.id, "school_a2": world.school_a2.id,
           "unknown": uuid.uuid4()}
    form = _user_form(jurisdiction_id=str(world.county_a1.id))
    form |= {k: str(ids.get(v, v)) for k, v in over.items()}
    r = client.post(f"/web/users/new?lang={lang}", data=form | {"csrf_token": token})
    assert r.status_code == 422
    err = _error(r)
    assert f"{label}:" in err and text in err, err
    assert not UUID.search(_visible(r.get_data(as_text=True))) and "s3cret-pass" not in r.get_data(as_text=True)
    assert _count(session, User, User.username.in_(["web-insp", "a b"])) == 0


def test_a_taken_username_is_refused(client, session, world):
    token = _as(client, world.office_a1)
    r = client.post("/web/users/new?lang=en", data=_user_form(username=world.inspector_a1.username,
                                                              jurisdiction_id=str(world.county_a1.id))
                    | {"csrf_token": token})
    assert r.status_code == 422 and "Username: This username is already taken" in _error(r)


def test_an_office_makes_no_admin_and_other_roles_have_no_account_forms(client, session, world):
    token = _as(client, world.office_a1)
    r = client.post("/web/users/new", data=_user_form(role="admin") | {"csrf_token": token})
    assert r.status_code == 403
    assert _count(session, User, User.username == "web-insp") == 0
    admin = client.application.test_client()
    login(admin, world.admin.username)
    roles = re.search(r'name="role"(.*?)</select>', admin.get("/web/users/new").get_data(as_text=True), re.S).group(1)
    assert 'value="admin"' in roles
    for user in (world.inspector_a1, world.school_user_a1):
        c = client.application.test_client()
        login(c, user.username)
        t = csrf(c.get("/web/login"))
        assert c.get("/web/users/new").status_code == 403
        assert c.post("/web/users/new", data=_user_form(jurisdiction_id=str(world.county_a1.id))
                      | {"csrf_token": t}).status_code == 403
        for action in ("name", "assignments", "password", "deactivate", "activate"):
            r = c.post(f"/web/users/{world.inspector_a1.id}/{action}",
                       data={"csrf_token": t, "display_name": "x", "password": "taken-over-1",
                             "password2": "taken-over-1"})
            assert r.status_code == 403, action
    assert _count(session, User, User.username == "web-insp") == 0


def test_an_office_renames_and_assigns_an_inspector(client, session, world):
    token = _as(client, world.office_a1)
    uid = world.inspector_a1.id
    page = client.get(f"/web/users/{uid}?lang=en").get_data(as_text=True)
    assert 'data-testid="assignments"' in page and world.school_a1b.name in page and not UUID.search(_visible(page))
    r = client.post(f"/web/users/{uid}/name", data={"display_name": "张督学", "csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/web/users/{uid}")
    r = client.post(f"/web/users/{uid}/assignments", data={"school_id": [str(world.school_a1.id),
                                                                         str(world.school_a1b.id)],
                                                           "csrf_token": token})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(User, uid).display_name == "张督学"
    assert sorted(accounts.assigned_school_ids(session, uid)) == sorted([world.school_a1.id, world.school_a1b.id])
    audit = _audit(session, uid)
    assert audit[0] == ("update", {"display_name": "张督学"}) and audit[1][1].keys() == {"assigned_school_ids"}
    # A school outside the office's county is a field error; the assignments stay as they were.
    r = client.post(f"/web/users/{uid}/assignments?lang=en", data={"school_id": [str(world.school_b1.id)],
                                                                   "csrf_token": token})
    assert r.status_code == 422 and "Assigned schools: Choose schools from the list." in _error(r)
    assert not UUID.search(_visible(r.get_data(as_text=True)))
    assert len(_audit(session, uid)) == 2
    assert _count(session, InspectorAssignment, InspectorAssignment.inspector_id == uid) == 2


def test_deactivation_asks_first_then_ends_every_session_and_token(app, client, session, world):
    token = _as(client, world.office_a1)
    uid = world.inspector_a1.id
    insp = app.test_client()
    login(insp, world.inspector_a1.username)
    bearer = token_for(session, world.inspector_a1)
    assert insp.get("/web/my-visits").status_code == 200
    idle = app.test_client()  # a second browser, not used while the account is inactive
    login(idle, world.inspector_a1.username)
    page = client.get(f"/web/users/{uid}/deactivate?lang=en").get_data(as_text=True)
    assert 'data-testid="confirm-deactivate"' in page and "Deactivate the account" in page
    session.expire_all()
    assert session.get(User, uid).active  # the GET only asks
    assert client.post(f"/web/users/{uid}/deactivate", data={}).status_code == 400  # no CSRF token
    r = client.post(f"/web/users/{uid}/deactivate", data={"csrf_token": token})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(User, uid).active is False
    assert _audit(session, uid) == [("update", {"active": "False"})]
    assert insp.get("/web/my-visits").status_code == 302  # its signed-in session ended
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401  # and its tokens
    assert "Reactivate" in client.get(f"/web/users/{uid}?lang=en").get_data(as_text=True)
    r = client.post(f"/web/users/{uid}/activate", data={"csrf_token": token})
    assert r.status_code == 303
    # Ended, not suspended: reactivated, the account signs in anew; the old session and token stay dead.
    assert insp.get("/web/my-visits").status_code == 302 and idle.get("/web/my-visits").status_code == 302
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401
    login(app.test_client(), world.inspector_a1.username)


def test_a_password_reset_ends_sessions_and_the_new_one_works(app, client, session, world):
    token = _as(client, world.office_a1)
    uid = world.inspector_a1.id
    insp = app.test_client()
    login(insp, world.inspector_a1.username)
    r = client.post(f"/web/users/{uid}/password?lang=en", data={"password": "short", "password2": "short",
                                                                "csrf_token": token})
    assert r.status_code == 422 and "Password: Use 8 to 200 characters." in _error(r)
    r = client.post(f"/web/users/{uid}/password?lang=en", data={"password": "new-pass-123",
                                                                "password2": "new-pass-124", "csrf_token": token})
    assert r.status_code == 422 and "Repeat the password:" in _error(r)
    assert insp.get("/web/my-visits").status_code == 200  # nothing changed yet
    r = client.post(f"/web/users/{uid}/password", data={"password": "new-pass-123", "password2": "new-pass-123",
                                                        "csrf_token": token})
    assert r.status_code == 303
    assert insp.get("/web/my-visits").status_code == 302
    assert _audit(session, uid) == [("update", {"password": "***"})]
    login(app.test_client(), world.inspector_a1.username, "new-pass-123")


def test_accounts_outside_the_jurisdiction_are_404_and_shared_ones_403(client, session, world):
    # An inspector of county B1 also assigned a school of county A1: A1's office sees it but may not change it.
    shared = make_user(session, Role.inspector, jurisdiction=world.county_b1, assigned=[world.school_a1])
    session.commit()
    token = _as(client, world.office_a1)
    page = client.get(f"/web/users/{shared.id}").get_data(as_text=True)
    assert page and 'data-testid="rename"' not in page and 'data-testid="deactivate"' not in page
    data = {"csrf_token": token, "display_name": "x", "password": "taken-over-1", "password2": "taken-over-1"}
    for action in ("name", "password", "deactivate", "activate", "assignments"):
        assert client.post(f"/web/users/{shared.id}/{action}", data=data).status_code == 403, action
        for outside in (world.office_a, world.admin, world.school_b1):  # not accounts it sees: unknown
            assert client.post(f"/web/users/{outside.id}/{action}", data=data).status_code == 404, action
    assert client.get(f"/web/users/{world.office_a.id}/deactivate").status_code == 404
    # The confirmation page is not offered for a step the POST refuses: the same 403.
    assert client.get(f"/web/users/{shared.id}/deactivate").status_code == 403
    session.expire_all()
    assert session.get(User, shared.id).active and session.get(User, world.office_a.id).active
    assert _count(session, AuditRecord, AuditRecord.entity == "user") == 0


# ---- what an outside test of the forms found ---------------------------------------------------------------------

def test_a_code_differing_only_in_case_is_already_used(client, session, world):
    token = _as(client, world.office_a1)
    other = world.school_a1.code.lower() if world.school_a1.code.lower() != world.school_a1.code \
        else world.school_a1.code.upper()
    r = client.post("/web/schools/new?lang=en", data=_school_form(world, code=other) | {"csrf_token": token})
    assert r.status_code == 422 and "School code: This code is already used by another school." in _error(r)
    assert _count(session, School, School.code == other) == 0


def _edit_form(school, **over) -> dict:
    return {"code": school.code, "name": school.name, "jurisdiction_id": str(school.jurisdiction_id),
            "kind": school.kind.value, "school_type": school.school_type.value, "locale": school.locale.value,
            "enrolment_primary": str(school.enrolment_primary), "enrolment_junior": str(school.enrolment_junior),
            "address": "", "latitude": "", "longitude": "", "active": "1"} | over


@pytest.mark.parametrize("active", ["false", "maybe", ""])
def test_the_state_takes_only_the_values_the_form_offers(client, session, world, active):
    token = _as(client, world.office_a1)
    school = world.school_a1
    r = client.post(f"/web/schools/{school.id}/edit?lang=en", data=_edit_form(school, active=active, name="改名")
                    | {"csrf_token": token})
    assert r.status_code == 422 and "State: Choose one of the listed options." in _error(r)
    session.expire_all()
    assert session.get(School, school.id).active and session.get(School, school.id).name != "改名"
    assert _audit(session, school.id) == []
    r = client.post(f"/web/schools/{school.id}/edit", data=_edit_form(school, active="0") | {"csrf_token": token})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(School, school.id).active is False


def test_an_edit_keeps_latitude_and_longitude_together(client, session, world):
    token = _as(client, world.office_a1)
    school = world.school_a1
    r = client.post(f"/web/schools/{school.id}/edit?lang=en", data=_edit_form(school, latitude="28.5")
                    | {"csrf_token": token})
    assert r.status_code == 422 and "Longitude: Enter both latitude and longitude, or neither." in _error(r)
    r = client.post(f"/web/schools/{school.id}/edit", data=_edit_form(school, latitude="28.5", longitude="112.5")
                    | {"csrf_token": token})
    assert r.status_code == 303
    session.expire_all()
    assert (str(session.get(School, school.id).latitude), str(session.get(School, school.id).longitude)) == \
        ("28.500000", "112.500000")


def test_nobody_deactivates_their_own_account(client, session, world):
    me = world.office_a1
    token = _as(client, me)
    bearer = token_for(session, me)
    page = client.get(f"/web/users/{me.id}?lang=en").get_data(as_text=True)
    assert 'data-testid="rename"' in page and 'data-testid="deactivate"' not in page  # no link to it
    assert 'data-testid="deactivate"' in client.get(f"/web/users/{world.inspector_a1.id}").get_data(as_text=True)
    r = client.get(f"/web/users/{me.id}/deactivate?lang=en")
    assert r.status_code == 422 and "State: You cannot deactivate your own account." in _error(r)
    assert 'data-testid="confirm-deactivate"' not in r.get_data(as_text=True)
    r = client.post(f"/web/users/{me.id}/deactivate?lang=zh-CN", data={"csrf_token": token})
    assert r.status_code == 422 and "不能停用自己的账号" in _error(r)
    r = client.patch(f"/api/v1/users/{me.id}", json={"active": False}, headers=bearer)
    assert r.status_code == 422 and "active" in r.json["errors"]
    session.expire_all()
    assert session.get(User, me.id).active and _audit(session, me.id) == []
    assert client.get("/web/schools").status_code == 200  # still signed in
    admin = client.application.test_client()
    login(admin, world.admin.username)
    t = csrf(admin.get("/web/schools"))
    assert admin.post(f"/web/users/{world.admin.id}/deactivate", data={"csrf_token": t}).status_code == 422
    session.expire_all()
    assert session.get(User, world.admin.id).active


def test_an_inspector_without_an_area_keeps_at_least_one_school(client, session, world):
    token = _as(client, world.office_a1)
    r = client.post("/web/users/new", data=_user_form(assigned_school_id=[str(world.school_a1.id)])
                    | {"csrf_token": token})
    assert r.status_code == 303
    user = session.scalar(select(User).where(User.username == "web-insp"))
    assert user.jurisdiction_id is None
    r = client.post(f"/web/users/{user.id}/assignments?lang=en", data={"csrf_token": token})
    assert r.status_code == 422
    assert "Assigned schools: Choose the inspector's area or assign schools." in _error(r)
    r = client.patch(f"/api/v1/users/{user.id}", json={"assigned_school_ids": []},
                     headers=token_for(session, world.office_a1))
    assert r.status_code == 422 and "assigned_school_ids" in r.json["errors"]
    assert accounts.assigned_school_ids(session, user.id) == [world.school_a1.id]
    r = client.post(f"/web/users/{user.id}/assignments", data={"csrf_token": token,
                                                               "school_id": [str(world.school_a1b.id)]})
    assert r.status_code == 303 and accounts.assigned_school_ids(session, user.id) == [world.school_a1b.id]
    # One with an area may have none.
    r = client.post(f"/web/users/{world.inspector_a1.id}/assignments", data={"csrf_token": token})
    assert r.status_code == 303


def test_a_username_differing_only_in_case_is_taken(client, session, world):
    token = _as(client, world.office_a1)
    r = client.post("/web/users/new?lang=en", data=_user_form(username=world.inspector_a1.username.upper(),
                                                              jurisdiction_id=str(world.county_a1.id))
                    | {"csrf_token": token})
    assert r.status_code == 422 and "Username: This username is already taken" in _error(r)
    assert _count(session, User, User.username == world.inspector_a1.username.upper()) == 0


@pytest.mark.parametrize("lang,password,text", [
    ("en", " " * 8, "A password of only spaces is not allowed"),
    ("en", "WEB-INSP", "The password must differ from the username."),
    ("zh-CN", "web-insp", "密码不能与用户名相同"),
])
def test_blank_passwords_and_the_username_as_password_are_refused(client, session, world, lang, password, text):
    token = _as(client, world.office_a1)
    r = client.post(f"/web/users/new?lang={lang}", data=_user_form(password=password, password2=password,
                                                                   jurisdiction_id=str(world.county_a1.id))
                    | {"csrf_token": token})
    assert r.status_code == 422 and text in _error(r)
    assert _count(session, User, User.username == "web-insp") == 0
    uid, name = world.inspector_a1.id, world.inspector_a1.username
    if password.strip():
        password = name.upper() if password.isupper() else name
    r = client.post(f"/web/users/{uid}/password?lang={lang}", data={"password": password, "password2": password,
                                                                    "csrf_token": token})
    assert r.status_code == 422 and text in _error(r)
    assert _audit(session, uid) == []


def test_renaming_to_the_same_name_changes_nothing_and_an_empty_name_is_the_username(client, session, world):
    token = _as(client, world.office_a1)
    user = world.inspector_a1
    assert client.post(f"/web/users/{user.id}/name", data={"display_name": "李督学", "csrf_token": token}).status_code \
        == 303
    r = client.post(f"/web/users/{user.id}/name?lang=en", data={"display_name": " 李督学 ", "csrf_token": token})
    assert r.status_code == 303
    assert "Nothing was changed." in client.get(r.headers["Location"]).get_data(as_text=True)
    assert len(_audit(session, user.id)) == 1
    # Empty: the username, as an account created without a name (and as the API does).
    r = client.post(f"/web/users/{user.id}/name", data={"display_name": "  ", "csrf_token": token})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(User, user.id).display_name == user.username and len(_audit(session, user.id)) == 2
    r = client.post("/web/users/new", data=_user_form(display_name="", jurisdiction_id=str(world.county_a1.id))
                    | {"csrf_token": token})
    assert r.status_code == 303
    assert session.scalar(select(User.display_name).where(User.username == "web-insp")) == "web-insp"
    bearer = token_for(session, world.office_a1)
    assert client.patch(f"/api/v1/users/{user.id}", json={"display_name": "李"}, headers=bearer).status_code == 200
    r = client.patch(f"/api/v1/users/{user.id}", json={"display_name": ""}, headers=bearer)
    assert r.status_code == 200 and r.json["display_name"] == user.username


@pytest.mark.parametrize("raw_name", [b"bad%FFname", b"bad%ED%A0%80name", b"bad\xffname"])
def test_a_form_whose_text_is_not_utf8_is_refused_and_nothing_is_saved(client, session, world, raw_name):
    """Found by a break-it pass: `name=bad%FFname` was stored as the school's name, its escape kept as text.
    A form whose bytes or %-escapes are not UTF-8 is a 400 page in the reader's language; nothing is saved."""
    from urllib.parse import urlencode
    token = _as(client, world.office_a1)
    fields = _school_form(world, code="WEB-8") | {"csrf_token": token}
    body = urlencode({k: v for k, v in fields.items() if k != "name"}).encode() + b"&name=" + raw_name
    r = client.post("/web/schools/new?lang=en", data=body, content_type="application/x-www-form-urlencoded",
                    headers={"Accept": "text/html"})
    assert r.status_code == 400 and r.mimetype == "text/html", (r.status_code, r.mimetype)
    assert _count(session, School, School.code == "WEB-8") == 0
    good = body.replace(b"&name=" + raw_name, b"&name=" + urlencode({"n": "好名字"}).encode()[2:])
    assert client.post("/web/schools/new?lang=en", data=good, content_type="application/x-www-form-urlencoded"
                       ).status_code == 303
    assert _count(session, School, School.code == "WEB-8") == 1
