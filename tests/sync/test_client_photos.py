"""The reference client sends photos: offline first, in one request or in chunks, resuming after a
dropped answer, ticket evidence before the step that names it, refusals shown with their reason."""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from inspections.photos.models import Photo
from inspections.tickets.models import Ticket, TicketEvent
from sync.client import FlaskTransport, SyncClient, SyncUnavailable, TransportError
from tests.factories import make_world, run_jobs, token_for
from tests.inspections.photos.images import noisy_jpeg, photo
from tests.sync.helpers import r3_ticket


class Radio(FlaskTransport):
    """A Flask transport whose link can be down, or can drop the answer to the n-th PATCH."""

    def __init__(self, client, headers):
        super().__init__(client, headers)
        self.down, self.drop_patch, self.patches = False, None, 0
        self.photo_answer = None  # e.g. 503: what photo uploads get instead of the server's answer

    def request(self, method, path, **kw):
        if self.down:
            raise TransportError("no signal")
        return super().request(method, path, **kw)

    def send(self, method, path, *, data, headers):
        if self.down:
            raise TransportError("no signal")
        if self.photo_answer:
            return self.photo_answer, {"title": "Service Unavailable" if self.photo_answer >= 500 else "Unauthorized"}, {}
        out = super().send(method, path, data=data, headers=headers)
        if method == "PATCH":
            self.patches += 1
            if self.patches == self.drop_patch:
                raise TransportError("connection dropped before the answer arrived")
        return out


def _device(tmp_path, client, headers, name, **kw):
    radio = Radio(client, headers)
    return SyncClient(str(tmp_path / f"{name}.db"), radio, device_id=name, sleep=lambda s: None, **kw), radio


def _chunking_device_with_a_visit(tmp_path, client, session):
    """An inspector's device that sends photos over 4 KiB in 16 KiB chunks, and a visit it has synced."""
    w = make_world(session)
    dev, radio = _device(tmp_path, client, token_for(session, w.inspector_a1), "tablet", whole_limit=4096,
                         chunk_size=16384)
    vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
    dev.sync()
    return dev, radio, vid


