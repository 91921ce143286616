"""Evidence photos for a ticket: uploaded through the upload API with target ticket_id, used by one step."""
from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from inspections import clock
from inspections.photos.models import Photo
from inspections.tickets.models import TicketEvent
from tests.factories import GOOD_PRIMARY, make_user, make_world, run_jobs, submit_visit, token_for
from tests.inspections.photos.images import photo

SHORT_PE = {**GOOD_PRIMARY, "pe_art_teachers": 4}
CHUNK = "application/offset+octet-stream"


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    w.h_insp = token_for(session, w.inspector_a1)
    w.h_school = token_for(session, w.school_user_a1)
    submit_visit(client, w.h_insp, w.school_a1.id, SHORT_PE)
    run_jobs(app)
    w.ticket = client.get("/api/v1/tickets", query_string={"item_code": "R3"}, headers=w.h_school).json["items"][0]
    url = f"/api/v1/tickets/{w.ticket['id']}/transitions"
    plan = [{"milestone": "招聘两名体育教师", "due": (clock.today() + timedelta(days=40)).isoformat()}]
    assert client.post(url, json={"to": "acknowledged"}, headers=w.h_school).status_code == 201
    assert client.post(url, json={"to": "in_progress", "plan": plan}, headers=w.h_school).status_code == 201
    return w


def _upload(client, headers, data, **target):
    body = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": "image/jpeg", **target}
    r = client.post("/api/v1/photos/uploads", json=body, headers=headers)
    if r.status_code != 201:
        return r
    return client.patch(f"/api/v1/photos/uploads/{r.json['id']}", data=data,
                        headers={**headers, "Upload-Offset": "0", "Content-Type": CHUNK, "Upload-Complete": "?1"})


def test_school_answers_its_ticket_with_a_photo(app, client, session, world):
    up = _upload(client, world.h_school, photo(800, 600), ticket_id=world.ticket["id"])
    assert up.status_code == 200, up.json
    assert up.json["ticket_id"] == world.ticket["id"] and up.json["school_id"] == str(world.school_a1.id)
    run_jobs(app)
    r = client.post(f"/api/v1/tickets/{world.ticket['id']}/transitions",
                    json={"to": "awaiting_verification", "note": "已补齐", "photo_ids": [up.json["id"]]},
                    headers=world.h_school)
    assert r.status_code == 201, r.json
    ev = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == uuid.UUID(world.ticket["id"]),
                                                  TicketEvent.to_status == "awaiting_verification"))
    assert ev.data["photo_ids"] == [up.json["id"]]
    assert session.get(Photo, uuid.UUID(up.json["id"])).ticket_event_id == ev.id
    # The inspector in scope sees the evidence and its thumbnail.
    assert client.get(f"/api/v1/photos/{up.json['id']}", headers=world.h_insp).status_code == 200
    assert client.get(f"/api/v1/photos/{up.json['id']}/thumb", headers=world.h_insp).status_code == 200


def test_another_schools_ticket_is_not_found_and_nothing_is_written(client, session, world):
    from inspections.accounts.enums import Role
    # A school next door in the same county, and an office of another city: neither may add evidence.
    for user in (make_user(session, Role.school, school=world.school_a1b),
                 make_user(session, Role.office, jurisdiction=world.county_b1)):
        session.commit()
        before = session.scalar(select(func.count()).select_from(Photo))
        r = _upload(client, token_for(session, user), photo(200, 150), ticket_id=world.ticket["id"])
        assert r.status_code == 404, r.json
        assert session.scalar(select(func.count()).select_from(Photo)) == before
    r = _upload(client, world.h_school, photo(200, 150), ticket_id=str(uuid.uuid4()))
    assert r.status_code == 404


def test_closed_ticket_takes_no_evidence(client, session, world):
    from inspections.tickets.enums import TicketStatus
    from inspections.tickets.models import Ticket
    t = session.get(Ticket, uuid.UUID(world.ticket["id"]))
    t.status = TicketStatus.closed
    session.commit()
    r = _upload(client, world.h_school, photo(200, 150), ticket_id=world.ticket["id"])
    assert r.status_code == 409


def test_evidence_must_be_for_this_ticket_and_fully_arrived(app, client, session, world):
    # Declared but never sent: not evidence yet.
    data = photo(300, 200)
    body = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": "image/jpeg",
            "ticket_id": world.ticket["id"]}
    pending = client.post("/api/v1/photos/uploads", json=body, headers=world.h_school).json["id"]
    url = f"/api/v1/tickets/{world.ticket['id']}/transitions"
    r = client.post(url, json={"to": "awaiting_verification", "photo_ids": [pending]}, headers=world.h_school)
    assert r.status_code == 422 and "photo_ids" in r.json["errors"]
    # A photo sent for something else (here: an earlier event of the ticket) is not evidence for this step.
    ev = session.scalar(select(TicketEvent).where(TicketEvent.to_status == "in_progress"))
    other = _upload(client, world.h_school, photo(300, 201), ticket_event_id=str(ev.id)).json["id"]
    r = client.post(url, json={"to": "awaiting_verification", "photo_ids": [other]}, headers=world.h_school)
    assert r.status_code == 422 and "photo_ids" in r.json["errors"]
    assert session.scalar(select(func.count()).select_from(TicketEvent)
                          .where(TicketEvent.to_status == "awaiting_verification")) == 0


