"""In a real browser: a school answers a ticket with a photo, an inspector closes it, the office sees the
counts move and downloads the CSV. Screenshots of each step are kept under test-artifacts/browser/."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from inspections import clock
from inspections.org.models import School
from inspections.photos.models import Photo
from inspections.tickets.models import Ticket
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for
from tests.inspections.photos.images import photo

SHORT_PE = {**GOOD_PRIMARY, "pe_art_teachers": 4}


def login(page, base, username, password="password-123"):
    page.goto(f"{base}/web/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    page.click("form button")
    page.wait_for_url(f"{base}/web/**")


def counts(page) -> dict:
    return {k: int(page.get_by_test_id(f"count-{k}").inner_text()) for k in ("open", "overdue", "closed")}


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, SHORT_PE)
    run_jobs(app)
    w.ticket = session.scalar(select(Ticket).where(Ticket.school_id == w.school_a1.id, Ticket.item_code == "R3"))
    return w


def _to_in_progress(page):
    page.get_by_test_id("move-acknowledged").locator("button").click()
    page.wait_for_selector('[data-status="acknowledged"]')
    form = page.get_by_test_id("move-in_progress")
    form.locator('input[name="milestone"]').first.fill("招聘两名专职体育教师")
    form.locator('input[name="due"]').first.fill((clock.today() + timedelta(days=45)).isoformat())
    form.locator("button").click()
    page.wait_for_selector('[data-status="in_progress"]')


def test_school_photo_inspector_closes_office_counts_and_csv(app, session, world, live_server, browser, shots,
                                                             tmp_path):
    from playwright.sync_api import expect
    base, url = live_server, f"{live_server}/web/tickets/{world.ticket.id}"
    office = browser.new_context(accept_downloads=True).new_page()
    login(office, base, world.office_a1.username)
    office.goto(f"{base}/web/dashboard")
    before = counts(office)
    assert before["open"] >= 1
    shots(office, "office-dashboard-before")

    # The school: acknowledge, plan, then submit for verification with a photo sent through the upload API.
    school = browser.new_context().new_page()
    api_calls = []
    school.on("request", lambda r: api_calls.append((r.method, r.url)) if "/api/v1/photos" in r.url else None)
    login(school, base, world.school_user_a1.username)
    school.goto(url)
    shots(school, "school-ticket-open")
    _to_in_progress(school)
    jpeg = tmp_path / "sports-teachers.jpg"
    jpeg.write_bytes(photo(1200, 900))
    form = school.get_by_test_id("move-awaiting_verification")
    form.locator('input[name="photos"]').set_input_files(str(jpeg))
    form.locator('textarea[name="note"]').fill("两名体育教师已到岗，附课表照片。")
    shots(school, "school-evidence-chosen")
    form.locator("button").click()
    expect(school.get_by_test_id("ticket-status")).to_have_attribute("data-status", "awaiting_verification",
                                                                      timeout=20_000)
    assert ("POST", f"{base}/api/v1/photos/uploads") in api_calls
    assert any(m == "PATCH" for m, _ in api_calls)
    ph = session.scalar(select(Photo).where(Photo.ticket_id == world.ticket.id))
    assert ph is not None and ph.ticket_event_id is not None and ph.uploaded_by_id == world.school_user_a1.id
    shots(school, "school-awaiting-verification")

    # The photo is processed by the worker; the inspector sees it and closes the ticket.
    run_jobs(app)
    inspector = browser.new_context().new_page()
    login(inspector, base, world.inspector_a1.username)
    inspector.goto(url)
    img = inspector.get_by_test_id("evidence-photo")
    expect(img).to_be_visible()
    assert inspector.evaluate("el => el.naturalWidth", img.element_handle()) > 0
    shots(inspector, "inspector-sees-evidence")
    inspector.get_by_test_id("move-closed").locator("button").click()
    expect(inspector.get_by_test_id("ticket-status")).to_have_attribute("data-status", "closed")
    shots(inspector, "inspector-closed")

    # The office: one fewer open, one more closed; the CSV has the ticket as closed.
    office.reload()
    after = counts(office)
    assert after["open"] == before["open"] - 1 and after["closed"] == before["closed"] + 1
    shots(office, "office-dashboard-after")
    with office.expect_download() as dl:
        office.get_by_test_id("export-csv").click()
    text = open(dl.value.path(), encoding="utf-8-sig").read()
    # The export speaks the office's language and names no internal ids: the row is found by school and item.
    rows = list(csv.DictReader(io.StringIO(text)))
    school = session.get(School, world.ticket.school_id)
    mine = [r for r in rows if r["学校代码"] == school.code and r["指标代码"] == world.ticket.item_code]
    assert len(mine) == 1 and mine[0]["状态"] == "已销号"
    assert len([r for r in rows if r["状态"] == "已销号"]) == after["closed"]
    assert str(world.ticket.id) not in text


def test_without_javascript_the_form_posts_the_photo(app, session, world, live_server, browser, shots, tmp_path):
    from playwright.sync_api import expect
    context = browser.new_context(java_script_enabled=False)
    school = context.new_page()
    api_calls = []
    school.on("request", lambda r: api_calls.append(r.url) if "/api/" in r.url else None)
    login(school, live_server, world.school_user_a1.username)
    school.goto(f"{live_server}/web/tickets/{world.ticket.id}")
    _to_in_progress(school)
    jpeg = tmp_path / "plan.jpg"
    jpeg.write_bytes(photo(640, 480))
    form = school.get_by_test_id("move-awaiting_verification")
    form.locator('input[name="photos"]').set_input_files(str(jpeg))
    form.locator("button").click()
    expect(school.get_by_test_id("ticket-status")).to_have_attribute("data-status", "awaiting_verification")
    assert api_calls == []  # no script: the page itself stored the photo
    # With a worker the photo waits for it; embedded, jobs run in-process as they are queued.
    assert school.get_by_test_id("evidence-processing").count() == (1 if app.config.get("REDIS_URL") else 0)
    shots(school, "no-js-evidence-processing")
    ph = session.scalar(select(Photo).where(Photo.ticket_id == world.ticket.id))
    assert ph is not None and ph.ticket_event_id is not None
