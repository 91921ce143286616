"""In real Chromium: two inspectors answer the same item offline and one settles the conflict in the app
(was / theirs / mine side by side); on a shared phone, signing out with unsent records warns and keeps
them for that inspector only, and an unannounced visit made on the device reaches the server later."""
from __future__ import annotations

import uuid


import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from inspections.visits.models import Response, Visit
from tests.browser.field.helpers import (PHONE, axe_serious, sign_in, sync_fully, two_inspectors_on_a_visit, unsent,
                                        wait_synced)
from tests.factories import token_for

@pytest.fixture
def world(session, client):
    return two_inspectors_on_a_visit(session, client)


def _answer_enrolment(page, visit_id, value):
    page.locator(f'[data-visit="{visit_id}"] [data-testid="start-visit"]').click()
    page.get_by_test_id("input-enrolment").fill(value)
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("待发送")


def _offline_answered(browser, base, world):
    """The first inspector's phone with no signal, enrolment answered 600 on the visit: (context, page)."""
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sign_in(page, base, world.inspector_a1.username)
    ctx.set_offline(True)
    _answer_enrolment(page, world.visit["id"], "600")
    return ctx, page


def _enrolment(session, visit_id) -> int | None:
    """The server's enrolment answer on the visit, read afresh."""
    session.expire_all()
    return session.scalar(select(Response.value).where(Response.visit_id == uuid.UUID(visit_id),
                                                       Response.item_code == "enrolment"))