def _file(tmp_path, name, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_visit_photo_taken_offline_waits_for_its_visit_then_arrives(app, client, session, tmp_path):
    w = make_world(session)
    dev, radio = _device(tmp_path, client, token_for(session, w.inspector_a1), "tablet")
    dev.sync()
    radio.down = True
    vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
    data = photo(320, 240)
    pid = dev.attach_photo(_file(tmp_path, "gate.jpg", data), visit_id=vid, item_code="sports_area_m2",
                           captured_at=datetime(2026, 11, 29, 2, 30, tzinfo=timezone.utc), latitude="30.123456",
                           longitude="120.654321")
    assert dev.status("photo", pid) == ("pending", "taken on this device")
    assert dev.push_photos() == {"waiting": 1}  # its visit is not on the server yet: not even tried
    assert dev.status("photo", pid) == ("pending", "waiting for its visit to reach the server")
    assert {u["id"] for u in dev.unsynced()} == {vid, pid}
    radio.down = False
    out = dev.sync()
    assert out["pushed"] == {"applied": 1} and out["photos"] == {"sent": 1}
    assert dev.status("photo", pid) == ("synced", None) and dev.unsynced() == []
    stored = session.get(Photo, uuid.UUID(pid))
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and str(stored.visit_id) == vid
    assert stored.item_code == "sports_area_m2" and str(stored.latitude) == "30.123456"
    run_jobs(app)
    session.expire_all()
    assert session.get(Photo, uuid.UUID(pid)).status == "processed"
    dev.sync()  # again: nothing is sent twice
    assert session.scalar(select(Photo.id).where(Photo.visit_id == uuid.UUID(vid)).offset(1)) is None


def test_a_large_photo_goes_in_chunks_and_resumes_after_a_dropped_answer(app, client, session, tmp_path):
    w = make_world(session)
    dev, radio = _device(tmp_path, client, token_for(session, w.inspector_a1), "tablet",
                         whole_limit=4096, chunk_size=16384)
    dev.sync()
    vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
    dev.sync()
    data = noisy_jpeg(640, 480)
    chunks = -(-len(data) // 16384)
    assert chunks >= 3
    radio.drop_patch = 2  # the second chunk lands, but its answer is lost
    pid = dev.attach_photo(_file(tmp_path, "big.jpg", data), visit_id=vid, item_code="equipment_value_yuan")
    assert dev.sync()["photos"] == {"sent": 1}
    assert radio.patches == chunks + 1  # the lost one sent again, answered 409 with the offset to go on from
    stored = session.get(Photo, uuid.UUID(pid))
    assert stored.status in ("received", "processed") and stored.received_bytes == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


def test_a_school_sends_its_evidence_then_the_step_that_names_it(app, client, session, tmp_path):
    w = make_world(session)
    ticket = r3_ticket(app, client, session, w, w.school_a1)
    dev, radio = _device(tmp_path, client, token_for(session, w.school_user_a1), "school-tablet")
    dev.sync()
    radio.down = True  # all of it offline
    dev.ticket_step(ticket.id, "acknowledged")
    dev.ticket_step(ticket.id, "in_progress", plan=[{"milestone": "招聘体育教师", "due": "2027-03-01"}])
    pid = dev.attach_photo(_file(tmp_path, "timetable.jpg", photo()), ticket_id=ticket.id)
    step = dev.ticket_step(ticket.id, "awaiting_verification", note="两名体育教师已到岗", photo_ids=[pid])
    try:
        dev.sync()
    except SyncUnavailable:
        pass
    assert dev.status("photo", pid)[0] == "pending" and dev.status("ticket_event", step)[0] == "pending"
    radio.down = False
    out = dev.sync()
    assert out["photos"] == {"sent": 1} and out["pushed"] == {"applied": 3}
    assert dev.status("ticket_event", step) == ("synced", None)
    session.expire_all()
    assert session.get(Ticket, ticket.id).status.value == "awaiting_verification"
    event = session.get(TicketEvent, uuid.UUID(step))
    assert event.data.get("photo_ids") == [pid]


def test_refusals_are_final_with_their_reason_and_the_rest_still_go(app, client, session, tmp_path):
    w = make_world(session)
    others = r3_ticket(app, client, session, w, w.school_a1b).id
    dev, _radio = _device(tmp_path, client, token_for(session, w.school_user_a1), "school-tablet")
    dev.sync()
    theirs = dev.attach_photo(_file(tmp_path, "a.jpg", photo()), ticket_id=others)  # another school's ticket
    gone = dev.attach_photo(_file(tmp_path, "b.jpg", photo(200, 100)), ticket_id=others)
    (tmp_path / "b.jpg").unlink()  # the file went away before it was sent
    bad_visit = dev.create("visit", {"school_id": str(w.school_a1.id)})  # schools cannot plan visits
    orphan = dev.attach_photo(_file(tmp_path, "c.jpg", photo()), visit_id=bad_visit, item_code="enrolment")
    out = dev.sync()
    assert out["photos"] == {"rejected": 3} and out["pushed"] == {"rejected": 1}
    state, reason = dev.status("photo", theirs)
    assert state == "rejected" and reason.startswith("refused (404)")
    state, reason = dev.status("photo", gone)
    assert state == "rejected" and "cannot be read" in reason
    assert dev.status("photo", orphan) == ("rejected", "its visit was refused by the server")
    assert session.scalar(select(Photo.id).where(Photo.ticket_id == others)) is None
    dev.sync()  # refusals are not sent again
    assert {u["id"] for u in dev.unsynced() if u["state"] == "rejected"} >= {theirs, gone, orphan}


def test_over_real_http_both_ways_of_sending(base_app, app, session, tmp_path):
    """The standard-library transport against gunicorn: a photo in one request and one in chunks."""
    import pytest

    from inspections.accounts import service as accounts
    from sync.client import HttpTransport
    from tests.sync.server import gunicorn
    if base_app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL")
    w = make_world(session)
    token, _ = accounts.issue_token(session, user=w.inspector_a1)
    session.commit()
    with gunicorn(base_app.config["DATABASE_URL"], secret=base_app.config["SECRET_KEY"], var_dir=str(tmp_path),
                  workers=2, threads=2) as url:
        dev = SyncClient(str(tmp_path / "d.db"), HttpTransport(url, token), device_id="phone", sleep=lambda s: None,
                         whole_limit=20_000, chunk_size=16_384)
        vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
        small, big = photo(), noisy_jpeg(640, 480)
        assert len(small) <= 20_000 < len(big)
        ids = [dev.attach_photo(_file(tmp_path, n, d), visit_id=vid, item_code="enrolment")
               for n, d in (("s.jpg", small), ("b.jpg", big))]
        assert dev.sync()["photos"] == {"sent": 2}
    session.expire_all()
    for pid, data in zip(ids, (small, big)):
        stored = session.get(Photo, uuid.UUID(pid))
        assert stored.received_bytes == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()


def test_an_unfinished_upload_the_server_dropped_is_shown_as_such(app, client, session, tmp_path):
    dev, radio, vid = _chunking_device_with_a_visit(tmp_path, client, session)
    pid = dev.attach_photo(_file(tmp_path, "big.jpg", noisy_jpeg(640, 480)), visit_id=vid, item_code="enrolment")
    original = radio.send  # the first chunk lands, then the signal is gone for the rest

    def flaky(method, path, *, data, headers):
        if method == "PATCH" and radio.patches >= 1:
            raise TransportError("no signal")
        return original(method, path, data=data, headers=headers)
    radio.send = flaky
    assert dev.push_photos() == {"unavailable": 1}
    assert dev.status("photo", pid) == ("pending", "server unreachable; will retry")
    # Days later the server's cleanup expires the unfinished upload.
    stored = session.get(Photo, uuid.UUID(pid))
    assert 0 < stored.received_bytes < stored.size
    stored.status, stored.status_reason = "expired", "upload abandoned before it finished"
    session.commit()
    radio.send = original
    assert dev.sync()["photos"] == {"rejected": 1}
    state, reason = dev.status("photo", pid)
    assert state == "rejected" and reason == "the server dropped the unfinished upload (it expired); attach the photo again"


def test_a_file_changed_after_it_was_attached_is_refused_not_sent_forever(app, client, session, tmp_path):
    dev, _radio, vid = _chunking_device_with_a_visit(tmp_path, client, session)
    path = _file(tmp_path, "big.jpg", noisy_jpeg(640, 480))
    pid = dev.attach_photo(path, visit_id=vid, item_code="enrolment")
    with open(path, "r+b") as f:
        f.truncate(20000)  # an editing app shortened it meanwhile
    assert dev.sync()["photos"] == {"rejected": 1}
    state, reason = dev.status("photo", pid)
    assert state == "rejected" and "has 20000 of the" in reason


def test_photos_follow_an_answer_merged_into_another_devices(app, client, session, tmp_path):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    a, _ = _device(tmp_path, client, h, "a")
    b, _ = _device(tmp_path, client, h, "b")
    vid = a.create("visit", {"school_id": str(w.school_a1.id)})
    a.sync()
    b.sync()
    first = a.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 600})
    a.sync()
    mine = b.create("response", {"visit_id": vid, "item_code": "enrolment", "note": "counted at the gate"})
    pid = b.attach_photo(_file(tmp_path, "roll.jpg", photo()), response_id=mine)
    out = b.sync()
    assert out["pushed"] == {"merged": 1} and out["photos"] == {"sent": 1}
    assert str(session.get(Photo, uuid.UUID(pid)).response_id) == first  # under the answer the server kept


