"""In real Chromium: the field app counts a visit's photo evidence as the server does. A photo the inspector
sent from another phone (phone A) counts on a fresh phone (B) once pulled, and one the server's check refused
does not; submitting with photo-required items still lacking a photo is not refused by the server (it
records the visit's evidence as incomplete), so the app lets it through but names those items before."""
from __future__ import annotations

import hashlib
import uuid

import pytest
from playwright.sync_api import expect

from inspections.visits.models import Visit
from tests.browser.field.helpers import PHONE, fill_checklist, one_inspector_visit_today, sign_in, sync_fully
from tests.factories import run_jobs, token_for
from tests.inspections.photos.images import photo

CHUNK = "application/offset+octet-stream"


@pytest.fixture
def world(session, client):
    return one_inspector_visit_today(session, client)


def _send_photo(client, h, visit_id, item_code, data):
    """Phone A: one photo for an item, declared and sent whole (as the reference client sends it)."""
    r = client.post("/api/v1/photos/uploads", headers=h, json={
        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": "image/jpeg",
        "visit_id": visit_id, "item_code": item_code})
    assert r.status_code == 201, r.json
    done = client.patch(f"/api/v1/photos/uploads/{r.json['id']}", data=data,
                        headers={**h, "Upload-Offset": "0", "Content-Type": CHUNK, "Upload-Complete": "?1"})
    assert done.status_code == 200, done.json
    return r.json["id"]


def test_photos_sent_from_another_phone_count_and_submit_names_what_lacks_one(app, session, client, world,
                                                                              live_server, browser, field_dist):
    base, vid = live_server, world.visit["id"]
    h = token_for(session, world.inspector_a1)
    # Phone A: the visit started, a good photo of the sports grounds, and a "photo" of the charter that is
    # no image (the server's check refuses it: the charter still lacks its evidence).
    assert client.patch(f"/api/v1/visits/{vid}", json={"status": "in_progress"}, headers=h).status_code == 200
    good = _send_photo(client, h, vid, "sports_area_m2", photo(320, 240))
    bad = _send_photo(client, h, vid, "has_charter", b"\xff\xd8\xff not a picture at all" * 10)
    run_jobs(app)
    evidence = client.get(f"/api/v1/visits/{vid}/evidence", headers=h).json
    assert sorted(m["item_code"] for m in evidence["missing"]) == \
        ["art_rooms_m2", "has_charter", "multimedia_classrooms", "music_rooms_m2"]

    # Phone B, fresh: the pull brings the visit and its photos; only the good one is evidence.
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    dialogs: list[str] = []
    answer = {"accept": False}
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept() if answer["accept"] else d.dismiss()))
    sign_in(page, base, world.inspector_a1.username)
    page.locator(f'[data-visit="{vid}"] [data-testid="open-visit"]').click()
    page.wait_for_selector('[data-testid="section-school"]')
    expect(page.get_by_test_id("progress")).to_have_text("已答 0/22 · 缺 4 张照片")
    expect(page.locator(f'[data-testid="item-sports_area_m2"] [data-photo="{good}"]')).to_have_text("📷 已处理")
    expect(page.locator(f'[data-testid="item-has_charter"] [data-photo="{bad}"]')).to_have_attribute("data-state", "rejected")

    fill_checklist(page)
    expect(page.get_by_test_id("progress")).to_have_text("已答 21/22 · 缺 4 张照片")

    # Before submitting, the inspector is told which items still lack a photo; declining keeps the visit open.
    with page.expect_event("dialog", timeout=10000):
        page.get_by_test_id("submit-visit").click()
    expect(page.get_by_test_id("submit-error")).to_be_empty()  # no required answer lacking
    expect(page.locator(".visit-page")).to_have_attribute("data-status", "in_progress")
    for words in ("学校是否有章程", "网络多媒体教室数", "各音乐专用教室面积", "各美术专用教室面积"):
        assert words in dialogs[-1], dialogs[-1]
    assert "体育运动场馆面积" not in dialogs[-1]

    # Submitting anyway is what the server allows: the visit is submitted, its evidence recorded incomplete.
    answer["accept"] = True
    page.get_by_test_id("submit-visit").click()
    expect(page.locator(".visit-page")).to_have_attribute("data-status", "submitted")
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=20000)
    session.expire_all()
    assert session.get(Visit, uuid.UUID(vid)).status.value == "submitted"
    assert client.get(f"/api/v1/visits/{vid}/evidence", headers=h).json["complete"] is False
    ctx.close()


def test_a_photo_taken_by_mistake_is_removed_before_it_leaves_the_phone(session, world, live_server, browser, tmp_path,
                                                                       field_dist):
    """With no signal the inspector photographs the sports grounds, then something that is no evidence (a
    personal picture): the second is removed on the phone (after a confirmation), stays removed after a
    reload, no longer counts as unsent or as evidence, and only the first reaches the server. A photo
    already sent offers no removal."""
    from sqlalchemy import select

    from inspections.photos.models import Photo
    from tests.browser.field.helpers import visit_started_offline
    base, vid = live_server, world.visit["id"]
    ctx, page = visit_started_offline(browser, base, world)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    grounds, personal = tmp_path / "grounds.jpg", tmp_path / "family.jpg"
    grounds.write_bytes(photo(320, 240))
    personal.write_bytes(photo(200, 300))
    item = page.get_by_test_id("item-sports_area_m2")
    page.get_by_test_id("photo-sports_area_m2").set_input_files(str(grounds))
    expect(item.get_by_test_id("photo-status")).to_have_count(1)
    page.get_by_test_id("photo-sports_area_m2").set_input_files(str(personal))
    expect(item.get_by_test_id("photo-status")).to_have_count(2)
    expect(page.get_by_test_id("unsent-count")).to_have_text("3")  # the start and two photos
    item.get_by_test_id("photo-status").nth(1).get_by_test_id("photo-remove").click()
    assert dialogs and "删除" in dialogs[-1]
    expect(item.get_by_test_id("photo-status")).to_have_count(1)
    expect(page.get_by_test_id("unsent-count")).to_have_text("2")
    page.reload()
    page.wait_for_selector('[data-testid="section-school"]')
    item = page.get_by_test_id("item-sports_area_m2")
    expect(item.get_by_test_id("photo-status")).to_have_count(1)
    expect(page.get_by_test_id("progress")).to_contain_text("缺 4 张照片")  # one of the five items has its photo

    ctx.set_offline(False)
    sync_fully(page)
    expect(page.get_by_test_id("unsent-count")).to_have_text("0", timeout=20000)
    session.expire_all()
    sent = session.scalars(select(Photo).where(Photo.visit_id == uuid.UUID(vid))).all()
    assert [p.sha256 for p in sent] == [hashlib.sha256(grounds.read_bytes()).hexdigest()]
    expect(item.get_by_test_id("photo-status")).to_have_attribute("data-state", "synced")
    expect(item.get_by_test_id("photo-remove")).to_have_count(0)  # sent: the server's now
    ctx.close()
