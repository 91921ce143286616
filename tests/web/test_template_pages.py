"""Template pages: the templates in scope, a version's items and indicators in both languages, a local
template made by its office, a draft version that tightens a threshold (previewed), refused when it would
loosen one (the field named, in the page's words), and published; nobody else may change it."""
from __future__ import annotations

import html
import re

import pytest

from inspections.accounts.enums import Role
from inspections.templates.enums import VersionStatus
from inspections.templates.models import ChecklistTemplate, TemplateVersion
from tests.factories import make_user, make_world
from tests.web.helpers import csrf, login

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _visible(html: str) -> str:
    body = html.split("<main>", 1)[1]
    return re.sub(r"<[^>]+>", " ", body)


@pytest.fixture
def world(session):
    return make_world(session)


def _national(session) -> TemplateVersion:
    return session.query(TemplateVersion).join(ChecklistTemplate).filter(
        ChecklistTemplate.jurisdiction_id.is_(None)).order_by(TemplateVersion.number.desc()).first()


@pytest.mark.parametrize("lang,words", [
    ("en", ["R1 Teachers above required qualification per 100 students", "Primary: ≥ 4.2 per 100 students",
            "Resource allocation", "Checklist items"]),
    ("zh-CN", ["R1 每百名学生拥有高于规定学历教师数", "小学: ≥ 4.2 每百名学生", "资源配置", "检查项目"])])
def test_a_version_reads_in_the_page_language(client, session, world, lang, words):
    login(client, world.office_a1.username)
    listing = client.get(f"/web/templates?lang={lang}").get_data(as_text=True)
    v = _national(session)
    assert f'/web/templates/versions/{v.id}' in listing
    page = client.get(f"/web/templates/versions/{v.id}?lang={lang}").get_data(as_text=True)
    text = _visible(page)
    assert all(w in text for w in words), text[:3000]
    assert not UUID.search(text) and "per_100_students" not in text and not re.search(r"\b(ge|le|eq)\b", text)
    # Not the office of the national template: no publish button, no new-version form.
    assert 'data-testid="publish"' not in page


def test_an_office_makes_tightens_previews_and_publishes_its_local_template(client, session, world):
    login(client, world.office_a1.username)
    page = client.get("/web/templates?lang=en")
    assert 'data-testid="new-template"' in page.get_data(as_text=True)
    national = session.query(ChecklistTemplate).filter(ChecklistTemplate.jurisdiction_id.is_(None)).first()
    r = client.post("/web/templates", data={"csrf_token": csrf(page), "code": "county-a1-2027", "name": "A1 standard",
                                             "parent_id": str(national.id)})
    assert r.status_code == 303
    tpl = session.query(ChecklistTemplate).filter_by(code="county-a1-2027").one()
    assert tpl.jurisdiction_id == world.county_a1.id
    page = client.get(f"/web/templates/{tpl.id}?lang=en")
    form = page.get_data(as_text=True)
    assert 'name="t.R1.primary"' in form and "≥ 4.2" in form
    # Loosening is refused by the service; the page names the field and says why, in English words.
    r = client.post(f"/web/templates/{tpl.id}/versions", data={"csrf_token": csrf(page), "t.R1.primary": "4.0"})
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    errors = html.unescape(re.search(r'data-testid="error">(.*?)</div>', body, re.S).group(1))
    assert "R1 · Primary: 4.0 would loosen the parent's threshold 4.2; a local template may only make it " \
           "stricter." in errors
    assert "set_thresholds" not in errors and 'value="4.0"' in body  # what was typed stays in the form
    assert session.query(TemplateVersion).filter_by(template_id=tpl.id).count() == 0
    # Tightening makes a draft, previewed with what it changes.
    r = client.post(f"/web/templates/{tpl.id}/versions", data={"csrf_token": csrf(page), "t.R1.primary": "4.5"})
    assert r.status_code == 303
    v = session.query(TemplateVersion).filter_by(template_id=tpl.id).one()
    assert v.status == VersionStatus.draft and v.overlay["set_thresholds"] == {"R1": {"primary": "4.5"}}
    preview = client.get(f"/web/templates/versions/{v.id}?lang=en").get_data(as_text=True)
    changed = re.findall(r'data-testid="changed">([^<]*)<', preview)
    assert changed == ["(was ≥ 4.2 per 100 students)"] and "Primary: ≥ 4.5 per 100 students" in preview
    r = client.post(f"/web/templates/versions/{v.id}/publish", data={"csrf_token": csrf(page)})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(TemplateVersion, v.id).status == VersionStatus.published
    # Publishing twice is refused with words, not a code.
    r = client.post(f"/web/templates/versions/{v.id}/publish", data={"csrf_token": csrf(page)})
    assert r.status_code == 422 and "This version is already published." in r.get_data(as_text=True)


def test_a_bad_number_reads_in_chinese(client, session, world):
    login(client, world.office_a1.username)
    national = session.query(ChecklistTemplate).filter(ChecklistTemplate.jurisdiction_id.is_(None)).first()
    page = client.get("/web/templates?lang=zh-CN")
    client.post("/web/templates", data={"csrf_token": csrf(page), "code": "a1", "name": "x",
                                        "parent_id": str(national.id)})
    tpl = session.query(ChecklistTemplate).filter_by(code="a1").one()
    r = client.post(f"/web/templates/{tpl.id}/versions", data={"csrf_token": csrf(page), "t.R1.junior": "abc"})
    assert r.status_code == 422
    errors = re.search(r'data-testid="error">(.*?)</div>', r.get_data(as_text=True), re.S).group(1)
    assert "R1 · 初中" in errors and "请输入数字" in errors


