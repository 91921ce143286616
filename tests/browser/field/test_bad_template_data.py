"""In real Chromium: a visit pinned to a template version whose threshold the app cannot read (R1 "4_3",
stored before the server refused thresholds outside the decimal grammar) says, in Chinese and in English,
that its result cannot be computed; the visit list, its answers and every other visit work as before.
(Before, the evaluator threw "[DecimalError] Invalid argument: null" and the visit never opened.)"""
from __future__ import annotations

import copy
import uuid

from sqlalchemy import select, update

from inspections import clock
from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate, TemplateVersion
from inspections.visits.models import Visit
from sync.models import ChangeLog
from tests.browser.field.helpers import PHONE, sign_in, sync_fully
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, token_for


def _version_with_threshold(session, w, threshold: str) -> TemplateVersion:
    """A published county version whose R1 primary threshold is `threshold`. The API and the service refuse
    such a threshold now (and publishing checks the definition once more), so it is published at "4.5" and
    then written into the database directly, in the version's row and in the change the app pulls it from:
    what a version published before the decimal grammar was enforced may still hold."""
    return _version_changed(session, w, lambda d: _r1(d)["threshold"].update(primary=threshold))


def _r1(definition: dict) -> dict:
    return next(i for i in definition["indicators"] if i["code"] == "R1")


def _version_changed(session, w, change) -> TemplateVersion:
    """A published county version whose definition `change` has altered after publication (see above)."""
    national = session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.jurisdiction_id.is_(None)))
    tpl = templates.create_template(session, code="county-a1-old", name="old", jurisdiction=w.county_a1,
                                    parent=national)
    version = templates.publish(session, templates.create_version(
        session, tpl, overlay={"set_thresholds": {"R1": {"primary": "4.5"}}}, effective_from=None))
    session.commit()
    definition = copy.deepcopy(version.definition)
    change(definition)
    session.execute(update(TemplateVersion).where(TemplateVersion.id == version.id).values(definition=definition))
    for change in session.scalars(select(ChangeLog).where(ChangeLog.entity == "template_version",
                                                          ChangeLog.entity_id == version.id)).all():
        session.execute(update(ChangeLog).where(ChangeLog.seq == change.seq)
                        .values(data={**change.data, "definition": definition}))
    session.commit()
    return version


def _open(page, visit_id: str) -> None:
    """Open a visit from the list (answered already: "open", else "start")."""
    card = page.locator(f'[data-visit="{visit_id}"]')
    card.locator('[data-testid="open-visit"], [data-testid="start-visit"]').click()


def _visit_on_the_phone(session, client, live_server, browser, w, version):
    """A visit of the inspector to school A1 on `version`, opened on a phone: (context, page, page errors)."""
    v = client.post("/api/v1/visits", headers=token_for(session, w.office_a1), json={
        "school_id": str(w.school_a1.id), "planned_for": clock.today().isoformat(),
        "inspector_ids": [str(w.inspector_a1.id)], "template_version_id": str(version.id)}).json
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, live_server, w.inspector_a1.username)
    _open(page, v["id"])
    return ctx, page, errors


