"""Evidence photos on the ticket page: the plain form (no script), the upload API from a signed-in page,
and thumbnails only in scope."""
from __future__ import annotations

import hashlib
import io
import re
import uuid

import pytest
from sqlalchemy import func, select

from inspections.accounts.enums import Role
from inspections.photos.models import Photo
from inspections.tickets.models import Ticket, TicketEvent
from tests.factories import GOOD_PRIMARY, make_user, make_world, run_jobs, submit_visit, token_for
from tests.inspections.photos.images import photo
from tests.web.helpers import csrf as _csrf, login as _login

SHORT_PE = {**GOOD_PRIMARY, "pe_art_teachers": 4}


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, SHORT_PE)
    run_jobs(app)
    w.ticket = session.scalar(select(Ticket).where(Ticket.school_id == w.school_a1.id, Ticket.item_code == "R3"))
    w.url = f"/web/tickets/{w.ticket.id}"
    _login(client, w.school_user_a1.username)
    token = _csrf(client.get(w.url))
    assert client.post(w.url, data={"to": "acknowledged", "csrf_token": token}).status_code == 303
    assert client.post(w.url, data={"to": "in_progress", "milestone": "招聘教师", "due": "2027-03-01",
                                    "csrf_token": token}).status_code == 303
    w.csrf = token
    return w


def test_plain_form_with_photos_moves_the_ticket_and_shows_thumbnails(app, client, session, world):
    data = photo(800, 600)
    r = client.post(world.url, content_type="multipart/form-data", data={
        "to": "awaiting_verification", "csrf_token": world.csrf, "note": "见照片",
        "photos": [(io.BytesIO(data), "pe.jpg", "image/jpeg")]})
    assert r.status_code == 303, r.get_data(as_text=True)
    ph = session.scalar(select(Photo).where(Photo.ticket_id == world.ticket.id))
    assert ph.sha256 == hashlib.sha256(data).hexdigest() and ph.ticket_event_id is not None
    page = client.get(world.url).get_data(as_text=True)
    # With a worker the photo waits for it; embedded, jobs run in-process as they are queued.
    assert ('data-testid="evidence-processing"' in page) == bool(app.config.get("REDIS_URL"))
    run_jobs(app)
    page = client.get(world.url).get_data(as_text=True)
    thumb = re.search(r'<img src="(/web/photos/[0-9a-f-]+/thumb)"', page).group(1)
    got = client.get(thumb)
    assert got.status_code == 200 and got.mimetype == "image/jpeg" and got.data[:2] == b"\xff\xd8"
    # Another school's user gets 404 for the same thumbnail; so does a signed-out visitor (login redirect).
    other = make_user(session, Role.school, school=world.school_a2)
    session.commit()
    client.post("/web/logout", data={"csrf_token": world.csrf})
    assert client.get(thumb).status_code == 302
    _login(client, other.username)
    assert client.get(thumb).status_code == 404


@pytest.mark.parametrize("name,body,ctype", [("notes.txt", b"plain text", "text/plain"),
                                             ("notes.jpg", b"plain text named as a photo", "image/jpeg"),
                                             ("magic.jpg", b"\xff\xd8\xff\xe0garbage", "image/jpeg"),
                                             ("anim.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/png"),
                                             ("huge.jpg", b"\xff\xd8" + b"0" * (9 << 20), "image/jpeg")])
def test_plain_form_bad_files_write_nothing(client, session, world, name, body, ctype):
    before = session.scalar(select(func.count()).select_from(Photo))
    events = session.scalar(select(func.count()).select_from(TicketEvent))
    r = client.post(world.url, content_type="multipart/form-data", data={
        "to": "awaiting_verification", "csrf_token": world.csrf, "photos": [(io.BytesIO(body), name, ctype)]})
    assert r.status_code in (413, 422)
    assert session.scalar(select(func.count()).select_from(Photo)) == before
    assert session.scalar(select(func.count()).select_from(TicketEvent)) == events


