"""Review findings 4 and 7: the web ticket form takes exactly what the API takes (file types, sizes,
note length, milestone count and dates), and writes nothing otherwise."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from inspections.photos.models import Photo
from inspections.tickets.enums import TicketStatus
from inspections.tickets.models import Ticket, TicketEvent
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for
from tests.inspections.photos.images import photo
from tests.web.helpers import csrf, login

EVIL_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)">'
            b'<script>fetch("/api/v1/auth/me")</script></svg>')


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    w.ticket = session.scalar(select(Ticket).where(Ticket.school_id == w.school_a1.id, Ticket.item_code == "R3"))
    w.url = f"/web/tickets/{w.ticket.id}"
    login(client, w.school_user_a1.username)
    w.csrf = csrf(client.get(w.url))
    return w


def _counts(session, ticket_id):
    session.expire_all()
    return (session.scalar(select(func.count()).select_from(Photo)),
            session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id)),
            session.get(Ticket, ticket_id).status)


def _to_in_progress(client, world):
    client.post(world.url, data={"to": "acknowledged", "csrf_token": world.csrf})
    r = client.post(world.url, data={"to": "in_progress", "milestone": "招聘教师", "due": "2027-03-01",
                                     "csrf_token": world.csrf})
    assert r.status_code == 303


@pytest.mark.parametrize("name,body,ctype", [
    ("evil.svg", EVIL_SVG, "image/svg+xml"),        # the review's file
    ("evil.html", b"<script>alert(1)</script>", "text/html"),
    ("evil.gif", b"GIF89a" + b"0" * 100, "image/gif"),  # an image type the API does not take either
])
def test_evidence_form_refuses_what_the_upload_api_refuses(client, session, world, name, body, ctype):
    _to_in_progress(client, world)
    before = _counts(session, world.ticket.id)
    r = client.post(world.url, content_type="multipart/form-data", data={
        "to": "awaiting_verification", "csrf_token": world.csrf, "note": "见附件",
        "photos": [(io.BytesIO(body), name, ctype)]})
    assert r.status_code == 422 and name in r.get_data(as_text=True)
    assert _counts(session, world.ticket.id) == before
    assert before[2] == TicketStatus.in_progress
    # The API says the same about that declaration.
    api = client.post("/api/v1/photos/uploads", json={"sha256": "0" * 64, "size": len(body), "content_type": ctype,
                                                      "ticket_id": str(world.ticket.id)},
                      headers={"X-CSRF-Token": world.csrf})
    assert api.status_code == 422 and "content_type" in api.json["errors"]


def test_a_real_photo_still_goes_through_the_form(client, session, world):
    _to_in_progress(client, world)
    r = client.post(world.url, content_type="multipart/form-data", data={
        "to": "awaiting_verification", "csrf_token": world.csrf,
        "photos": [(io.BytesIO(photo(320, 240)), "pe.jpg", "image/jpeg")]})
    assert r.status_code == 303


@pytest.mark.parametrize("data,field", [
    ({"to": "in_progress", "milestone": ["m"] * 3000, "due": ["not-a-date"] * 3000}, "plan"),  # the review's input
    ({"to": "in_progress", "milestone": ["m"] * 51, "due": ["2027-01-01"] * 51}, "plan"),
    ({"to": "in_progress", "milestone": "m", "due": "not-a-date"}, "plan.0.due"),
    ({"to": "in_progress", "milestone": "m", "due": "1899-01-01"}, "plan.0.due"),
    ({"to": "in_progress", "milestone": "m" * 501, "due": "2027-01-01"}, "plan.0.milestone"),
    ({"to": "in_progress", "milestone": "", "due": "2027-01-01"}, "plan.0.milestone"),
    ({"to": "acknowledged", "note": "x" * 4001}, "note"),
    ({"to": "sideways"}, "to"),
    ({"to": "awaiting_verification", "photo_ids": ["not-an-id"]}, "photo_ids.0"),
])
def test_ticket_form_fields_follow_the_api_schema(client, session, world, data, field):
    if data["to"] == "in_progress":
        client.post(world.url, data={"to": "acknowledged", "csrf_token": world.csrf})
    before = _counts(session, world.ticket.id)
    r = client.post(world.url, data={**data, "csrf_token": world.csrf})
    assert r.status_code == 422
    # The page names the field as the form labels it (never the schema's internal name).
    error = re.search(r'data-testid="error">(.*?)</div>', r.get_data(as_text=True), re.S).group(1)
    assert any(f"<li>{label}: " in error for label in FORM_LABELS[field].split("|")) and field not in error
    assert _counts(session, world.ticket.id) == before


FORM_LABELS = {"plan": "里程碑|完成日期", "plan.0.due": "完成日期", "plan.0.milestone": "里程碑", "note": "说明", "to": "状态",
               "photo_ids.0": "整改照片"}


def test_a_five_mib_note_is_refused(client, session, world):
    before = _counts(session, world.ticket.id)
    r = client.post(world.url, data={"to": "acknowledged", "note": "x" * (5 << 20), "csrf_token": world.csrf})
    assert r.status_code in (413, 422)
    assert _counts(session, world.ticket.id) == before
