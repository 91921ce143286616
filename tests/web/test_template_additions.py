"""A local template's new version adds a measured item with its indicator, and a county target, from the web:
the form's fields become the overlay the template service takes, the service's refusals come back named as
the form labels them in the page's language (nothing written), the draft's preview shows what it adds with
thresholds and units, and once published a visit is scored with the new indicator and its shortfall."""
from __future__ import annotations

import html
import re

import pytest

from inspections.accounts.enums import Role
from inspections.scoring.models import VisitScore
from inspections.templates.enums import VersionStatus
from inspections.templates.models import ChecklistTemplate, TemplateVersion
from inspections.tickets.models import Ticket
from tests.factories import GOOD_PRIMARY, make_user, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import csrf, login

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

BOOKS = {"item_code": "psychology_teachers", "item_zh": "专职心理健康教师数", "item_en": "Full-time mental-health teachers",
         "item_unit": "teachers", "item_section": "C", "item_levels": ["primary", "junior"], "item_photo": "yes",
         "item_comparator": "ge", "item_t_primary": "2", "item_t_junior": "3", "item_severity": "high"}
TARGET = {"target_code": "B5-70", "target_zh": "七成学校班额达标", "target_en": "70% of schools meet class size",
          "target_section": "B", "target_indicators": ["B5"], "target_kind": "share", "target_value": "70"}


@pytest.fixture
def world(session):
    from inspections.templates import service as templates
    w = make_world(session)
    national = session.query(ChecklistTemplate).filter(ChecklistTemplate.jurisdiction_id.is_(None)).one()
    w.tpl = templates.create_template(session, code="a1-local", name="A1", jurisdiction=w.county_a1, parent=national)
    session.commit()
    return w


def _errors(resp) -> str:
    found = re.search(r'data-testid="error">(.*?)</div>', resp.get_data(as_text=True), re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))) if found else ""


def _post(client, world, lang="en", **data):
    page = client.get(f"/web/templates/{world.tpl.id}?lang={lang}")
    return client.post(f"/web/templates/{world.tpl.id}/versions", data={"csrf_token": csrf(page), **data})


def _versions(session, world) -> int:
    return session.query(TemplateVersion).filter_by(template_id=world.tpl.id).count()


def test_the_form_offers_the_units_levels_and_indicators_the_definition_knows(client, world):
    login(client, world.office_a1.username)
    page = client.get(f"/web/templates/{world.tpl.id}?lang=en").get_data(as_text=True)
    item = re.search(r'data-testid="new-item">(.*?)</fieldset>\s*(?:<fieldset data-testid|<button)', page, re.S).group(1)
    units = re.findall(r'<option value="([^"]+)"', re.search(r'name="item_unit">(.*?)</select>', item).group(1))
    assert units == ["students", "teachers", "rooms", "m2", "yuan"]
    assert "m²" in item and "At least" in item and "At most" in item and "Threshold for Junior secondary" in item
    assert item.count('name="item_levels"') == 2 and item.count("checked") == 2  # both levels ticked at first
    target = re.search(r'data-testid="new-target">(.*?)<button', page, re.S).group(1)
    assert 'value="B5"' in target and "Class size" in target and 'value="R1"' in target


