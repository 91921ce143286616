"""In real Chromium: an inspector writes a note on an item, flags another for follow-up (without answering
it yet) and notes the visit itself, all with no signal; a reload keeps them; one sync later the server has
each on its record, and the office's API shows them. Text the server would refuse is said at the field
and never sent; a submitted visit shows its notes and flags read-only."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from inspections.visits.models import Response, Visit
from tests.browser.field.helpers import (axe_serious, one_inspector_visit_today, sync_fully, unsent,
                                        visit_started_offline, wait_synced)


@pytest.fixture
def world(session, client):
    return one_inspector_visit_today(session, client)


def test_notes_and_flags_made_offline_reach_the_server(session, client, world, live_server, browser, field_dist):
    base, vid = live_server, world.visit["id"]
    ctx, page = visit_started_offline(browser, base, world)
    page.get_by_test_id("input-enrolment").fill("650")
    page.get_by_test_id("note-open-enrolment").click()
    page.get_by_test_id("note-enrolment").fill("register shows 652; two pupils moved away")
    page.get_by_test_id("flag-pe_art_teachers").check()  # not answered: the count is checked next week
    page.get_by_test_id("visit-notes-open").click()
    page.get_by_test_id("visit-notes").fill("x" * 3000)  # a note may be longer than a text answer (4000)
    expect(page.get_by_test_id("visit-notes-err")).to_be_empty()
    page.get_by_test_id("visit-notes").fill("x" * 4001)
    expect(page.get_by_test_id("visit-notes-err")).not_to_be_empty()
    page.get_by_test_id("visit-notes").fill("heavy rain; the head teacher was away")
    expect(page.get_by_test_id("visit-notes-err")).to_be_empty()
    # Text the server refuses (a NUL character) is said at the field and not kept.
    page.get_by_test_id("note-open-sports_area_m2").click()
    page.get_by_test_id("note-sports_area_m2").fill("bad \u0000 text")
    expect(page.get_by_test_id("note-err-sports_area_m2")).not_to_be_empty()
    page.get_by_test_id("note-sports_area_m2").fill("")
    page.get_by_test_id("input-multimedia_classrooms").click()  # leaving the field saves what was typed
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("待发送")
    expect(page.locator('[data-testid="item-pe_art_teachers"] [data-testid="answer-state"]')).to_have_text("待发送")
    assert axe_serious(page) == []

    page.reload()  # no signal: everything is on the phone
    page.wait_for_selector('[data-testid="section-school"]')
    expect(page.get_by_test_id("note-enrolment")).to_have_value("register shows 652; two pupils moved away")
    expect(page.get_by_test_id("flag-pe_art_teachers")).to_be_checked()
    expect(page.get_by_test_id("item-pe_art_teachers")).to_have_class(re.compile(r"\bflagged\b"))
    expect(page.get_by_test_id("visit-notes")).to_have_value("heavy rain; the head teacher was away")
    expect(page.get_by_test_id("note-sports_area_m2")).to_have_value("")

    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=20000)
    session.expire_all()
    answers = {a.item_code: a for a in session.scalars(select(Response).where(Response.visit_id == uuid.UUID(vid)))}
    assert sorted(answers) == ["enrolment", "pe_art_teachers"]  # no answer made for a note typed and cleared
    assert (answers["enrolment"].value, answers["enrolment"].note, answers["enrolment"].flagged) == \
        (650, "register shows 652; two pupils moved away", False)
    assert (answers["pe_art_teachers"].value, answers["pe_art_teachers"].note, answers["pe_art_teachers"].flagged) == \
        (None, None, True)
    assert session.get(Visit, uuid.UUID(vid)).notes == "heavy rain; the head teacher was away"

    # Unflagged and the note cleared: both reach the server as such. Made with no signal, so that they stay
    # "pending" to be seen (online, the app sends them by itself: at once if a sync is still under way).
    wait_synced(page)
    ctx.set_offline(True)
    page.get_by_test_id("flag-pe_art_teachers").uncheck()
    page.get_by_test_id("note-enrolment").fill("")
    page.get_by_test_id("input-multimedia_classrooms").click()
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("待发送")
    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=20000)
    session.expire_all()
    answers = {a.item_code: a for a in session.scalars(select(Response).where(Response.visit_id == uuid.UUID(vid)))}
    assert (answers["enrolment"].note, answers["pe_art_teachers"].flagged) == (None, False)
    assert unsent(page) == 0
    ctx.close()


def test_a_reload_right_after_typing_a_note_loses_none_of_it(session, world, live_server, browser, field_dist):
    """Typing a note, then a reload before the app has saved it (it does when typing pauses): every key is
    kept on the phone at once and the note is saved when the app opens again, an item's and the visit's."""
    base, vid = live_server, world.visit["id"]
    ctx, page = visit_started_offline(browser, base, world)
    page.get_by_test_id("visit-notes-open").click()
    page.get_by_test_id("visit-notes").press_sequentially("消防通道堵塞")
    page.get_by_test_id("note-open-enrolment").click()
    page.get_by_test_id("note-enrolment").press_sequentially("巡查发现")
    page.reload()  # at once: typing has not paused
    page.wait_for_selector('[data-testid="section-school"]')
    expect(page.get_by_test_id("note-enrolment")).to_have_value("巡查发现")
    expect(page.get_by_test_id("visit-notes")).to_have_value("消防通道堵塞")
    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=20000)
    session.expire_all()
    assert session.get(Visit, uuid.UUID(vid)).notes == "消防通道堵塞"
    assert session.scalar(select(Response.note).where(Response.visit_id == uuid.UUID(vid),
                                                      Response.item_code == "enrolment")) == "巡查发现"
    ctx.close()


def test_a_note_refused_because_the_visit_froze_is_shown_to_be_copied(session, client, world, live_server, browser,
                                                                       field_dist):
    """A note written with no signal while the office cancelled the visit is refused at the next sync; the
    sync page shows its text (to be copied, or written on a new visit) before it can be discarded."""
    from tests.factories import token_for
    base, vid = live_server, world.visit["id"]
    ctx, page = visit_started_offline(browser, base, world)
    page.get_by_test_id("input-enrolment").fill("650")
    page.get_by_test_id("input-multimedia_classrooms").click()  # leaving the field saves it
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("待发送")
    ctx.set_offline(False)
    sync_fully(page)
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("已同步",
                                                                                                    timeout=20000)
    ctx.set_offline(True)
    page.get_by_test_id("note-open-enrolment").click()
    text = "register shows 652; the head teacher will send the transfer papers"
    page.get_by_test_id("note-enrolment").fill(text)
    page.get_by_test_id("input-multimedia_classrooms").click()
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("待发送")
    assert client.patch(f"/api/v1/visits/{vid}", json={"status": "cancelled"},
                        headers=token_for(session, world.office_a1)).status_code == 200
    ctx.set_offline(False)
    sync_fully(page)
    # Nothing is left unsent, but the refused note is not done: the header counts it apart.
    expect(page.get_by_test_id("unsent-count")).to_have_text("0")
    expect(page.get_by_test_id("attention-count")).to_have_text("1")
    page.get_by_test_id("attention").click()
    refused = page.locator('[data-testid="unsynced"][data-state="rejected"]')
    expect(refused).to_have_count(1)
    expect(refused.locator('[data-testid="yours"][data-field="note"]')).to_have_text(text)
    refused.get_by_test_id("dismiss").click()
    expect(page.get_by_test_id("attention")).to_have_count(0)
    expect(refused.locator('[data-testid="yours"][data-field="value"]')).to_have_count(0)  # the value was accepted
    session.expire_all()
    answer = session.scalar(select(Response).where(Response.visit_id == uuid.UUID(vid), Response.item_code == "enrolment"))
    assert (answer.value, answer.note) == (650, None)
    ctx.close()