def test_others_may_not_change_a_local_template(client, session, world):
    from inspections.templates import service as templates
    national = session.query(ChecklistTemplate).filter(ChecklistTemplate.jurisdiction_id.is_(None)).first()
    tpl = templates.create_template(session, code="a1-local", name="A1", jurisdiction=world.county_a1, parent=national)
    v = templates.create_version(session, tpl, overlay={"set_thresholds": {"R1": {"primary": "4.5"}}},
                                 effective_from=None)
    other = make_user(session, Role.office, jurisdiction=world.county_b1)
    sibling = make_user(session, Role.office, jurisdiction=world.county_a2)
    session.commit()
    # County B1's office does not see it at all.
    login(client, other.username)
    token = csrf(client.get("/web/templates"))
    assert client.get(f"/web/templates/{tpl.id}").status_code == 404
    assert client.get(f"/web/templates/versions/{v.id}").status_code == 404
    assert client.post(f"/web/templates/versions/{v.id}/publish", data={"csrf_token": token}).status_code == 404
    # The national template is visible to every office but changed by none.
    assert client.post(f"/web/templates/{national.id}/versions",
                       data={"csrf_token": token, "t.R1.primary": "9"}).status_code == 403
    # Schools and inspectors have no template pages.
    client.post("/web/logout", data={"csrf_token": token})
    login(client, world.inspector_a1.username)
    assert client.get("/web/templates").status_code == 403
    client.post("/web/logout", data={"csrf_token": csrf(client.get("/web/my-visits"))})
    login(client, sibling.username)
    token = csrf(client.get("/web/templates"))
    r = client.post(f"/web/templates/versions/{v.id}/publish", data={"csrf_token": token})
    assert r.status_code == 404
    session.expire_all()
    assert session.get(TemplateVersion, v.id).status == VersionStatus.draft


def test_an_office_reads_but_does_not_publish_the_city_template_above_it(client, session, world):
    from inspections.templates import service as templates
    national = session.query(ChecklistTemplate).filter(ChecklistTemplate.jurisdiction_id.is_(None)).first()
    city = templates.create_template(session, code="city-a", name="City A", jurisdiction=world.city_a, parent=national)
    v = templates.create_version(session, city, overlay={"set_thresholds": {"R1": {"primary": "4.5"}}},
                                 effective_from=None)
    session.commit()
    login(client, world.office_a1.username)
    page = client.get(f"/web/templates/versions/{v.id}")
    assert page.status_code == 200 and 'data-testid="publish"' not in page.get_data(as_text=True)
    r = client.post(f"/web/templates/versions/{v.id}/publish", data={"csrf_token": csrf(page)})
    assert r.status_code == 403
    session.expire_all()
    assert session.get(TemplateVersion, v.id).status == VersionStatus.draft


def test_an_office_adds_a_yes_no_check(client, session, world):
    from inspections.templates import service as templates
    national = session.query(ChecklistTemplate).filter(ChecklistTemplate.jurisdiction_id.is_(None)).first()
    tpl = templates.create_template(session, code="a1-check", name="A1", jurisdiction=world.county_a1, parent=national)
    session.commit()
    login(client, world.office_a1.username)
    page = client.get(f"/web/templates/{tpl.id}?lang=en")
    token = csrf(page)
    # A bad code and a missing English question: both named, nothing made.
    r = client.post(f"/web/templates/{tpl.id}/versions", data={"csrf_token": token, "check_code": "X",
                                                               "check_zh": "有阅览室"})
    assert r.status_code == 422
    errors = re.search(r'data-testid="error">(.*?)</div>', r.get_data(as_text=True), re.S).group(1)
    assert "Check code: Use 3 to 40" in errors and "Question: Write the question" in errors
    # A code the standard already has is refused by the service, in words.
    r = client.post(f"/web/templates/{tpl.id}/versions", data={"csrf_token": token, "check_code": "enrolment",
                                                               "check_zh": "问", "check_en": "Q"})
    assert r.status_code == 422 and "This code is already used" in r.get_data(as_text=True)
    assert session.query(TemplateVersion).filter_by(template_id=tpl.id).count() == 0
    r = client.post(f"/web/templates/{tpl.id}/versions", data={
        "csrf_token": token, "check_code": "has_reading_room", "check_zh": "学校有阅览室",
        "check_en": "The school has a reading room", "check_section": "C", "check_severity": "high"})
    assert r.status_code == 303, r.get_data(as_text=True)[:3000]
    v = session.query(TemplateVersion).filter_by(template_id=tpl.id).one()
    assert "has_reading_room" in {i["code"] for i in v.definition["items"]}
    page = client.get(f"/web/templates/versions/{v.id}?lang=zh-CN").get_data(as_text=True)
    assert "学校有阅览室" in page and "教育质量" in page
    assert client.post(f"/web/templates/versions/{v.id}/publish", data={"csrf_token": token}).status_code == 303
    session.expire_all()
    assert session.get(TemplateVersion, v.id).status == VersionStatus.published
