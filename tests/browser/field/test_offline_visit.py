"""In real Chromium on a phone-sized screen: an inspector signs in to the field app, goes offline, does a
whole visit (answers, a photo, the on-site verdict), reloads with no signal, submits, comes back online,
and one sync later the server has the visit submitted and scored with its tickets raised."""
from __future__ import annotations

import uuid

import time

from datetime import timedelta

import pytest
from sqlalchemy import select

from inspections import clock
from inspections.photos.models import Photo
from inspections.tickets.models import Ticket
from inspections.visits.models import Response, Visit
from tests.factories import make_world, run_jobs, token_for
from tests.browser.field.helpers import PHONE, axe_serious, sign_in, sync_fully, touch_targets_too_small
from tests.inspections.photos.images import photo

# 600 pupils with 4 PE/art teachers where 5.4 are needed: R3 missed at 74%, so the school fails with
# "还差 2 名教师" (the issue's own example); everything else is met.
NUMBERS = {"enrolment": "600", "teachers_above_required_qualification": "30", "key_teachers_county_level_or_above": "8",
           "pe_art_teachers": "4", "teaching_aux_area_m2": "3000", "sports_area_m2": "5000.5",
           "equipment_value_yuan": "1500000", "multimedia_classrooms": "15", "class_sizes": "40, 42, 44",
           "music_rooms_m2": "100", "art_rooms_m2": "95", "training_budget_yuan": "60000",
           "public_funds_budget_yuan": "1000000"}
YES = ["has_charter", "it_in_management_and_teaching", "teachers_use_ict_well", "equipment_well_used", "full_curriculum",
       "no_excessive_homework"]


@pytest.fixture
def world(session, client):
    w = make_world(session)
    office = token_for(session, w.office_a1)
    today, yesterday = clock.today(), clock.today() - timedelta(days=1)
    w.planned = client.post("/api/v1/visits", headers=office, json={
        "school_id": str(w.school_a1.id), "planned_for": today.isoformat(), "inspector_ids": [str(w.inspector_a1.id)]}).json
    w.late = client.post("/api/v1/visits", headers=office, json={
        "school_id": str(w.school_a1b.id), "planned_for": yesterday.isoformat(), "inspector_ids": [str(w.inspector_a1.id)]}).json
    assert w.planned["status"] == "planned" and w.late["status"] == "planned"
    return w