def test_an_office_adds_a_measured_item_and_a_county_target_previews_and_publishes_them(app, client, session, world):
    login(client, world.office_a1.username)
    r = _post(client, world, **BOOKS, **TARGET)
    assert r.status_code == 303, _errors(r)
    v = session.query(TemplateVersion).filter_by(template_id=world.tpl.id).one()
    item = next(i for i in v.overlay["add_items"] if i["code"] == "psychology_teachers")
    assert item == {"code": "psychology_teachers", "kind": "integer", "unit": "teachers", "section": "C",
                    "levels": ["primary", "junior"], "photo_required": True, "enabled": True,
                    "help": {"zh": "专职心理健康教师数", "en": "Full-time mental-health teachers"}}
    ind = next(i for i in v.definition["indicators"] if i["code"] == "L.psychology_teachers")
    assert (ind["comparator"], ind["threshold"], ind["shortfall"], ind["severity"]) == (
        "ge", {"primary": "2", "junior": "3"}, {"unit": "teachers", "round": "whole"}, "high")
    assert v.definition["county"]["targets"] == [{"code": "B5-70", "name": {"zh": "七成学校班额达标",
                                                  "en": "70% of schools meet class size"}, "section": "B",
                                                  "indicator": "B5", "min_share_met": "0.7"}]
    # The preview shows what the draft adds, with thresholds and units, in the page's language.
    for lang, words in (("en", ["Full-time mental-health teachers", "Primary: ≥ 2 teachers", "Junior secondary: ≥ 3 teachers",
                                "Whole number (teachers)", "B5-70 70% of schools meet class size",
                                "At least 70% of the schools meet it", "B5 Class size"]),
                        ("zh-CN", ["专职心理健康教师数", "小学: ≥ 2 名教师", "初中: ≥ 3 名教师", "七成学校班额达标",
                                   "至少 70% 的学校达标", "新增"])):
        page = client.get(f"/web/templates/versions/{v.id}?lang={lang}").get_data(as_text=True)
        text = html.unescape(re.sub(r"<[^>]+>", " ", page.split("<main>", 1)[1]))
        assert all(w in re.sub(r"\s+", " ", text) for w in words), (lang, text[:4000])
        assert not UUID.search(text) and "psychology_teachers" not in text.replace("L.psychology_teachers", "")
        assert page.count('data-testid="added"') == 3  # the item, its indicator and the target
    token = csrf(client.get(f"/web/templates/versions/{v.id}"))
    assert client.post(f"/web/templates/versions/{v.id}/publish", data={"csrf_token": token}).status_code == 303
    session.expire_all()
    assert session.get(TemplateVersion, v.id).status == VersionStatus.published
    # A visit planned now uses the published version: the new indicator is scored, short in students.
    submit_visit(client, token_for(session, world.inspector_a1), world.school_a1.id,
                 {**GOOD_PRIMARY, "psychology_teachers": 1})
    run_jobs(app)
    score = session.query(VisitScore).filter_by(school_id=world.school_a1.id).one()
    assert score.template_version_id == v.id
    psy = score.result["quality"]["L.psychology_teachers"]
    assert (psy["status"], str(psy["threshold"]), str(psy["shortfall"]), psy["shortfall_unit"]) == (
        "not_met", "2", "1", "teachers")
    ticket = session.query(Ticket).filter_by(school_id=world.school_a1.id, item_code="L.psychology_teachers").one()
    login(client, world.office_a1.username)
    page = client.get(f"/web/tickets/{ticket.id}?lang=en").get_data(as_text=True)
    assert "Full-time mental-health teachers: Measured 1, required ≥ 2, short by 1 teacher" in html.unescape(page)


def test_at_most_is_counted_as_an_excess(app, client, session, world):
    login(client, world.office_a1.username)
    r = _post(client, world, **{**BOOKS, "item_code": "pupils_per_toilet", "item_zh": "每个厕位学生数",
                               "item_en": "Pupils per toilet", "item_unit": "students", "item_comparator": "le", "item_t_primary": "40",
                               "item_t_junior": "40", "item_levels": ["primary"]})
    assert r.status_code == 303, _errors(r)
    v = session.query(TemplateVersion).filter_by(template_id=world.tpl.id).one()
    assert client.post(f"/web/templates/versions/{v.id}/publish",
                       data={"csrf_token": csrf(client.get("/web/templates"))}).status_code == 303
    submit_visit(client, token_for(session, world.inspector_a1), world.school_a1.id,
                 {**GOOD_PRIMARY, "pupils_per_toilet": 43})
    run_jobs(app)
    ticket = session.query(Ticket).filter_by(school_id=world.school_a1.id, item_code="L.pupils_per_toilet").one()
    page = html.unescape(client.get(f"/web/tickets/{ticket.id}?lang=en").get_data(as_text=True))
    assert "Pupils per toilet: Measured 43, required ≤ 40, over by 3 students" in page


@pytest.mark.parametrize("lang,changes,expected", [
    ("en", {"item_code": "enrolment"}, ["Measured item · Item code: This code is already used; choose another."]),
    ("en", {"item_code": "psychology teachers"}, ["Measured item · Item code: Use up to 64 letters"]),
    ("en", {"item_en": ""}, ["Measured item · Question: Write it in Chinese and in English"]),
    ("en", {"item_levels": []}, ["Measured item · School levels: Choose at least one school level."]),
    ("en", {"item_t_junior": ""}, ["Measured item · Threshold: Enter a threshold for each school level"]),
    ("en", {"item_t_primary": "lots"}, ["Measured item · Threshold for Primary: Enter a number such as 4.5."]),
    ("en", {"item_unit": "bananas"}, ["Measured item · Unit: Choose one of the listed options."]),
    ("en", {"item_comparator": "eq"}, ["Measured item · Requirement: Choose at least or at most."]),
    ("zh-CN", {"item_t_primary": "很多", "item_zh": ""},
     ["计量项目 · 小学标准值: 请输入数字", "计量项目 · 问题: 请分别用中文和英文填写"]),
])
def test_a_refused_measured_item_is_named_as_the_form_labels_it(client, session, world, lang, changes, expected):
    login(client, world.office_a1.username)
    r = _post(client, world, lang, **{**BOOKS, **changes})
    assert r.status_code == 422
    errors = _errors(r)
    assert all(e in errors for e in expected), errors
    assert not UUID.search(errors) and "add_items" not in errors and "indicators[" not in errors
    assert _versions(session, world) == 0
    body = r.get_data(as_text=True)
    assert 'value="Full-time mental-health teachers"' in body or changes.get("item_en") == ""  # what was typed stays


