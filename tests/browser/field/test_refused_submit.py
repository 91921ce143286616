"""In real Chromium: a visit submitted with no signal whose submission the server refuses (an answer changed
meanwhile on another device, so a conflict is open) is shown as the server holds it, in progress, with why,
and can be submitted again once the conflict is settled. Found by a break-it pass: the phone kept showing it
"submitted · rejected", frozen, with no way to submit it again but discarding the change."""
from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from inspections.visits.models import Response, Visit
from tests.browser.field.helpers import (fill_checklist, one_inspector_visit_today, sync_fully, visit_started_offline,
                                        wait_synced)
from tests.factories import token_for
from tests.sync.helpers import mutation, push


@pytest.fixture
def world(session, client):
    return one_inspector_visit_today(session, client)


def _state(page, code):
    return page.locator(f'[data-testid="item-{code}"] [data-testid="answer-state"]')


def test_a_refused_submit_leaves_the_visit_open_to_be_submitted_again(session, client, world, live_server, browser,
                                                                      field_dist):
    base, vid = live_server, world.visit["id"]
    ctx, page = visit_started_offline(browser, base, world)
    page.on("dialog", lambda d: d.accept())
    fill_checklist(page)
    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=20000)
    wait_synced(page)

    # No signal again: the enrolment recounted (610), the visit submitted on the phone.
    ctx.set_offline(True)
    page.get_by_test_id("input-enrolment").fill("610")
    page.get_by_test_id("input-multimedia_classrooms").click()
    expect(_state(page, "enrolment")).to_have_text("待发送")
    page.get_by_test_id("submit-visit").click()
    expect(page.locator(".visit-page")).to_have_attribute("data-status", "submitted")
    # Meanwhile the inspector's tablet set it to 620.
    session.expire_all()
    answer = session.scalar(select(Response).where(Response.visit_id == uuid.UUID(vid), Response.item_code == "enrolment"))
    h = token_for(session, world.inspector_a1)
    (b,) = push(client, h, mutation("response", "update", id=answer.id, base_version=answer.version, value=620),
                device_id="tablet")
    assert b["status"] == "applied", b

    ctx.set_offline(False)
    sync_fully(page)
    page.reload()
    page.wait_for_selector('[data-testid="section-school"]')
    session.expire_all()
    assert session.get(Visit, uuid.UUID(vid)).status.value == "in_progress"  # the server refused the submit
    # The phone agrees: open, the refusal said, the conflict shown; not a frozen "submitted".
    expect(page.locator(".visit-page")).to_have_attribute("data-status", "in_progress")
    expect(_state(page, "enrolment")).to_have_text("冲突")
    expect(page.get_by_test_id("input-enrolment")).to_be_enabled()

    page.get_by_test_id("unsent").click()
    row = page.locator('[data-testid="unsynced"][data-entity="response"][data-state="conflict"]')
    row.get_by_test_id("keep-mine").click()
    expect(row).to_have_count(0, timeout=20000)
    page.goto(f"{base}/field/#/visit/{vid}")
    page.wait_for_selector('[data-testid="section-school"]')
    page.get_by_test_id("submit-visit").click()
    expect(page.locator(".visit-page")).to_have_attribute("data-status", "submitted")
    wait_synced(page)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=20000)
    wait_synced(page)
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(vid))
    assert visit.status.value == "submitted"
    assert {r.item_code: r.value for r in visit.responses}["enrolment"] == 610
    ctx.close()


def test_text_that_is_no_answer_holds_the_submit_back_and_a_submitted_visit_shows_what_was_recorded(
        session, client, world, live_server, browser, field_dist):
    """Found by a break-it pass: with "4O" typed over a saved 40 (the field saying "enter a number"), Submit
    went through, the server froze 40, and the submitted visit still showed "4O". Such text now holds the
    submit back, naming the item; corrected, the visit is submitted, and shows what the server recorded."""
    base, vid = live_server, world.visit["id"]
    ctx, page = visit_started_offline(browser, base, world)
    page.on("dialog", lambda d: d.accept())
    fill_checklist(page)
    page.get_by_test_id("input-enrolment").fill("6O0")  # a letter O typed for a zero
    page.get_by_test_id("input-multimedia_classrooms").click()
    page.get_by_test_id("submit-visit").click()
    expect(page.get_by_test_id("submit-error")).to_contain_text("不是有效答案")
    expect(page.get_by_test_id("submit-error")).to_contain_text("在校学生数")
    expect(page.locator(".visit-page")).to_have_attribute("data-status", "in_progress")
    page.reload()  # the half-typed text is still there, and still holds the submit back
    page.wait_for_selector('[data-testid="section-school"]')
    expect(page.get_by_test_id("input-enrolment")).to_have_value("6O0")
    page.get_by_test_id("submit-visit").click()
    expect(page.get_by_test_id("submit-error")).to_contain_text("不是有效答案")

    page.get_by_test_id("input-enrolment").fill("610")
    page.get_by_test_id("input-multimedia_classrooms").click()
    page.get_by_test_id("submit-visit").click()
    expect(page.locator(".visit-page")).to_have_attribute("data-status", "submitted")
    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)  # the start, answers and submit
    wait_synced(page)
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(vid))
    assert visit.status.value == "submitted"
    assert {r.item_code: r.value for r in visit.responses}["enrolment"] == 610
    page.reload()
    page.wait_for_selector('[data-testid="section-school"]')
    expect(page.get_by_test_id("input-enrolment")).to_have_value("610")
    ctx.close()


@pytest.mark.parametrize("who", ["school_user_a1", "office_a1"])
def test_only_inspectors_sign_in_to_the_field_app(session, world, live_server, browser, field_dist, who):
    """Found by a break-it pass: a school's or an office's account signed in, started visits and filled
    checklists, all refused at the next sync. They are told at sign-in that the app is the inspectors', and
    the token issued is given back."""
    from inspections.accounts.models import ApiToken
    user = getattr(world, who)

    def live():
        session.expire_all()
        return session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id,
                                                                               ApiToken.revoked_at.is_(None)))
    before = live()  # the world's own tokens
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{live_server}/field/")
    page.fill("#username", user.username)
    page.fill("#password", "password-123")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("供督学现场检查使用")
    expect(page.get_by_test_id("sync-now")).to_have_count(0)
    assert page.evaluate("() => localStorage.getItem('field.session')") is None
    for _ in range(50):
        if live() == before:
            break
        page.wait_for_timeout(100)
    assert live() == before
    assert session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)) == before + 1
    ctx.close()