def test_upload_to_a_ticket_event(app, client, session, world):
    ev = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == uuid.UUID(world.ticket["id"]),
                                                  TicketEvent.to_status == "in_progress"))
    up = _upload(client, world.h_school, photo(400, 300), ticket_event_id=str(ev.id))
    assert up.status_code == 200, up.json
    assert up.json["ticket_event_id"] == str(ev.id)
    unknown = _upload(client, world.h_school, photo(401, 300), ticket_event_id=str(uuid.uuid4()))
    assert unknown.status_code == 404


def test_a_broken_photo_cannot_carry_the_step_to_verification(app, client, session, world):
    """The API path decides as the page does: a photo counts as evidence only while it is not rejected, the
    ticket cannot be verified while it is being checked, and a rejection sends the ticket back."""
    tid = world.ticket["id"]
    url = f"/api/v1/tickets/{tid}/transitions"
    good = _upload(client, world.h_school, photo(800, 600), ticket_id=tid)
    bad = _upload(client, world.h_school, b"\xff\xd8\xff\xe0garbage", ticket_id=tid)
    assert good.status_code == 200 and bad.status_code == 200
    if app.config.get("REDIS_URL"):  # with a worker both photos still wait for their checks
        r = client.post(url, json={"to": "awaiting_verification", "photo_ids": [bad.json["id"]]},
                        headers=world.h_school)
        assert r.status_code == 201, r.json
        r = client.post(url, json={"to": "closed"}, headers=world.h_insp)
        assert r.status_code == 409 and "being checked" in r.json["detail"]
        run_jobs(app)
        assert client.get(f"/api/v1/tickets/{tid}", headers=world.h_school).json["status"] == "in_progress"
        back = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == uuid.UUID(tid),
                                                        TicketEvent.actor_id.is_(None),
                                                        TicketEvent.from_status == "awaiting_verification"))
        assert back is not None and back.data["evidence_rejected"] == bad.json["id"]
    else:  # embedded, the check already ran: the rejected photo is refused outright
        r = client.post(url, json={"to": "awaiting_verification", "photo_ids": [bad.json["id"]]},
                        headers=world.h_school)
        assert r.status_code == 422
    run_jobs(app)
    # A good photo holds the step up; the inspector may then verify.
    r = client.post(url, json={"to": "awaiting_verification", "photo_ids": [good.json["id"]]}, headers=world.h_school)
    assert r.status_code == 201, r.json
    assert client.post(url, json={"to": "closed"}, headers=world.h_insp).status_code == 201


def test_a_photo_named_twice_is_refused_on_every_way_in_and_nothing_is_written(app, client, session, world):
    """Found by a break-it pass: `photo_ids: [p, p]` was taken (as one photo). A step names each photo once: the
    API (422 on photo_ids) and a device's ticket_event (rejected, fields.photo_ids) refuse it; the page's form
    too (tests/web/test_evidence.py)."""
    from tests.sync.helpers import mutation, push
    up = _upload(client, world.h_school, photo(800, 600), ticket_id=world.ticket["id"])
    run_jobs(app)
    p = up.json["id"]
    url = f"/api/v1/tickets/{world.ticket['id']}/transitions"
    r = client.post(url, json={"to": "awaiting_verification", "note": "已补齐", "photo_ids": [p, p]},
                    headers=world.h_school)
    assert r.status_code == 422 and r.content_type == "application/problem+json", r.json
    assert r.json["errors"]["photo_ids"] == [f"names the same photo more than once: {p}"]
    (res,) = push(client, world.h_school, mutation("ticket_event", "create", ticket_id=world.ticket["id"],
                                                   to="awaiting_verification", note="x" * 30, photo_ids=[p, p]))
    assert res["status"] == "rejected" and "more than once" in res["errors"]["fields.photo_ids"][0], res
    assert session.scalar(select(func.count()).select_from(TicketEvent)
                          .where(TicketEvent.to_status == "awaiting_verification")) == 0
    session.expire_all()
    assert session.get(Photo, uuid.UUID(p)).ticket_event_id is None
    # Named once, the same photo is good evidence.
    r = client.post(url, json={"to": "awaiting_verification", "note": "已补齐", "photo_ids": [p]},
                    headers=world.h_school)
    assert r.status_code == 201, r.json


def test_photos_named_on_a_step_that_takes_none_are_refused_not_dropped(app, client, session, world):
    """Found by a break-it pass: photo_ids on a step that keeps no evidence (sending the ticket back, say)
    were taken and dropped in silence, whatever they named. Refused (422 on photo_ids; a device's
    ticket_event rejected), nothing written; the step without them goes through."""
    from tests.sync.helpers import mutation, push
    up = _upload(client, world.h_school, photo(800, 600), ticket_id=world.ticket["id"])
    run_jobs(app)
    url = f"/api/v1/tickets/{world.ticket['id']}/transitions"
    assert client.post(url, json={"to": "awaiting_verification", "note": "已补齐", "photo_ids": [up.json["id"]]},
                       headers=world.h_school).status_code == 201
    back = {"to": "in_progress", "note": "体育教师仍缺一名", "photo_ids": [str(uuid.uuid4())]}
    r = client.post(url, json=back, headers=world.h_insp)
    assert r.status_code == 422 and "takes no evidence photos" in r.json["errors"]["photo_ids"][0], r.json
    (res,) = push(client, world.h_insp, mutation("ticket_event", "create", ticket_id=world.ticket["id"], **back))
    assert res["status"] == "rejected" and "fields.photo_ids" in res["errors"], res
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(TicketEvent)
                          .where(TicketEvent.to_status == "in_progress")) == 1  # the school's own, earlier
    r = client.post(url, json={k: v for k, v in back.items() if k != "photo_ids"}, headers=world.h_insp)
    assert r.status_code == 201, r.json
