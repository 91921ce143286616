"""Each user's main path, clicked through in a real browser, in Chinese and English, at 390 px (and 1366 px):

- inspector: sign in -> planned visits -> a visit;
- school: sign in -> its tickets -> a ticket -> answer its next step;
- office: sign in -> dashboard -> filter -> a school -> its open tickets -> a ticket -> the visit that raised it
  -> the county reports.

On every page reached: an HTTP 200 (strict catalogue lookups turn an untranslated string into an error page), no
horizontal overflow, no id in the visible text, every time shown in business time. A screenshot of each step is
kept under test-artifacts/browser/. One browser, one sign-in per user, language and width.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from inspections import clock
from inspections.tickets.models import Ticket
from inspections.visits import service as visits
from inspections.visits.models import Visit
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
LANGS = ("zh-CN", "en")
# A school's steps in order: (from the status the page shows, the form to fill).
NOT_A_PHOTO = {"zh-CN": "文件 notes.txt 不是可接受的照片格式（JPEG、PNG、WebP 或 HEIC）。",
               "en": "The file notes.txt is not an accepted photo (JPEG, PNG, WebP or HEIC)."}
NEXT_STEP = {"open": "acknowledged", "acknowledged": "in_progress", "in_progress": "awaiting_verification"}


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    # Two failures (PE teachers, multimedia rooms): two tickets, enough steps for every run of the school's path.
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id,
                 {**GOOD_PRIMARY, "pe_art_teachers": 4, "multimedia_classrooms": 2})
    run_jobs(app)
    assert client.post(f"/api/v1/counties/{w.county_a1.id}/scoring-runs?level=primary",
                       headers=token_for(session, w.office_a1)).status_code == 202
    run_jobs(app)
    w.visit = session.scalar(select(Visit).where(Visit.school_id == w.school_a1.id))
    w.tickets = session.scalars(select(Ticket).where(Ticket.school_id == w.school_a1.id).order_by(Ticket.item_code)).all()
    assert len(w.tickets) >= 2
    w.planned = visits.create(session, school=w.school_a1b, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id],
                              planned_for=clock.today() + timedelta(days=3))
    session.commit()
    return w


class Journey:
    """One signed-in browser tab; records what is wrong with each page it reaches."""

    def __init__(self, browser, base, shots, size, who):
        self.context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone")
        self.page = self.context.new_page()
        self.base, self.shots, self.size, self.who, self.lang = base, shots, size, who, None
        self.problems: list[str] = []
        self.failed: list[str] = []
        self.page.on("response", self._response)

    @property
    def where(self) -> str:
        return f"{self.who} {self.size} {self.lang}"

    def _response(self, resp):
        if resp.request.is_navigation_request() and resp.request.frame == self.page.main_frame and resp.status >= 400:
            self.failed.append(f"HTTP {resp.status} {resp.url}")

    def sign_in(self, username, lang: str):
        self.lang = lang
        self.page.goto(f"{self.base}/web/login?lang={lang}")
        self.page.fill('input[name="username"]', username)
        self.page.fill('input[name="password"]', "password-123")
        with self.page.expect_navigation():
            self.page.locator("main form button").click()
        self.step("start")

    def switch_to(self, lang: str):
        """Click the header's link to the other language (the same page), then go to the start page."""
        self.lang = lang
        self.click(self.page.locator(f'header a[lang="{lang}"]'), "language")
        with self.page.expect_navigation():
            self.page.goto(f"{self.base}/web/")
        self.step("start")

    def click(self, locator, name: str):
        with self.page.expect_navigation():
            locator.click()
        self.step(name)

    def step(self, name: str):
        """Check the page now shown and keep its screenshot."""
        page = self.page
        page.wait_for_load_state("load")
        here = page.url.replace(self.base, "")
        self.problems += [f"{self.where} {name} ({here}): {f}" for f in self.failed]
        self.failed.clear()
        if page.evaluate("document.documentElement.lang") != self.lang:
            self.problems.append(f"{self.where} {name} ({here}): not in {self.lang}")
        wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        if wide[0] > wide[1]:
            self.problems.append(f"{self.where} {name} ({here}): overflows, {wide[0]} px in {wide[1]} px")
        text = page.inner_text("body")
        if UUID.search(text):
            self.problems.append(f"{self.where} {name} ({here}): an id in the visible text: {UUID.search(text)[0]}")
        if re.search(r"\bUTC\b|\d{4}-\d\d-\d\dT\d\d:\d\d|[+-]00:00", text):
            self.problems.append(f"{self.where} {name} ({here}): a time not in business time")
        for stamp, shown in page.evaluate("() => Array.from(document.querySelectorAll('time[datetime]'))"
                                          ".map(t => [t.getAttribute('datetime'), t.textContent.trim()])"):
            if "T" in stamp and shown != f"{clock.local(datetime.fromisoformat(stamp)):%Y-%m-%d %H:%M}":
                self.problems.append(f"{self.where} {name} ({here}): {stamp} shown as {shown!r}")
        self.shots(page, f"{self.size}-{self.lang}-{self.who}-{name}")

    def close(self):
        self.context.close()