def test_a_visit_whose_template_cannot_be_read_says_so_and_breaks_nothing(session, client, live_server, browser,
                                                                          field_dist):
    from playwright.sync_api import expect
    w = make_world(session)
    bad = _version_with_threshold(session, w, "4_3")
    national = session.scalar(select(TemplateVersion).join(ChecklistTemplate)
                              .where(ChecklistTemplate.jurisdiction_id.is_(None))
                              .order_by(TemplateVersion.number.desc()).limit(1))
    # The other visit is at a school of county A2 (no county template: the national one is in force there),
    # which the inspector is assigned to as well: the server pins the version in force, whatever is asked.
    from inspections.accounts import service as accounts
    from inspections.accounts.scope import principal_for
    accounts.change_user(session, w.inspector_a1, actor=principal_for(session, w.office_a),
                         assigned_school_ids=[w.school_a2.id])
    session.commit()
    office, insp = token_for(session, w.office_a), token_for(session, w.inspector_a1)
    visits = {}
    for name, school, version, answers in (
            ("bad", w.school_a1, bad, {**GOOD_PRIMARY, "enrolment": 1000, "teachers_above_required_qualification": 45}),
            ("good", w.school_a2, national, {"enrolment": 800, "teachers_above_required_qualification": 20})):
        v = client.post("/api/v1/visits", headers=office, json={
            "school_id": str(school.id), "planned_for": clock.today().isoformat(),
            "inspector_ids": [str(w.inspector_a1.id)], "template_version_id": str(version.id)}).json
        assert v["template_version_id"] == str(version.id), v
        r = client.put(f"/api/v1/visits/{v['id']}/responses", headers=insp,
                       json={"answers": [{"item_code": k, "value": x} for k, x in answers.items()]})
        assert r.status_code == 200, r.json
        visits[name] = v["id"]

    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, live_server, w.inspector_a1.username)
    expect(page.get_by_test_id("visit-card")).to_have_count(2)

    _open(page, visits["bad"])
    page.wait_for_selector('[data-testid="section-school"]')
    unavailable = page.get_by_test_id("verdict-unavailable")
    expect(unavailable).to_contain_text("无法计算本次走访的结果")
    expect(page.get_by_test_id("verdict-unavailable-why")).to_contain_text("4_3")
    expect(page.get_by_test_id("input-enrolment")).to_have_value("1000")  # the answers are there as ever
    ctx.set_offline(True)  # the answer stays "pending" to be seen (online, the app sends it by itself)
    page.get_by_test_id("input-pe_art_teachers").fill("7")  # and still taken
    # Saved (its badge redrawn) before the next tap: CI once saw the language tap right after typing missed.
    expect(page.locator('[data-testid="item-pe_art_teachers"] [data-testid="answer-state"]')).to_have_text("待发送")
    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("verdict-unavailable")).to_contain_text("This visit's result cannot be computed")
    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    # Submitted, the server records it unscorable for its template, and the app says so (not "answers").
    page.once("dialog", lambda d: d.accept())
    page.get_by_test_id("submit-visit").click()
    expect(page.get_by_test_id("visit-status")).to_contain_text("submitted")
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    session.expire_all()
    assert session.get(Visit, uuid.UUID(visits["bad"])).status.value == "submitted"
    run_jobs(client.application)
    sync_fully(page)
    expect(page.get_by_test_id("server-verdict")).to_contain_text("This visit's result cannot be computed",
                                                                  timeout=30000)

    page.goto(f"{live_server}/field/#/")
    expect(page.get_by_test_id("visit-card")).to_have_count(2)
    _open(page, visits["good"])
    verdict = page.get_by_test_id("verdict-school")
    expect(verdict.locator('li[data-code="R1"]')).to_have_count(1)  # the other visit is scored on the phone
    expect(verdict).not_to_have_attribute("data-verdict", "unavailable")
    expect(page.get_by_test_id("verdict-unavailable")).to_have_count(0)
    assert errors == []
    session.expire_all()
    from inspections.visits.models import Response
    assert {r.item_code: r.value for r in session.scalars(
        select(Response).where(Response.visit_id == uuid.UUID(visits["bad"])))}["pe_art_teachers"] == 7
    ctx.close()


def test_anything_else_the_evaluator_trips_on_costs_only_that_visits_verdict(session, client, live_server, browser,
                                                                           field_dist):
    """Template data the evaluator cannot evaluate at all (an expression op it does not know; no way in writes
    one): the visit page says its result cannot be computed instead of throwing, and the list stays."""
    from playwright.sync_api import expect
    w = make_world(session)
    bad = _version_changed(session, w, lambda d: _r1(d).update(expr={"op": "bogus", "fact": "enrolment"}))
    ctx, page, errors = _visit_on_the_phone(session, client, live_server, browser, w, bad)
    page.wait_for_selector('[data-testid="section-school"]')
    page.get_by_test_id("input-enrolment").fill("600")
    expect(page.get_by_test_id("verdict-unavailable")).to_contain_text("无法计算本次走访的结果")
    expect(page.get_by_test_id("verdict-unavailable-why")).to_contain_text("bogus")
    page.goto(f"{live_server}/field/#/")
    expect(page.get_by_test_id("visit-card")).to_have_count(1)
    assert errors == []
    ctx.close()


def test_a_visit_page_that_cannot_be_built_leaves_the_way_back(session, client, live_server, browser, field_dist):
    """A definition the page cannot even lay out (an item's levels missing; no way in writes one): the visit
    says the page cannot be shown, with a way back, and the list still opens."""
    from playwright.sync_api import expect
    w = make_world(session)
    bad = _version_changed(session, w, lambda d: next(i for i in d["items"] if i["code"] == "has_charter")
                           .update(levels=None))
    ctx, page, errors = _visit_on_the_phone(session, client, live_server, browser, w, bad)
    expect(page.get_by_test_id("view-failed")).to_contain_text("无法显示此页")
    page.get_by_test_id("view-failed").get_by_role("link").click()
    expect(page.get_by_test_id("visit-card")).to_have_count(1)
    assert errors == []
    ctx.close()