@pytest.mark.parametrize("changes,expected", [
    ({"target_value": "120"}, "County target · Value: Enter a percentage above 0 and at most 100, such as 70."),
    ({"target_kind": "fewer", "target_value": "0"}, "County target · Value: Enter a whole number of schools from 1"),
    # Digits of another script are no number of the decimal grammar (isdigit() alone takes them as 12).
    ({"target_kind": "fewer", "target_value": "١٢"}, "County target · Value: Enter a whole number of schools from 1"),
    ({"target_value": "7_0"}, "County target · Value: Enter a percentage above 0 and at most 100, such as 70."),
    ({"target_indicators": []}, "County target · Indicators counted: Choose at least one indicator from the list."),
    ({"target_zh": ""}, "County target · Name: Write it in Chinese and in English"),
    ({"target_code": ""}, "County target · Target code: Enter a code no other county item, indicator or target uses."),
])
def test_a_refused_county_target_is_named_as_the_form_labels_it(client, session, world, changes, expected):
    login(client, world.office_a1.username)
    r = _post(client, world, **{**TARGET, **changes})
    assert r.status_code == 422 and expected in _errors(r), _errors(r)
    assert _versions(session, world) == 0


def test_a_later_version_keeps_what_an_earlier_one_added_and_codes_stay_unique(client, session, world):
    login(client, world.office_a1.username)
    assert _post(client, world, **TARGET).status_code == 303
    v1 = session.query(TemplateVersion).filter_by(template_id=world.tpl.id).one()
    client.post(f"/web/templates/versions/{v1.id}/publish", data={"csrf_token": csrf(client.get("/web/templates"))})
    # A check and a measured item of one form may not share a code: refused by name, nothing made.
    r = _post(client, world, **BOOKS, check_code="psychology_teachers", check_zh="有", check_en="Has")
    assert r.status_code == 422 and "This code is already used" in _errors(r), _errors(r)
    assert _versions(session, world) == 1
    # The next version adds the item on top of the first one's target.
    assert _post(client, world, **BOOKS).status_code == 303
    v2 = session.query(TemplateVersion).filter_by(template_id=world.tpl.id, number=2).one()
    assert [t["code"] for t in v2.definition["county"]["targets"]] == ["B5-70"]
    assert "psychology_teachers" in {i["code"] for i in v2.definition["items"]}


def test_only_the_owning_office_adds_and_a_forged_form_writes_nothing(client, session, world):
    other = make_user(session, Role.office, jurisdiction=world.county_b1)
    session.commit()
    login(client, world.office_a1.username)
    # Without the form's CSRF token: refused, nothing made.
    r = client.post(f"/web/templates/{world.tpl.id}/versions", data={**BOOKS})
    assert r.status_code == 400 and _versions(session, world) == 0
    token = csrf(client.get("/web/templates"))
    client.post("/web/logout", data={"csrf_token": token})
    login(client, other.username)
    token = csrf(client.get("/web/templates"))
    assert client.post(f"/web/templates/{world.tpl.id}/versions", data={"csrf_token": token, **BOOKS}).status_code == 404
    national = session.query(ChecklistTemplate).filter(ChecklistTemplate.jurisdiction_id.is_(None)).one()
    assert client.post(f"/web/templates/{national.id}/versions",
                       data={"csrf_token": token, **BOOKS}).status_code == 403
    client.post("/web/logout", data={"csrf_token": token})
    login(client, world.inspector_a1.username)
    token = csrf(client.get("/web/my-visits"))
    assert client.post(f"/web/templates/{world.tpl.id}/versions",
                       data={"csrf_token": token, **BOOKS}).status_code == 403
    assert _versions(session, world) == 0