def _inspector(j: Journey, world):
    assert "/web/my-visits" in j.page.url
    j.click(j.page.locator(f'#upcoming a[href="/web/visits/{world.planned.id}"]'), "visit")
    assert world.school_a1b.name in j.page.inner_text("main")


def _school(j: Journey, world, session):
    from playwright.sync_api import expect
    assert "/web/tickets" in j.page.url
    session.expire_all()
    ticket = next(t for t in (session.get(Ticket, t.id) for t in world.tickets) if t.status.value in NEXT_STEP)
    j.click(j.page.locator(f'main a[href="/web/tickets/{ticket.id}"]').first, "ticket")
    status = j.page.get_by_test_id("ticket-status").get_attribute("data-status")
    to = NEXT_STEP[status]
    form = j.page.get_by_test_id(f"move-{to}")
    if to == "in_progress":
        form.locator('input[name="milestone"]').first.fill("招聘两名专职教师 / hire two teachers")
        form.locator('input[name="due"]').first.fill((clock.today() + timedelta(days=45)).isoformat())
    elif to == "awaiting_verification":
        # A file that is no photo: the upload API refuses it, the page says so in its own language.
        files = form.locator('input[name="photos"]')
        files.set_input_files([{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"}])
        form.locator("button").click()
        expect(form.get_by_test_id("upload-status")).to_have_text(NOT_A_PHOTO[j.lang])
        j.step("refused-file")
        files.set_input_files([])
        form.locator('textarea[name="note"]').fill("已完成整改：两名教师已到岗，合同与课表已上报备案。")
    j.click(form.locator("button"), f"answered-{to}")
    assert j.page.get_by_test_id("ticket-status").get_attribute("data-status") == to
    assert j.page.get_by_test_id("flash").is_visible()


def _office(j: Journey, world):
    assert "/web/dashboard" in j.page.url
    filters = j.page.get_by_test_id("filters")
    filters.locator('select[name="county_id"]').select_option(str(world.county_a1.id))
    filters.locator('select[name="state"]').select_option("open")
    j.click(filters.locator("button"), "filtered")
    assert f"county_id={world.county_a1.id}" in j.page.url
    j.click(j.page.get_by_test_id("by-school").locator("a", has_text=world.school_a1.name).first, "school")
    assert f"school_id={world.school_a1.id}" in j.page.url
    j.click(j.page.get_by_test_id("count-open").locator("xpath=.."), "school-tickets")
    j.click(j.page.get_by_test_id("ticket-rows").locator("a").first, "ticket")
    j.click(j.page.get_by_test_id("visit-link").first, "visit")
    shown = f"{clock.local(world.visit.submitted_at):%Y-%m-%d %H:%M}"
    assert shown in j.page.inner_text("main"), f"the visit's submission time is not shown as {shown}"
    j.click(j.page.locator("header nav a[href='/web/dashboard/counties']"), "county-reports")
    assert world.county_a1.name in j.page.inner_text("main")


def test_each_users_main_path_in_both_languages(world, session, live_server, browser, shots):
    """One sign-in per user and width (the sign-in page in English at one width, in Chinese at the other), the path
    walked in that language, then again after switching language with the header's link."""
    problems = []
    for size, langs in zip(SIZES, (LANGS[::-1], LANGS)):  # the school's evidence step falls in Chinese
        for user, walk in ((world.inspector_a1, lambda j: _inspector(j, world)),
                           (world.school_user_a1, lambda j: _school(j, world, session)),
                           (world.office_a1, lambda j: _office(j, world))):
            j = Journey(browser, live_server, shots, size, user.role.value)
            try:
                j.sign_in(user.username, langs[0])
                walk(j)
                j.switch_to(langs[1])
                walk(j)
            finally:
                j.close()
            problems += j.problems
    assert not problems, "\n".join(problems)