def _enrolment_contested(browser, base, world):
    """Both inspectors answer enrolment offline (600 on the first phone, 650 on the second); the second
    reaches the server first, then the first comes back online: (first context and page, second ones)."""
    vid = world.visit["id"]
    one, two = browser.new_context(**PHONE), browser.new_context(**PHONE)
    p1, p2 = one.new_page(), two.new_page()
    sign_in(p1, base, world.inspector_a1.username)
    sign_in(p2, base, world.inspector_2.username)
    one.set_offline(True)
    two.set_offline(True)
    _answer_enrolment(p1, vid, "600")
    _answer_enrolment(p2, vid, "650")
    two.set_offline(False)  # the second inspector reaches the server first
    expect(p2.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    one.set_offline(False)
    return one, p1, two, p2


def _conflict_card(browser, base, world):
    """`_enrolment_contested`, then the first phone synced and showing the conflict's card on its sync page
    (opened by the unsent badge): (first context, its page, second context, the card)."""
    one, p1, two, _ = _enrolment_contested(browser, base, world)
    wait_synced(p1)
    sync_fully(p1)
    p1.get_by_test_id("unsent").click()  # the unsent badge opens the sync panel
    row = p1.locator('[data-testid="unsynced"][data-state="conflict"]')
    expect(row.get_by_test_id("theirs")).to_have_text("650 名学生")  # as the item reads, with its unit
    return one, p1, two, row


def test_two_inspectors_offline_conflict_settled_in_the_app(session, world, live_server, browser, shots, field_dist):
    base, vid = live_server, world.visit["id"]
    one, p1, two, row = _conflict_card(browser, base, world)
    expect(row).to_have_count(1)
    table = row.get_by_test_id("conflict")
    expect(table.get_by_test_id("mine")).to_have_text("600 名学生")
    shots(p1, "conflict-side-by-side")
    assert axe_serious(p1) == []  # the sync panel with a conflict table
    session.expire_all()
    assert session.scalar(select(Response.value).where(Response.visit_id == uuid.UUID(vid), Response.item_code == "enrolment")) == 650

    row.get_by_test_id("keep-mine").click()
    expect(p1.get_by_test_id("all-sent")).to_be_visible(timeout=20000)
    session.expire_all()
    answers = session.scalars(select(Response).where(Response.visit_id == uuid.UUID(vid), Response.item_code == "enrolment")).all()
    assert [a.value for a in answers] == [600]  # one answer, settled to mine
    p1.goto(f"{base}/field/#/visit/{vid}")
    expect(p1.get_by_test_id("input-enrolment")).to_have_value("600")
    one.close()
    two.close()


def test_a_conflict_settled_with_no_signal_is_kept_through_a_reload_and_sent_when_the_signal_returns(
        session, world, live_server, browser, field_dist):
    """"Keep mine" tapped with no signal: the card says the choice is kept on the phone and will be sent, and
    it is still there after the app is opened again while the server cannot be reached; the next sync that
    reaches the server settles the conflict with it. Before, the tap waited through the retries, said only
    "refused: unreachable", and a reload forgot the choice."""
    base, vid = live_server, world.visit["id"]
    one, p1, two, row = _conflict_card(browser, base, world)

    one.set_offline(True)
    row.get_by_test_id("keep-mine").click()
    expect(row.get_by_test_id("choice-queued")).to_contain_text("用我的", timeout=5000)
    expect(row.get_by_test_id("settle-error")).to_have_count(0)
    assert _enrolment(session, vid) == 650
    # The visit's submission is no longer held back for that conflict (the choice is sent before it), only
    # for the required items still unanswered.
    p1.goto(f"{base}/field/#/visit/{vid}")
    p1.get_by_test_id("submit-visit").click()
    expect(p1.get_by_test_id("submit-error")).not_to_be_empty()
    expect(p1.get_by_test_id("submit-error")).not_to_contain_text("冲突")

    # The signal back, but the server out of reach for settlements (before it is back: the app syncs at once).
    p1.route("**/api/v1/sync/conflicts/resolve", lambda route: route.abort())
    one.set_offline(False)
    p1.reload()
    p1.goto(f"{base}/field/#/sync")
    row = p1.locator('[data-testid="unsynced"][data-state="conflict"]')
    expect(row.get_by_test_id("choice-queued")).to_contain_text("用我的")
    assert _enrolment(session, vid) == 650

    p1.unroute("**/api/v1/sync/conflicts/resolve")
    sync_fully(p1)
    expect(p1.get_by_test_id("all-sent")).to_be_visible(timeout=20000)
    assert _enrolment(session, vid) == 600
    one.close()
    two.close()


def test_a_conflict_whose_answer_changed_again_on_the_server_shows_the_value_now_and_is_chosen_again(
        session, client, world, live_server, browser, field_dist):
    """The colleague changes the contested answer again (650 -> 700) while the conflict waits on the phone:
    keeping mine is refused by the server (it was chosen against 650), the card then shows 700 and says the
    value changed, and keeping mine again writes 600 over the 700 now seen. Before, the phone could only say
    "refused (409)" and show 650 for ever, and the conflict held the visit's submission back."""
    base, vid = live_server, world.visit["id"]
    one, p1, two, row = _conflict_card(browser, base, world)
    again = client.put(f"/api/v1/visits/{vid}/responses", headers=token_for(session, world.inspector_2),
                       json={"answers": [{"item_code": "enrolment", "value": 700}]})
    assert again.status_code == 200, again.get_json()

    row.get_by_test_id("keep-mine").click()
    expect(row.get_by_test_id("conflict-moved")).to_be_visible()
    expect(row.get_by_test_id("theirs")).to_have_text("700 名学生")  # what the server holds now
    expect(row.get_by_test_id("mine")).to_have_text("600 名学生")
    expect(row.get_by_test_id("settle-error")).to_have_count(0)  # not refused: to be chosen again
    assert _enrolment(session, vid) == 700
    p1.reload()  # the value now is kept on the phone, not only on the screen
    row = p1.locator('[data-testid="unsynced"][data-state="conflict"]')
    expect(row.get_by_test_id("theirs")).to_have_text("700 名学生")
    row.get_by_test_id("keep-mine").click()
    expect(p1.get_by_test_id("all-sent")).to_be_visible(timeout=20000)
    assert _enrolment(session, vid) == 600
    one.close()
    two.close()


def test_a_conflict_shows_the_server_value_a_later_pull_brought_and_is_chosen_against_it(
        session, client, world, live_server, browser, field_dist):
    """The colleague changes the contested answer again (650 -> 700) and the phone's next sync brings it: the
    conflict shows 700, the value "keep theirs" would keep, and says it changed; keeping mine is chosen against
    that version and written at once. Found by a break-it pass: the table kept showing 650, so "keep theirs"
    kept a 700 the inspector never saw."""
    base, vid = live_server, world.visit["id"]
    one, p1, two, _ = _enrolment_contested(browser, base, world)
    sync_fully(p1)
    again = client.put(f"/api/v1/visits/{vid}/responses", headers=token_for(session, world.inspector_2),
                       json={"answers": [{"item_code": "enrolment", "value": 700}]})
    assert again.status_code == 200, again.get_json()
    sync_fully(p1)
    p1.goto(f"{base}/field/#/sync")
    row = p1.locator('[data-testid="unsynced"][data-state="conflict"]')
    expect(row.get_by_test_id("theirs")).to_have_text("700 名学生")
    expect(row.get_by_test_id("conflict-moved")).to_be_visible()
    row.get_by_test_id("keep-mine").click()
    expect(p1.get_by_test_id("all-sent")).to_be_visible(timeout=20000)
    assert _enrolment(session, vid) == 600
    one.close()
    two.close()


def test_an_answer_typed_again_over_the_colleagues_value_settles_its_conflict(session, world, live_server, browser,
                                                                           field_dist):
    """The conflict shows the colleague's 650 in the field; the inspector types 620 over it, which the server
    applies (made on the 650 seen). That answers the conflict: the sync settles it, so no "keep mine" is left
    to write the conflict's older 600 over the 620 (a break-it pass lost the 620 that way), and the visit's
    submission is not held back by it."""
    from sync.models import Conflict
    base, vid = live_server, world.visit["id"]
    one, p1, two, _ = _enrolment_contested(browser, base, world)
    sync_fully(p1)
    p1.goto(f"{base}/field/#/visit/{vid}")
    expect(p1.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("冲突")
    expect(p1.get_by_test_id("input-enrolment")).to_have_value("650")
    p1.get_by_test_id("input-enrolment").fill("620")
    p1.get_by_test_id("input-enrolment").press("Tab")
    sync_fully(p1)
    expect(p1.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("已同步")
    assert _enrolment(session, vid) == 620
    assert session.scalars(select(Conflict.status).where(Conflict.visit_id == uuid.UUID(vid))).all() == ["resolved"]
    p1.goto(f"{base}/field/#/sync")
    expect(p1.locator('[data-testid="unsynced"][data-state="conflict"]')).to_have_count(0)
    one.close()
    two.close()


def test_sign_out_with_unsent_records_warns_and_keeps_them_for_that_user(session, world, live_server, browser, shots,
                                                                          field_dist):
    base = live_server
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    dialogs: list[str] = []
    answer = {"accept": False}
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept() if answer["accept"] else d.dismiss()))
    sign_in(page, base, world.inspector_a1.username)
    page.get_by_test_id("lang").click()  # English on demand, Chinese by default
    expect(page.get_by_test_id("new-visit")).to_have_text("Unannounced visit")
    page.get_by_test_id("lang").click()
    expect(page.get_by_test_id("new-visit")).to_have_text("临时走访")

    ctx.set_offline(True)  # an unannounced visit at a school in scope, made on the device
    page.get_by_test_id("new-visit").click()
    page.get_by_test_id("school-select").wait_for()
    assert axe_serious(page) == []  # the unannounced-visit form
    page.get_by_test_id("school-select").select_option(str(world.school_a1b.id))
    page.get_by_test_id("create-visit").click()
    page.get_by_test_id("input-enrolment").fill("420")
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("待发送")
    vid = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_test_id("unsent-count")).to_have_text("2")

    with page.expect_event("dialog"):
        page.get_by_test_id("sign-out").click()  # warned, and cancelled: still signed in
    assert "2" in dialogs[-1] and "未发送" in dialogs[-1]
    expect(page.get_by_test_id("sign-out")).to_be_visible()
    answer["accept"] = True
    with page.expect_event("dialog"):
        page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    assert axe_serious(page) == []  # the sign-in form

    ctx.set_offline(False)  # another inspector on the same phone sees none of it
    sign_in(page, base, world.inspector_2.username)
    assert unsent(page) == 0
    expect(page.locator(f'[data-visit="{vid}"]')).to_have_count(0)
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    session.expire_all()
    assert session.get(Visit, uuid.UUID(str(vid))) is None

    sign_in(page, base, world.inspector_a1.username)  # back again: kept, and sent now
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    session.expire_all()
    visit = session.get(Visit, uuid.UUID(str(vid)))
    assert visit is not None and visit.school_id == world.school_a1b.id and visit.status.value == "in_progress"
    assert [r.value for r in visit.responses] == [420]
    expect(page.locator(f'[data-visit="{vid}"]')).to_have_count(1)
    ctx.close()