def test_an_area_or_an_amount_is_answered_as_a_decimal_and_its_gap_counted_to_the_cent(client, session, world):
    login(client, world.office_a1.username)
    r = _post(client, world, **{**BOOKS, "item_code": "library_area_m2", "item_unit": "m2",
                               "item_t_primary": "120.5", "item_t_junior": "150"})
    assert r.status_code == 303, _errors(r)
    v = session.query(TemplateVersion).filter_by(template_id=world.tpl.id).one()
    item = next(i for i in v.definition["items"] if i["code"] == "library_area_m2")
    ind = next(i for i in v.definition["indicators"] if i["code"] == "L.library_area_m2")
    assert (item["kind"], ind["shortfall"]) == ("number", {"unit": "m2", "round": "cent"})
    page = client.get(f"/web/templates/versions/{v.id}?lang=en").get_data(as_text=True)
    assert "Primary: ≥ 120.5 m²" in page and "Number (m²)" in page


def _publish(client, v, lang="en"):
    page = client.get(f"/web/templates/versions/{v.id}?lang={lang}")
    return client.post(f"/web/templates/versions/{v.id}/publish", data={"csrf_token": csrf(page)})


def test_a_draft_made_before_another_version_was_published_is_not_published(client, session, world):
    login(client, world.office_a1.username)
    assert _post(client, world, **BOOKS).status_code == 303
    assert _post(client, world, **TARGET).status_code == 303
    a, b = session.query(TemplateVersion).filter_by(template_id=world.tpl.id).order_by(TemplateVersion.number).all()
    assert 'data-testid="publish"' in client.get(f"/web/templates/versions/{b.id}").get_data(as_text=True)
    assert _publish(client, a).status_code == 303
    page = client.get(f"/web/templates/versions/{b.id}?lang=zh-CN").get_data(as_text=True)
    assert 'data-testid="publish"' not in page and 'data-testid="superseded"' in page
    assert f"第 {a.number} 版" in page and "不能再发布" in page
    r = _publish(client, b)
    assert r.status_code == 422 and "make a new draft from the current version" in _errors(r)
    session.expire_all()
    assert session.get(TemplateVersion, b.id).status == VersionStatus.draft
    # A new draft starts from version A, so it keeps what A added.
    assert _post(client, world, **TARGET).status_code == 303
    c = session.query(TemplateVersion).filter_by(template_id=world.tpl.id).order_by(TemplateVersion.number.desc()).first()
    assert "psychology_teachers" in {i["code"] for i in c.definition["items"]}
    assert _publish(client, c).status_code == 303


def test_a_county_template_may_not_be_looser_than_its_citys_standard(client, session, world):
    from inspections.errors import DomainError
    from inspections.templates import service as templates
    national = session.get(ChecklistTemplate, world.tpl.parent_id)
    login(client, world.office_a1.username)
    assert _post(client, world, **{"t.R1.primary": "4.5"}).status_code == 303  # before the city has a standard
    early = session.query(TemplateVersion).filter_by(template_id=world.tpl.id).one()
    city = templates.create_template(session, code="city-a", name="A", jurisdiction=world.city_a, parent=national)
    templates.publish(session, templates.create_version(session, city, overlay={"set_thresholds": {
        "R1": {"primary": "5.0"}}}, effective_from=None))
    session.commit()
    r = _post(client, world, **{"t.R1.primary": "4.8"})
    assert r.status_code == 422 and "4.8 would loosen the threshold 5.0 of city-a" in _errors(r), _errors(r)
    r = _publish(client, early)
    assert r.status_code == 422 and "would loosen the threshold 5.0 of city-a" in _errors(r), _errors(r)
    with pytest.raises(DomainError):  # the API's way in is the same service
        templates.create_version(session, world.tpl, overlay={"set_thresholds": {"R1": {"primary": "4.6"}}},
                                 effective_from=None)
    session.rollback()
    assert _post(client, world, **{"t.R1.primary": "5.2"}).status_code == 303