def test_whole_visit_offline_then_one_sync_submits_and_scores(app, session, world, live_server, browser, shots,
                                                               field_dist, tmp_path):
    from playwright.sync_api import expect
    base = live_server
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    sign_in(page, base, world.inspector_a1.username)
    # The service worker has precached the shell and controls the page: it will open with no signal.
    deadline = time.monotonic() + 20
    while not page.evaluate("!!(navigator.serviceWorker && navigator.serviceWorker.controller)"):
        assert time.monotonic() < deadline, "the service worker never took control"
        page.wait_for_timeout(100)
    expect(page.locator(f'[data-visit="{world.late["id"]}"] [data-testid="late"]')).to_be_visible()
    shots(page, "visits")
    assert axe_serious(page) == []

    ctx.set_offline(True)
    expect(page.get_by_test_id("net")).to_have_text("离线")
    page.locator(f'[data-visit="{world.planned["id"]}"] [data-testid="start-visit"]').click()
    page.wait_for_selector('[data-testid="section-school"]')
    # Typed key by key: each keystroke is stored at once (and the half-typed text survives a reload).
    page.get_by_test_id("input-enrolment").press_sequentially(NUMBERS["enrolment"])
    for code, value in NUMBERS.items():
        if code != "enrolment":
            page.get_by_test_id(f"input-{code}").fill(value)
    for code in YES:
        page.locator(f'[data-testid="item-{code}"] input[value="true"]').check()
    page.locator('[data-testid="item-combined_school"] input[value="false"]').check()
    page.locator('[data-testid="item-moral_education_rating"] input[value="good"]').check()
    # The national template lets no item be answered n/a: the app offers no n/a box (the server would refuse it),
    # and compulsory_enrolment (a combined school's figure) is simply left unanswered at a primary school.
    expect(page.locator('[data-testid^="na-"]')).to_have_count(0)
    page.get_by_test_id("input-pe_art_teachers").fill("4x")  # the engine's validation as the inspector types
    expect(page.locator('[data-testid="item-pe_art_teachers"] .error')).to_have_text("请输入数字")
    page.get_by_test_id("input-pe_art_teachers").fill("4")
    expect(page.locator('[data-testid="item-pe_art_teachers"] .error')).to_be_hidden()
    jpeg = tmp_path / "ground.jpg"
    jpeg.write_bytes(photo(320, 240))
    page.get_by_test_id("photo-sports_area_m2").set_input_files(str(jpeg))
    expect(page.locator('[data-testid="item-sports_area_m2"] [data-testid="photo-status"]')).to_have_attribute("data-state", "pending")

    verdict = page.get_by_test_id("verdict-school")
    expect(verdict).to_have_attribute("data-verdict", "fail")
    expect(page.get_by_test_id("short-R3")).to_contain_text("还差 2 名教师")
    expect(page.get_by_test_id("progress")).to_have_text("已答 21/22 · 缺 4 张照片")
    shots(page, "checklist-offline")
    assert axe_serious(page) == []
    assert touch_targets_too_small(page) == []
    queued = 23  # the start, 21 answers and the photo, all on the device
    expect(page.get_by_test_id("unsent-count")).to_have_text(str(queued))

    page.reload()  # no signal: the shell comes from the service worker, the answers from IndexedDB
    page.wait_for_selector('[data-testid="section-school"]')
    expect(page.get_by_test_id("input-enrolment")).to_have_value("600")
    expect(page.get_by_test_id("input-sports_area_m2")).to_have_value("5000.5")
    expect(page.locator('[data-testid="item-moral_education_rating"] input[value="good"]')).to_be_checked()
    expect(page.get_by_test_id("short-R3")).to_contain_text("还差 2 名教师")
    expect(page.get_by_test_id("unsent-count")).to_have_text(str(queued))

    page.get_by_test_id("submit-visit").click()
    expect(page.locator(".visit-page")).to_have_attribute("data-status", "submitted")
    assert dialogs and "提交" in dialogs[-1]
    expect(page.get_by_test_id("unsent-count")).to_have_text(str(queued + 1))
    shots(page, "submitted-offline")
    assert session.get(Visit, uuid.UUID(world.planned["id"])).status.value == "planned"  # nothing reached the server yet

    ctx.set_offline(False)  # back online: the app syncs by itself
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(world.planned["id"]))
    assert visit.status.value == "submitted"
    answers = {r.item_code: r.value for r in session.scalars(select(Response).where(Response.visit_id == visit.id))}
    assert answers["enrolment"] == 600 and answers["sports_area_m2"] == 5000.5 and answers["class_sizes"] == [40, 42, 44]
    assert "compulsory_enrolment" not in answers and answers["moral_education_rating"] == "good"
    assert len(answers) == 21
    pics = session.scalars(select(Photo).where(Photo.visit_id == visit.id)).all()
    assert len(pics) == 1 and pics[0].item_code == "sports_area_m2"

    run_jobs(app)  # the scoring (and photo) jobs a worker runs
    sync_fully(page)
    score = page.get_by_test_id("score")
    expect(score).to_have_attribute("data-state", "scored", timeout=20000)
    expect(page.get_by_test_id("server-verdict")).to_have_attribute("data-verdict", "fail")
    expect(page.locator('[data-testid="ticket"][data-item="R3"]')).to_be_visible()
    expect(page.locator('[data-testid="item-sports_area_m2"] [data-testid="photo-status"]')).to_have_text("📷 已处理")
    tickets = session.scalars(select(Ticket).where(Ticket.school_id == world.school_a1.id)).all()
    assert {t.item_code for t in tickets} == {"R3"}
    shots(page, "scored")
    ctx.close()