def test_lost_answer_during_sync_is_retried_without_doubling(session, world, live_server, browser, field_dist):
    base, vid = live_server, world.visit["id"]
    ctx, page = _offline_answered(browser, base, world)
    page.get_by_test_id("input-pe_art_teachers").fill("4")
    expect(page.get_by_test_id("unsent-count")).to_have_text("3")
    lost = []

    def lose_first_answer(route):
        if not lost:
            route.fetch()  # the server applies the batch...
            lost.append(route.request.post_data_json)
            route.abort("connectionreset")  # ...and the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/sync/push", lose_first_answer)
    ctx.set_offline(False)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    assert lost and len(lost[0]["mutations"]) == 3  # the start and two answers
    session.expire_all()
    answers = session.scalars(select(Response).where(Response.visit_id == uuid.UUID(vid))).all()
    assert sorted((a.item_code, a.value) for a in answers) == [("enrolment", 600), ("pe_art_teachers", 4)]
    page.get_by_test_id("unsent").click()
    expect(page.get_by_test_id("all-sent")).to_be_visible()
    ctx.close()


def test_an_answer_typed_over_what_the_screen_showed_while_a_pull_brought_a_colleagues_value_is_a_conflict(
        session, world, live_server, browser, client, field_dist):
    """The inspector replaces the 100 on screen while a slow pull brings a colleague's 200: the edit rests on
    the 100 the inspector saw, so the server keeps the 200 and records a conflict (was 100, theirs 200, mine
    300) that the app shows, instead of applying 300 over a value nobody on the device saw."""
    base, vid = live_server, world.visit["id"]
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sign_in(page, base, world.inspector_a1.username)
    ctx.set_offline(True)  # "pending" stays to be seen (online, the app sends it by itself within seconds)
    _answer_enrolment(page, vid, "100")
    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    wait_synced(page)
    colleague = client.put(f"/api/v1/visits/{vid}/responses", headers=token_for(session, world.inspector_2),
                           json={"answers": [{"item_code": "enrolment", "value": 200}]})
    assert colleague.status_code == 200, colleague.json

    held = []
    page.route("**/api/v1/sync/pull*", lambda route: held.append(route))  # the pull's answer is slow
    with page.expect_request("**/api/v1/sync/pull*"):
        page.get_by_test_id("sync-now").click()
    field = page.get_by_test_id("input-enrolment")
    field.click()  # the inspector is at the answer when the pull lands
    held[0].continue_()
    wait_synced(page)
    page.unroute("**/api/v1/sync/pull*")
    expect(field).to_have_value("100")  # what the screen shows: the pull landed behind it
    ctx.set_offline(True)
    field.fill("300")
    field.press("Tab")
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("待发送")
    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    wait_synced(page)
    assert _enrolment(session, vid) == 200
    page.get_by_test_id("unsent").click()
    row = page.locator('[data-testid="unsynced"][data-state="conflict"]')
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("theirs")).to_have_text("200 名学生")  # values as the item reads them, with its unit
    expect(row.get_by_test_id("mine")).to_have_text("300 名学生")
    ctx.close()


