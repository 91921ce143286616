"""In real Chromium, in Chinese and in English: every word the field app shows is in the UI language.
Status lines and the server's refusals are translated (the server's text only folded away as a detail),
conflict cards name the item and the visit and show values as the item reads, a refused settlement says
why and can be closed, a room-area list is answered "none" with one tick, and signing in or out with no
signal says what it means."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from inspections.visits.models import Response
from sync.models import Conflict
from tests.browser.field.helpers import (PHONE, axe_serious, sign_in, sync_fully, two_inspectors_on_a_visit,
                                        wait_synced)
from tests.factories import token_for

WORDS = {
    "zh": {"charter": "学校是否有章程", "teachers": "高于规定学历的专任教师数", "answer": "答案", "yes": "是", "no": "否",
           "unanswered": "未答", "edited": "本机已修改", "frozen": "该走访已提交或已取消，不能再修改",
           "settle": "未能解决冲突", "none": "没有（0 间）", "pe": "体育、艺术（音乐、美术）专任教师数",
           "need_network": "登录需要网络连接", "sign_out_offline": "再次登录需要有信号",
           "your_change": "未被接受的修改"},
    "en": {"charter": "Does the school have a charter?",
           "teachers": "Full-time teachers above the required qualification",
           "answer": "Answer", "yes": "Yes", "no": "No", "unanswered": "unanswered", "edited": "edited on this phone",
           "frozen": "the visit is submitted or cancelled and cannot change", "settle": "could not be settled",
           "none": "None (0 rooms)", "pe": "Full-time PE and art",
           "need_network": "Signing in needs a network connection",
           "sign_out_offline": "signing in again will need signal",
           "your_change": "Your change that was not accepted"},
}
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{2,}")


def _only_ui_language(lang: str, text: str, school: str) -> None:
    """No word of the other language (nor a code, a uuid or JSON) in text the inspector sees."""
    text = text.replace(school, "")
    if lang == "zh":
        assert not LATIN.findall(text), text
    else:
        assert not CJK.findall(text), text
    assert "null" not in text and "true" not in text and "_" not in text, text


@pytest.fixture
def world(session, client):
    return two_inspectors_on_a_visit(session, client)


def _phone(browser, base, username, lang):
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sign_in(page, base, username)
    if lang == "en":
        page.get_by_test_id("lang").click()
        expect(page.get_by_test_id("new-visit")).to_have_text("Unannounced visit")
    return ctx, page


def _answer_charter(page, visit_id, yes: bool):
    page.locator(f'[data-visit="{visit_id}"] [data-testid="start-visit"]').click()
    page.locator(f'[data-testid="item-has_charter"] input[type="radio"][value="{str(yes).lower()}"]').check()
    expect(page.get_by_test_id("unsent-count")).to_have_text("2")


def _conflict(browser, base, world, lang):
    """Both inspectors answer "has a charter" offline, the second one first to the server: the first has a conflict."""
    vid = world.visit["id"]
    one, p1 = _phone(browser, base, world.inspector_a1.username, lang)
    two, p2 = _phone(browser, base, world.inspector_2.username, "zh")
    one.set_offline(True)
    two.set_offline(True)
    _answer_charter(p1, vid, True)
    _answer_charter(p2, vid, False)
    status = p1.get_by_test_id("visit-status")
    expect(status).to_contain_text(WORDS[lang]["edited"])  # was "待发送: edited on this device"
    _only_ui_language(lang, status.inner_text(), world.school_a1.name)
    two.set_offline(False)
    expect(p2.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    two.close()
    one.set_offline(False)
    wait_synced(p1)
    sync_fully(p1)
    p1.goto(f"{base}/field/#/sync")
    row = p1.locator('[data-testid="unsynced"][data-state="conflict"]')
    expect(row).to_have_count(1)
    return one, p1, row


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_conflict_card_names_item_and_visit_and_reads_values(lang, session, world, live_server, browser, field_dist):
    one, page, row = _conflict(browser, live_server, world, lang)
    w = WORDS[lang]
    expect(row.get_by_test_id("record-title")).to_have_text(w["charter"])  # was "response has_charter"
    expect(row.get_by_test_id("record-visit")).to_contain_text(world.school_a1.name)
    table = row.get_by_test_id("conflict")
    expect(table.locator("caption")).to_contain_text(w["charter"])
    expect(table.locator("caption")).to_contain_text(world.school_a1.name)
    expect(table.locator("tr").nth(1).locator("th")).to_have_text(w["answer"])  # was "value"
    expect(table.locator("tr").nth(1).locator("td").nth(0)).to_have_text(w["unanswered"])  # was null
    expect(table.get_by_test_id("theirs")).to_have_text(w["no"])  # was false
    expect(table.get_by_test_id("mine")).to_have_text(w["yes"])  # was true
    _only_ui_language(lang, row.inner_text(), world.school_a1.name)
    one.close()


@pytest.mark.parametrize("lang,way", [("zh", "keep-theirs"), ("en", "dismiss")])
def test_refused_settlement_says_why_and_the_card_can_be_closed(lang, way, session, client, world, live_server, browser,
                                                                 field_dist):
    base, vid, w = live_server, world.visit["id"], WORDS[lang]
    one, page, row = _conflict(browser, base, world, lang)
    one.set_offline(True)  # an answer typed meanwhile, while the office cancels the visit (a visit with an open
    # conflict cannot be submitted: cancelling is the way it freezes with one open)
    page.goto(f"{base}/field/#/visit/{vid}")
    page.get_by_test_id("input-pe_art_teachers").fill("4")
    expect(page.get_by_test_id("unsent-count")).to_have_text("1")  # the answer (the conflict waits on its own)
    assert client.patch(f"/api/v1/visits/{vid}", json={"status": "cancelled"},
                        headers=token_for(session, world.office_a1)).status_code == 200
    one.set_offline(False)
    wait_synced(page)
    sync_fully(page)
    page.goto(f"{base}/field/#/sync")

    refused = page.locator('[data-testid="unsynced"][data-state="rejected"]')  # the answer: refused, in words
    expect(refused).to_have_count(1)
    expect(refused.get_by_test_id("record-title")).to_contain_text(w["pe"])
    expect(refused.get_by_test_id("reason")).to_contain_text(w["frozen"])
    expect(refused.get_by_test_id("reason-detail")).to_contain_text("frozen")  # the server's text, folded away
    expect(refused.get_by_test_id("reason-detail")).not_to_be_visible()
    # What the refused answer held is shown, to be copied before it is discarded.
    expect(refused.get_by_test_id("your-change").locator("caption")).to_contain_text(w["your_change"])
    expect(refused.locator('[data-testid="yours"][data-field="value"]')).to_contain_text("4")
    _only_ui_language(lang, refused.inner_text(), world.school_a1.name)

    row = page.locator('[data-testid="unsynced"][data-state="conflict"]')
    row.get_by_test_id("keep-mine").click()  # refused by the server (409): the visit is frozen
    err = row.get_by_test_id("settle-error")
    expect(err).to_contain_text(w["settle"])
    expect(err).to_contain_text(w["frozen"])
    _only_ui_language(lang, err.inner_text(), world.school_a1.name)
    assert axe_serious(page) == []  # the refusal, its folded detail and the buttons
    row.get_by_test_id(way).click()
    expect(page.locator('[data-testid="unsynced"][data-state="conflict"]')).to_have_count(0)
    # A conflict of a frozen visit is not brought back by the next sync (it cannot be settled).
    with page.expect_response(lambda r: "/api/v1/sync/conflicts" in r.url and "status=open" in r.url):
        page.get_by_test_id("sync-now").click()
    wait_synced(page)
    page.goto(f"{base}/field/#/sync")
    expect(page.locator('[data-testid="unsynced"][data-state="conflict"]')).to_have_count(0)
    session.expire_all()
    status = session.scalar(select(Conflict.status).where(Conflict.visit_id == uuid.UUID(vid)))
    assert status == ("resolved" if way == "keep-theirs" else "open")  # dismissing closes the card only
    page.goto(f"{base}/field/#/visit/{vid}")
    expect(page.locator('[data-testid="item-has_charter"] input[value="false"]')).to_be_checked()  # the server's value
    one.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_room_areas_answered_none_and_submit_names_items(lang, session, world, live_server, browser, field_dist):
    base, vid, w = live_server, world.visit["id"], WORDS[lang]
    ctx, page = _phone(browser, base, world.inspector_a1.username, lang)
    page.locator(f'[data-visit="{vid}"] [data-testid="start-visit"]').click()
    item = page.get_by_test_id("item-music_rooms_m2")
    page.get_by_test_id("input-music_rooms_m2").fill("0")
    expect(item.locator(".error")).to_contain_text(w["none"])  # the error names the choice the item offers
    label = item.locator("label.q").inner_text()
    assert w["none"] in label and "空列表" not in label and "empty list" not in label  # the question says the same
    none = page.get_by_test_id("none-music_rooms_m2")
    expect(item.locator("label.choice", has=none)).to_have_text(w["none"])
    none.check()
    expect(page.get_by_test_id("input-music_rooms_m2")).to_have_value("")
    expect(item.locator(".error")).to_have_text("")

    page.get_by_test_id("submit-visit").click()  # required items unanswered: named, not coded
    err = page.get_by_test_id("submit-error")
    expect(err).to_contain_text(w["teachers"])
    _only_ui_language(lang, err.inner_text(), world.school_a1.name)

    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    session.expire_all()
    answer = session.scalar(select(Response).where(Response.visit_id == uuid.UUID(vid),
                                                   Response.item_code == "music_rooms_m2"))
    assert answer is not None and answer.value == []  # "no music room", as the server and scoring take it
    page.reload()
    expect(page.get_by_test_id("none-music_rooms_m2")).to_be_checked()
    ctx.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_signing_out_and_in_with_no_signal(lang, session, world, live_server, browser, field_dist):
    w = WORDS[lang]
    ctx, page = _phone(browser, live_server, world.inspector_a1.username, lang)
    dialogs: list[str] = []
    answer = {"accept": False}
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept() if answer["accept"] else d.dismiss()))
    ctx.set_offline(True)
    with page.expect_event("dialog"):  # nothing unsent, but signing in again will need signal
        page.get_by_test_id("sign-out").click()
    assert w["sign_out_offline"] in dialogs[-1]
    expect(page.get_by_test_id("sign-out")).to_be_visible()  # cancelled: still signed in
    answer["accept"] = True
    with page.expect_event("dialog"):
        page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible()

    page.fill("#username", world.inspector_a1.username)
    page.fill("#password", "password-123")
    page.get_by_test_id("sign-in").click()
    err = page.get_by_test_id("login-error")
    expect(err).to_contain_text(w["need_network"])  # not "the first sign-in needs a network"
    assert "首次" not in err.inner_text() and "first" not in err.inner_text()
    ctx.close()