@pytest.mark.parametrize("data,expected", [
    ({"t.R1.primary": "100000000000000"}, ["R1 · Primary: Enter a number from 0 to 10000000000000."]),
    ({"t.C4.primary": "101"}, ["C4 · Primary: Enter a percentage from 0 to 100."]),
    ({"t.B5.primary": "0"}, ["B5 · Primary: Enter a number above 0"]),
    ({"t.R1.primary": "abc"}, ["R1 · Primary: Enter a number such as 4.5."]),
    # What Python's Decimal() reads and the one decimal grammar does not (the API refuses them alike).
    ({"t.R1.primary": "4_3"}, ["R1 · Primary: Enter a number such as 4.5."]),
    ({"t.R1.primary": "4.3e0"}, ["R1 · Primary: Enter a number such as 4.5."]),
    ({"t.R1.primary": "+4.3"}, ["R1 · Primary: Enter a number such as 4.5."]),
    ({"t.R1.primary": "-1"}, ["R1 · Primary: -1 would loosen the parent's threshold 4.2"]),
    ({**BOOKS, "item_t_primary": "100000000000000"}, ["Measured item · Threshold for Primary: Enter a number from 0 to"]),
    ({**BOOKS, "item_code": "R1"}, ["Measured item · Item code: This code is already used; choose another."]),
    ({**BOOKS, "item_code": "B3.1"}, ["Measured item · Item code: This code is already used; choose another."]),
    ({**BOOKS, "check_code": "psychology_teachers", "check_zh": "有", "check_en": "Has"},
     ["Check code: This code is already used; choose another."]),
    ({**BOOKS, "item_section": "A"}, ["Measured item · Part of the standard: Choose one of the listed options."]),
    ({**BOOKS, "item_section": "D"}, ["Measured item · Part of the standard: Choose one of the listed options."]),
    ({**TARGET, "target_section": "A"}, ["County target · Part of the standard: Choose one of the listed options."]),
    ({**TARGET, "target_kind": "most"}, ["County target · Kind of target: Choose one of the listed options."]),
    ({**TARGET, "target_code": "B5"}, ["County target · Target code: This code is already used; choose another."]),
    ({**TARGET, "target_value": "0.7"}, ["County target · Value: Enter the percentage of schools, such as 70 for 70%."]),
    ({"t.R1.primary": "4.2"}, ["New thresholds: Nothing would change"]),
    ({"t.R1.primary": "4.5", "effective_from": "2020-01-01"}, ["Effective from: Choose today or a later date"]),
])
def test_each_problem_is_said_once_under_its_label_and_nothing_is_written(client, session, world, data, expected):
    login(client, world.office_a1.username)
    r = _post(client, world, **data)
    assert r.status_code == 422
    errors = _errors(r)
    assert all(e in errors for e in expected), errors
    assert errors.count(":") == len(expected), errors  # nothing else said, nothing said twice
    assert _versions(session, world) == 0


def test_full_width_digits_and_dotted_codes_are_read(client, session, world):
    login(client, world.office_a1.username)
    r = _post(client, world, **{"t.R1.primary": "４.５", "t.C9.2.primary": "0.1"})
    assert r.status_code == 303, _errors(r)
    v = session.query(TemplateVersion).filter_by(template_id=world.tpl.id).one()
    assert v.overlay["set_thresholds"] == {"R1": {"primary": "4.5"}, "C9.2": {"primary": "0.1"}}


def test_the_back_button_shows_the_template_and_says_what_happened(client, session, world):
    from inspections.templates import service as templates
    login(client, world.office_a1.username)
    page = client.get("/web/templates?lang=en")
    r = client.post("/web/templates", data={"csrf_token": csrf(page), "code": "again", "name": "A1 again",
                                            "parent_id": str(world.tpl.parent_id)})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/web/templates/{world.tpl.id}")
    assert "Your area already has a template" in client.get(r.headers["Location"]).get_data(as_text=True)
    v = templates.create_version(session, world.tpl, overlay={"set_thresholds": {"R1": {"primary": "4.5"}}},
                                 effective_from=None)
    session.commit()
    assert _publish(client, v).status_code == 303
    r = _publish(client, v)
    assert r.status_code == 422 and "This version is already published." in _errors(r)
    assert f'href="/web/templates/{world.tpl.id}"' in r.get_data(as_text=True).split('data-testid="new-draft-link"')[1]


def test_the_placeholders_and_an_empty_date_read_in_chinese(client, session, world):
    from inspections.templates import service as templates
    login(client, world.office_a1.username)
    page = client.get(f"/web/templates/{world.tpl.id}?lang=zh-CN").get_data(as_text=True)
    assert 'placeholder="例如 library_books"' in page and 'placeholder="例如 has_reading_room"' in page
    v = templates.create_version(session, world.tpl, overlay={"set_thresholds": {"R1": {"primary": "4.5"}}},
                                 effective_from=None)
    session.commit()
    assert "自发布起" in client.get(f"/web/templates/versions/{v.id}?lang=zh-CN").get_data(as_text=True)