def test_a_revoked_sign_in_asks_for_the_password_again_and_keeps_the_unsent_answers(
        session, world, live_server, browser, client, field_dist):
    base, vid = live_server, world.visit["id"]
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    username = world.inspector_a1.username
    sign_in(page, base, username)
    ctx.set_offline(True)
    _answer_enrolment(page, vid, "777")
    token = page.evaluate("JSON.parse(localStorage.getItem('field.session')).token")
    assert client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {token}"}).status_code in (200, 204)
    ctx.set_offline(False)  # the app syncs as the signal returns (or at its next try)
    expect(page.get_by_test_id("sign-in-again")).to_contain_text("请重新输入密码", timeout=30000)  # in the app's language
    expect(page.locator("#username")).to_have_value(username)
    session.expire_all()
    assert session.scalars(select(Response).where(Response.visit_id == uuid.UUID(vid))).all() == []
    page.fill("#password", "password-123")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=30000)
    assert _enrolment(session, vid) == 777
    ctx.close()


def test_a_conflict_settled_on_another_device_closes_on_the_phone_and_the_visit_can_be_submitted(
        session, client, world, live_server, browser, field_dist):
    """The inspector settles a conflict on another device (a tablet, the API) while the phone still shows
    it: the phone's next sync closes it there too (the settled value shown, nothing left to settle), so
    it no longer holds the visit's submission back for a conflict the server no longer has."""
    from sqlalchemy import select as sa_select

    from sync.models import Conflict
    base, vid = live_server, world.visit["id"]
    one, p1, two, _ = _enrolment_contested(browser, base, world)
    sync_fully(p1)
    expect(p1.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("冲突")

    session.expire_all()
    conflict = session.scalar(sa_select(Conflict).where(Conflict.visit_id == uuid.UUID(vid), Conflict.status == "open"))
    r = client.post("/api/v1/sync/conflicts/resolve", headers=token_for(session, world.inspector_a1),
                    json={"conflict_id": str(conflict.id), "fields": {"value": {"take": "server"}}})
    assert r.status_code == 200, r.get_json()

    sync_fully(p1)
    p1.goto(f"{base}/field/#/visit/{vid}")
    expect(p1.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("已同步")
    expect(p1.get_by_test_id("input-enrolment")).to_have_value("650")  # the value the settlement kept
    p1.get_by_test_id("submit-visit").click()
    # Held back now only for the required items not answered, never for the settled conflict.
    expect(p1.get_by_test_id("submit-error")).not_to_contain_text("冲突")
    expect(p1.get_by_test_id("submit-error")).not_to_be_empty()
    p1.get_by_test_id("unsent").click()
    expect(p1.locator('[data-testid="unsynced"][data-state="conflict"]')).to_have_count(0)
    one.close()
    two.close()


def test_a_conflict_made_on_a_lost_phone_is_shown_on_the_next_one_to_be_settled(
        session, client, world, live_server, browser, field_dist):
    """The phone holding a conflict is lost before it is settled: the server still refuses to submit the
    visit while it is open, so the inspector's new phone shows it (from the server's open conflicts) and
    settles it there; the colleague's phone, whose value stood, has nothing to settle."""
    from sqlalchemy import select as sa_select

    from sync.models import Conflict
    base, vid = live_server, world.visit["id"]
    one, p1, two, p2 = _enrolment_contested(browser, base, world)
    sync_fully(p1)
    expect(p1.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("冲突")
    one.close()  # lost

    fresh = browser.new_context(**PHONE)
    page = fresh.new_page()
    sign_in(page, base, world.inspector_a1.username)
    page.goto(f"{base}/field/#/visit/{vid}")
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("冲突")
    page.get_by_test_id("unsent").click()
    row = page.locator('[data-testid="unsynced"][data-state="conflict"]')
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("theirs")).to_have_text("650 名学生")
    expect(row.get_by_test_id("mine")).to_have_text("600 名学生")  # the value the lost phone sent
    row.get_by_test_id("keep-mine").click()
    expect(page.locator('[data-testid="unsynced"][data-state="conflict"]')).to_have_count(0, timeout=20000)
    session.expire_all()
    assert session.scalar(sa_select(Conflict.status).where(Conflict.visit_id == uuid.UUID(vid))) == "resolved"
    assert session.scalar(select(Response.value).where(Response.visit_id == uuid.UUID(vid),
                                                       Response.item_code == "enrolment")) == 600
    sync_fully(p2)
    p2.goto(f"{base}/field/#/visit/{vid}")
    expect(p2.get_by_test_id("input-enrolment")).to_have_value("600")
    expect(p2.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("已同步")
    fresh.close()
    two.close()


def test_a_colleagues_conflict_is_labelled_as_theirs_on_the_other_inspectors_phone(
        session, client, world, live_server, browser, field_dist):
    """The first inspector's answer conflicted with the second's, which stood on the server. The second
    inspector's phone shows that conflict too (the visit cannot be submitted while it is open), but the
    contested value is the colleague's, not theirs: labelled so, and keeping the server's settles it."""
    from sqlalchemy import select as sa_select

    from sync.models import Conflict
    base, vid = live_server, world.visit["id"]
    one, p1, two, p2 = _enrolment_contested(browser, base, world)
    sync_fully(p1)
    expect(p1.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("冲突")
    mine = p1.locator('[data-testid="unsynced"][data-state="conflict"]')
    p1.get_by_test_id("unsent").click()
    expect(mine.locator("th").nth(3)).to_have_text("我的")  # on the phone that made it: "mine"

    sync_fully(p2)
    p2.get_by_test_id("unsent").click()
    row = p2.locator('[data-testid="unsynced"][data-state="conflict"]')
    expect(row).to_have_count(1)
    expect(row.locator("th").nth(2)).to_have_text("服务器上的")
    expect(row.locator("th").nth(3)).to_have_text("同事的")
    expect(row.get_by_test_id("theirs")).to_have_text("650 名学生")  # this inspector's own value, on the server
    expect(row.get_by_test_id("mine")).to_have_text("600 名学生")  # the colleague's
    expect(row.get_by_test_id("keep-mine")).to_have_text("用同事的")
    expect(row.get_by_test_id("keep-theirs")).to_have_text("用服务器上的")
    row.get_by_test_id("keep-theirs").click()
    expect(p2.locator('[data-testid="unsynced"][data-state="conflict"]')).to_have_count(0, timeout=20000)
    session.expire_all()
    assert session.scalar(sa_select(Conflict.status).where(Conflict.visit_id == uuid.UUID(vid))) == "resolved"
    assert session.scalar(select(Response.value).where(Response.visit_id == uuid.UUID(vid),
                                                       Response.item_code == "enrolment")) == 650
    one.close()
    two.close()


def test_a_sync_while_the_inspector_types_moves_the_other_answers_badges(session, world, live_server, browser,
                                                                        field_dist):
    """The view is not drawn again under a field being typed in, but a sync that happens meanwhile (the signal
    back) still shows on the other answers' badges: "pending" became "synced". Before, they said "pending"
    until the view was next drawn."""
    base, vid = live_server, world.visit["id"]
    ctx, page = _offline_answered(browser, base, world)
    other = page.get_by_test_id("input-pe_art_teachers")
    other.focus()  # typing there, when the signal comes back (the app syncs by itself)
    body = page.locator("body")
    since = int(body.get_attribute("data-syncs-started") or 0)
    ctx.set_offline(False)
    for _ in range(300):  # a sync started after the signal came back has completed (no tap: the focus stays)
        if int(body.get_attribute("data-sync-reached") or 0) > since:
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("no sync completed after the signal came back")
    assert _enrolment(session, vid) == 600
    assert page.evaluate("document.activeElement && document.activeElement.dataset.testid") == "input-pe_art_teachers"
    expect(page.locator('[data-testid="item-enrolment"] [data-testid="answer-state"]')).to_have_text("已同步")
    ctx.close()
