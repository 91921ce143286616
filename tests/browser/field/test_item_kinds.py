"""In real Chromium: the checklist offers n/a only on an item the template lets be n/a, asks a time-of-day item
with a time input ("HH:MM"), and judges a teaching point under 50 pupils "exempt" from R1-R7 as the server
does, with the after-school window judged on the time typed."""
from __future__ import annotations

import uuid


from sqlalchemy import select

from inspections import clock
from inspections.org.enums import SchoolType
from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate
from inspections.visits.models import Response
from tests.browser.field.helpers import PHONE, sign_in, sync_fully
from tests.factories import make_world, token_for

AFTER_SCHOOL = {"code": "after_school_end", "kind": "time_of_day", "unit": "", "section": "C",
                "levels": ["primary", "junior"], "na_allowed": True,
                "help": {"zh": "课后服务结束时间（无课后服务填不适用）", "en": "When after-school service ends (n/a if none)"}}
ENDS = {"code": "AS1", "name": {"zh": "课后服务结束时间不早于17:30", "en": "After-school service ends at 17:30 or later"},
        "section": "C", "levels": ["primary", "junior"], "expr": {"op": "fact", "fact": "after_school_end"},
        "comparator": "ge", "threshold": "17:30", "unit": "time_of_day", "shortfall": None, "severity": "medium"}


def test_time_of_day_na_where_allowed_and_an_exempt_teaching_point(session, client, live_server, browser, field_dist):
    from playwright.sync_api import expect
    w = make_world(session)
    national = session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.jurisdiction_id.is_(None)))
    tpl = templates.create_template(session, code="county-after-school", name="after school", jurisdiction=w.county_a1,
                                    parent=national)
    version = templates.publish(session, templates.create_version(
        session, tpl, overlay={"add_items": [AFTER_SCHOOL], "add_indicators": [ENDS]}, effective_from=None))
    w.school_a1.school_type = SchoolType.teaching_point
    session.commit()
    visit = client.post("/api/v1/visits", headers=token_for(session, w.office_a1), json={
        "school_id": str(w.school_a1.id), "planned_for": clock.today().isoformat(),
        "inspector_ids": [str(w.inspector_a1.id)], "template_version_id": str(version.id)}).json

    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sign_in(page, live_server, w.inspector_a1.username)
    page.locator(f'[data-visit="{visit["id"]}"] [data-testid="start-visit"]').click()
    page.wait_for_selector('[data-testid="section-school"]')

    # n/a only where the template allows it: the after-school item, never enrolment or an R1-R7 fact.
    expect(page.locator('[data-testid^="na-"]')).to_have_count(1)
    expect(page.get_by_test_id("na-after_school_end")).to_be_visible()
    time_input = page.get_by_test_id("input-after_school_end")
    expect(time_input).to_have_attribute("type", "time")

    # 38 pupils at a teaching point: not judged on R1-R7 (exempt), the other items still are.
    page.get_by_test_id("input-enrolment").fill("38")
    verdict = page.get_by_test_id("verdict-school")
    expect(verdict).to_have_attribute("data-verdict", "exempt")
    expect(page.get_by_test_id("exempt-reason")).to_have_text("不足 50 人的教学点（38 人）：按实际配备，不参与 R1–R7 评估")
    expect(verdict.locator('li[data-code="R1"]')).to_have_attribute("data-status", "not_applicable")

    time_input.fill("17:00")  # before 17:30: not met, shown as a time
    as1 = verdict.locator('li[data-code="AS1"]')
    expect(as1).to_have_attribute("data-status", "not_met")
    expect(as1).to_contain_text("17:00")
    time_input.fill("17:45")
    expect(as1).to_have_count(0)  # met: only school-rule and missed items are listed
    page.get_by_test_id("na-after_school_end").check()  # no after-school service: n/a, allowed here
    expect(page.locator('[data-testid="item-after_school_end"]')).to_have_class("item na")
    expect(time_input).to_have_value("")
    expect(page.locator('[data-testid="item-after_school_end"] .error')).to_be_hidden()
    expect(verdict).to_have_attribute("data-verdict", "exempt")
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)  # the server takes the n/a
    session.expire_all()
    answers = {r.item_code: r.value for r in session.scalars(select(Response).where(Response.visit_id == uuid.UUID(visit["id"])))}
    assert answers == {"enrolment": 38, "after_school_end": "n/a"}
    ctx.close()