def test_page_script_uses_the_upload_api_with_the_session_and_csrf_header(app, client, session, world):
    data = photo(640, 480)
    body = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": "image/jpeg",
            "ticket_id": str(world.ticket.id)}
    # The session cookie alone is not enough for a write: another site could make the browser send it.
    r = client.post("/api/v1/photos/uploads", json=body)
    assert r.status_code == 403 and r.content_type == "application/problem+json"
    assert session.scalar(select(func.count()).select_from(Photo)) == 0
    r = client.post("/api/v1/photos/uploads", json=body, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = client.post("/api/v1/photos/uploads", json=body, headers={"X-CSRF-Token": world.csrf})
    assert r.status_code == 201, r.json
    done = client.patch(r.json["chunk_url"], data=data, headers={
        "X-CSRF-Token": world.csrf, "Upload-Offset": "0", "Upload-Complete": "?1",
        "Content-Type": "application/offset+octet-stream"})
    assert done.status_code == 200
    # Reads need no header; the upload is the signed-in user's own.
    state = client.get(r.json["chunk_url"])
    assert state.status_code == 200, state.json
    assert state.json["offset"] == len(data)
    r = client.post(world.url, data={"to": "awaiting_verification", "csrf_token": world.csrf,
                                     "photo_ids": [done.json["id"]]})
    assert r.status_code == 303
    assert session.get(Photo, uuid.UUID(done.json["id"])).ticket_event_id is not None


def test_bearer_tokens_still_win_and_signed_out_api_calls_are_401(client, session, world):
    client.post("/web/logout", data={"csrf_token": world.csrf})
    assert client.get("/api/v1/tickets").status_code == 401
    h = token_for(session, world.office_a1)
    assert client.get("/api/v1/tickets", headers=h).status_code == 200


def test_a_broken_photo_does_not_hold_up_the_step(app, client, session, world):
    """A file with a photo's header but a broken body (cut off) is taken for checking, but the ticket
    cannot be verified on it, and once the check rejects it the ticket is back in progress (the history
    says why)."""
    broken = photo(640, 480)[:2000]
    r = client.post(world.url, content_type="multipart/form-data", data={
        "to": "awaiting_verification", "csrf_token": world.csrf, "note": "",
        "photos": [(io.BytesIO(broken), "a.jpg", "image/jpeg")]})
    assert r.status_code in (302, 303), r.get_data(as_text=True)
    if app.config.get("REDIS_URL"):  # with a worker the photo waits for its check
        assert 'data-testid="evidence-checking"' in client.get(world.url).get_data(as_text=True)
        session.refresh(world.ticket)
        from inspections.tickets import service as tickets
        assert tickets.evidence_being_checked(session, world.ticket)
    run_jobs(app)
    session.expire_all()
    t = session.get(Ticket, world.ticket.id)
    assert t.status.value == "in_progress"
    last = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                          .order_by(TicketEvent.at.desc()).limit(1))
    assert last.actor_id is None and "evidence_rejected" in last.data
    page = client.get(world.url + "?lang=en").get_data(as_text=True)
    assert 'data-testid="evidence-checking"' not in page
    assert "An evidence photo failed the checks and no other evidence remains" in page


def test_the_form_refuses_a_photo_named_twice_and_says_so(app, client, session, world):
    data = photo(640, 480)
    body = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": "image/jpeg",
            "ticket_id": str(world.ticket.id)}
    r = client.post("/api/v1/photos/uploads", json=body, headers={"X-CSRF-Token": world.csrf})
    done = client.patch(r.json["chunk_url"], data=data, headers={
        "X-CSRF-Token": world.csrf, "Upload-Offset": "0", "Upload-Complete": "?1",
        "Content-Type": "application/offset+octet-stream"})
    assert done.status_code == 200
    run_jobs(app)
    p = done.json["id"]
    r = client.post(world.url, data={"to": "awaiting_verification", "csrf_token": world.csrf, "note": "见照片",
                                     "photo_ids": [p, p]})
    assert r.status_code == 422
    assert "同一张照片被选择了不止一次" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Photo, uuid.UUID(p)).ticket_event_id is None
    assert session.get(Ticket, world.ticket.id).status.value == "in_progress"


def test_a_refused_form_stores_no_bytes_and_keeps_what_was_typed(app, client, session, world):
    """A good photo sent with a bad one: the form is refused whole, no file of it is left in the blob
    store (the good one was once stored before the bad one was read), and the note comes back as typed."""
    from pathlib import Path
    blobs = Path(app.config["STORAGE_URL"])
    before = {p for p in blobs.rglob("*") if p.is_file()} if blobs.exists() else set()
    note = "两名教师已到岗 <script>alert(1)</script>"
    r = client.post(world.url, content_type="multipart/form-data", data={
        "to": "awaiting_verification", "csrf_token": world.csrf, "note": note,
        "photos": [(io.BytesIO(photo(64, 48)), "good.jpg", "image/jpeg"),
                   (io.BytesIO(b"plain text named as a photo"), "bad.jpg", "image/jpeg")]})
    assert r.status_code == 422
    after = {p for p in blobs.rglob("*") if p.is_file()} if blobs.exists() else set()
    assert after == before
    assert session.scalar(select(func.count()).select_from(Photo)) == 0
    page = r.get_data(as_text=True)
    form = page[page.index('data-testid="move-awaiting_verification"'):]
    form = form[:form.index("</form>")]
    assert "两名教师已到岗 &lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in form  # kept, and escaped