def test_a_rejected_edit_does_not_hold_back_the_records_photos(app, client, session, tmp_path):
    w = make_world(session)
    dev, _radio = _device(tmp_path, client, token_for(session, w.inspector_a1), "tablet")
    vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
    rid = dev.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 600})
    dev.sync()
    dev.update("response", rid, {"value": "x" * 3000})  # too long: refused, the answer stays on the server
    pid = dev.attach_photo(_file(tmp_path, "roll.jpg", photo()), response_id=rid)
    out = dev.sync()
    assert out["pushed"] == {"rejected": 1} and out["photos"] == {"sent": 1}
    assert dev.status("photo", pid) == ("synced", None)


def test_failing_photo_uploads_hold_back_only_the_steps_that_name_them(app, client, session, tmp_path):
    w = make_world(session)
    ticket = r3_ticket(app, client, session, w, w.school_a1)
    dev, radio = _device(tmp_path, client, token_for(session, w.school_user_a1), "school-tablet")
    dev.sync()
    ack = dev.ticket_step(ticket.id, "acknowledged")
    plan = dev.ticket_step(ticket.id, "in_progress", plan=[{"milestone": "招聘体育教师", "due": "2027-03-01"}])
    pid = dev.attach_photo(_file(tmp_path, "timetable.jpg", photo()), ticket_id=ticket.id)
    step = dev.ticket_step(ticket.id, "awaiting_verification", photo_ids=[pid])
    radio.photo_answer = 503  # photo storage is down; the rest of the server is fine
    out = dev.sync()
    assert out["photos"] == {"unavailable": 2} and out["pushed"] == {"applied": 2}
    assert dev.status("ticket_event", ack) == ("synced", None) and dev.status("ticket_event", plan) == ("synced", None)
    assert dev.status("ticket_event", step) == ("pending", "waiting for its photos to be sent")
    assert dev.status("photo", pid) == ("pending", "server unreachable; will retry")
    radio.photo_answer = 401  # a token problem is not the photo's fault either: kept, with the reason
    dev.sync()
    assert dev.status("photo", pid) == ("pending", "server refused the upload (401): Unauthorized")
    radio.photo_answer = None
    out = dev.sync()
    assert out["photos"] == {"sent": 1} and out["pushed"] == {"applied": 1}
    session.expire_all()
    assert session.get(Ticket, ticket.id).status.value == "awaiting_verification"
