"""The app syncs whenever the server answers, whatever navigator.onLine says: Chromium reports false
(and never fires "online") when the OS has no network interface but loopback, as for a server on the
same machine or the embedded CI run in a network namespace."""
from __future__ import annotations

import uuid


import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from inspections.visits.models import Response
from tests.browser.field.helpers import PHONE, one_inspector_visit_today, sign_in


@pytest.fixture
def world(session, client):
    return one_inspector_visit_today(session, client)


def test_edits_sync_by_themselves_when_the_browser_always_says_offline(session, world, live_server, browser,
                                                                       field_dist):
    base, vid = live_server, world.visit["id"]
    ctx = browser.new_context(**PHONE)
    # Injected through the DevTools protocol (the page's CSP refuses inline scripts): every page of this
    # context sees navigator.onLine === false and no "online" event, as Chromium does with loopback only.
    ctx.add_init_script("Object.defineProperty(Navigator.prototype, 'onLine', {get: () => false});"
                        "addEventListener('online', (e) => e.stopImmediatePropagation(), true);")
    page = ctx.new_page()
    sign_in(page, base, world.inspector_a1.username)
    ctx.set_offline(True)
    page.locator(f'[data-visit="{vid}"] [data-testid="start-visit"]').click()
    page.get_by_test_id("input-enrolment").fill("600")
    expect(page.get_by_test_id("unsent-count")).to_have_text("2")
    expect(page.get_by_test_id("net")).to_have_text("离线")
    page.wait_for_timeout(6000)  # the sync after the edits found no server: it keeps trying, quietly
    expect(page.get_by_test_id("unsent-count")).to_have_text("2")
    expect(page.get_by_test_id("sync-now")).to_be_enabled()

    ctx.set_offline(False)  # no event reaches the page: the next retry finds the server
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=20000)
    session.expire_all()
    answers = session.scalars(select(Response).where(Response.visit_id == uuid.UUID(vid))).all()
    assert [(a.item_code, a.value) for a in answers] == [("enrolment", 600)]
    ctx.close()
