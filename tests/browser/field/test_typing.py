"""In real Chromium: every keystroke in the checklist is on the device at once. A reload right after
typing, before the app has saved the answer (it does so when typing pauses), loses nothing: the field
shows what was typed, the answer is queued when the app opens again and reaches the server; text that
is no valid answer yet comes back as typed and is not sent."""
from __future__ import annotations

import uuid


import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from inspections.visits.models import Response
from tests.browser.field.helpers import PHONE, one_inspector_visit_today, sign_in, sync_fully, visit_started_offline


@pytest.fixture
def world(session, client):
    return one_inspector_visit_today(session, client)


def test_reload_mid_typing_loses_no_keystroke(session, world, live_server, browser, field_dist):
    base, vid = live_server, world.visit["id"]
    ctx, page = visit_started_offline(browser, base, world)
    page.get_by_test_id("input-pe_art_teachers").press_sequentially("4x")  # not a number: kept as typed only
    page.get_by_test_id("input-enrolment").press_sequentially("650")
    page.reload()  # at once: no pause in the typing, so the app has not saved the answer itself yet

    page.wait_for_selector('[data-testid="section-school"]')
    expect(page.get_by_test_id("input-enrolment")).to_have_value("650")
    expect(page.get_by_test_id("input-pe_art_teachers")).to_have_value("4x")
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("待发送")
    expect(page.get_by_test_id("unsent-count")).to_have_text("2")  # the start and enrolment, not "4x"

    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=20000)
    session.expire_all()
    answers = session.scalars(select(Response).where(Response.visit_id == uuid.UUID(vid))).all()
    assert [(a.item_code, a.value) for a in answers] == [("enrolment", 650)]
    page.reload()  # still as typed once synced: the draft of "4x" stays until it is corrected
    expect(page.get_by_test_id("input-pe_art_teachers")).to_have_value("4x")
    expect(page.get_by_test_id("input-enrolment")).to_have_value("650")
    ctx.close()


def test_a_field_taking_focus_low_on_the_screen_is_brought_up_below_the_header(session, world, live_server, browser,
                                                                          field_dist):
    """Where a phone's keyboard opens: brought up once at focus (clear of the sticky header), not scrolled a
    little with each keystroke."""
    base, vid = live_server, world.visit["id"]
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sign_in(page, base, world.inspector_a1.username)
    page.locator(f'[data-visit="{vid}"] [data-testid="start-visit"]').click()
    page.wait_for_selector('[data-testid="section-school"]')
    low = page.evaluate("""() => { const h = innerHeight;  // the first field whose box ends in the screen's lower part
        const el = Array.from(document.querySelectorAll('input[data-testid^="input-"]'))
          .find(e => { const r = e.getBoundingClientRect(); return r.top > h * 0.65 && r.bottom < h; });
        return el ? el.dataset.testid : null; }""")
    assert low, "no field low on the first screen"
    page.get_by_test_id(low).focus()
    box = page.get_by_test_id(low).bounding_box()
    header = page.locator("#bar").bounding_box()
    assert header["y"] + header["height"] <= box["y"] and box["y"] + box["height"] < 844 * 0.6, (header, box)
    ctx.close()
