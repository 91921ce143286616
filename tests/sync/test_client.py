"""The reference client: offline edits, states with reasons, retries, lost answers, resync."""
from __future__ import annotations

import time
import uuid

from sqlalchemy import func, select

from inspections.accounts.scope import principal_for
from inspections.visits.models import Response, Visit
from sync.client import FlaskTransport, SyncClient, SyncUnavailable, TransportError
from sync.pull import Position, decode_cursor, encode_cursor
from tests.factories import make_world, token_for


class Flaky:
    """Wraps a transport: fails the next `fail` calls before sending, or loses the answer after."""

    def __init__(self, inner):
        self.inner, self.fail_before, self.lose_after, self.calls = inner, 0, 0, 0

    def request(self, method, path, **kw):
        self.calls += 1
        if self.fail_before:
            self.fail_before -= 1
            raise TransportError("no signal")
        out = self.inner.request(method, path, **kw)
        if self.lose_after:
            self.lose_after -= 1
            raise TransportError("connection dropped before the answer arrived")
        return out


def _device(tmp_path, client, headers, name, **kw):
    transport = Flaky(FlaskTransport(client, headers))
    return SyncClient(str(tmp_path / f"{name}.db"), transport, device_id=name, sleep=lambda s: None, **kw), transport


def test_offline_edits_show_states_and_sync(client, session, tmp_path):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    dev, _ = _device(tmp_path, client, h, "tablet")
    dev.sync()
    assert {s["id"] for s in dev.all("school")} >= {str(w.school_a1.id)}
    vid = dev.create("visit", {"school_id": str(w.school_a1.id), "notes": "offline"})
    rid = dev.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 600})
    bad = dev.create("response", {"visit_id": vid, "item_code": "nope", "value": 1})
    dev.update("response", rid, {"note": "head count"})  # folded into the queued create
    assert dev.status("visit", vid)[0] == "pending"
    assert {u["id"] for u in dev.unsynced()} == {vid, rid, bad}
    out = dev.sync()
    assert out["pushed"] == {"applied": 2, "rejected": 1}
    assert dev.status("visit", vid) == ("synced", None)
    state, reason = dev.status("response", bad)
    assert state == "rejected" and "fields.item_code" in reason
    assert session.get(Response, uuid.UUID(rid)).note == "head count"
    assert dev.get("visit", vid)["status"] == "in_progress"  # the server's copy came back


def test_lost_answer_is_retried_as_duplicate_and_applied_once(client, session, tmp_path):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    dev, transport = _device(tmp_path, client, h, "tablet")
    vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
    dev.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 600})
    transport.fail_before, transport.lose_after = 2, 1  # no signal twice, then the answer is lost
    counts = dev.push()
    assert counts == {"duplicate": 2}
    assert [u for u in dev.unsynced()] == []
    assert session.scalar(select(func.count()).select_from(Visit)) == 1
    assert session.scalar(select(func.count()).select_from(Response)) == 1


def test_no_network_keeps_everything_queued(client, session, tmp_path):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    dev, transport = _device(tmp_path, client, h, "tablet", max_attempts=3)
    vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
    transport.fail_before = 99
    try:
        dev.sync()
        raise AssertionError("expected SyncUnavailable")
    except SyncUnavailable:
        pass
    assert transport.calls == 3
    assert dev.status("visit", vid) == ("pending", "server unreachable; will retry")
    transport.fail_before = 0
    dev.sync()
    assert dev.status("visit", vid) == ("synced", None)


def test_two_devices_same_field_conflict_then_resolution_reaches_both(client, session, tmp_path):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    a, _ = _device(tmp_path, client, h, "A")
    b, _ = _device(tmp_path, client, h, "B")
    vid = a.create("visit", {"school_id": str(w.school_a1.id)})
    rid = a.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 600})
    a.sync()
    b.sync()
    a.update("response", rid, {"value": 610})
    b.update("response", rid, {"value": 620, "flagged": True})
    a.sync()
    b.sync()
    state, reason = b.status("response", rid)
    assert state == "conflict" and "server has 610, you had 620" in reason
    assert b.get("response", rid)["flagged"] is True  # the uncontested field merged
    conflicts = client.get("/api/v1/sync/conflicts", headers=h).get_json()["items"]
    r = client.post("/api/v1/sync/conflicts/resolve", json={"conflict_id": conflicts[0]["id"], "take": "client"}, headers=h)
    assert r.status_code == 200
    a.sync()
    b.sync()
    for dev in (a, b):
        assert dev.get("response", rid)["value"] == 620 and dev.status("response", rid) == ("synced", None)


def test_device_offline_for_a_week_then_syncs(app, client, session, tmp_path):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    office = token_for(session, w.office_a1)
    dev, _ = _device(tmp_path, client, h, "tablet")
    vid = dev.create("visit", {"school_id": str(w.school_a1.id), "notes": "planned"})
    dev.sync()
    # The stored cursor was issued a week ago.
    secret = app.config["SECRET_KEY"]
    scope = principal_for(session, w.inspector_a1).scope_tag()
    pos = decode_cursor(dev._meta("cursor"), secret=secret, max_age_days=30, scope=scope)
    dev._set_meta("cursor", encode_cursor(pos, secret=secret, now=time.time() - 7 * 86400, scope=scope))
    # Meanwhile the office re-plans the visit; the device edits other fields offline.
    client.patch(f"/api/v1/visits/{vid}", json={"planned_for": "2027-05-01"}, headers=office)
    dev.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 600})
    dev.update("visit", vid, {"notes": "done on site"})
    out = dev.sync()
    assert out["pushed"] == {"applied": 1, "merged": 1}
    v = dev.get("visit", vid)
    assert v["planned_for"] == "2027-05-01" and v["notes"] == "done on site"


def test_unknown_cursor_resyncs_from_scratch_keeping_the_outbox(app, client, session, tmp_path):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    dev, _ = _device(tmp_path, client, h, "tablet")
    dev.sync()
    dev._set_meta("cursor", encode_cursor(Position(10**9, 0), secret=app.config["SECRET_KEY"]))
    vid = dev.create("visit", {"school_id": str(w.school_a1.id)})
    dev.pull()  # 410 -> full snapshot; the unsent visit stays
    assert dev.status("visit", vid)[0] == "pending"
    assert str(w.school_a1.id) in {s["id"] for s in dev.all("school")}
    dev.sync()
    assert dev.status("visit", vid) == ("synced", None)


def test_school_device_answers_its_ticket_offline(app, client, session, tmp_path):
    from inspections.tickets.models import Ticket
    from tests.sync.helpers import r3_ticket
    w = make_world(session)
    ticket = r3_ticket(app, client, session, w, w.school_a1)
    dev, transport = _device(tmp_path, client, token_for(session, w.school_user_a1), "school-tablet")
    dev.sync()
    assert dev.get("ticket", str(ticket.id))["status"] == "open"
    # Offline: acknowledge, then an illegal jump, then the plan.
    transport.fail_before = 10
    ok = dev.ticket_step(ticket.id, "acknowledged", note="收到")
    bad = dev.ticket_step(ticket.id, "closed")
    plan = dev.ticket_step(ticket.id, "in_progress", plan=[{"milestone": "招聘体育教师", "due": "2027-03-01"}])
    assert [dev.status("ticket_event", i)[0] for i in (ok, bad, plan)] == ["pending"] * 3
    transport.fail_before = 0
    dev.sync()
    assert dev.status("ticket_event", ok) == ("synced", None)
    assert dev.status("ticket_event", plan) == ("synced", None)
    state, reason = dev.status("ticket_event", bad)
    assert state == "rejected" and "cannot become closed" in reason
    assert dev.get("ticket", str(ticket.id))["status"] == "in_progress"  # pulled back after the push
    session.expire_all()
    assert session.get(Ticket, ticket.id).status.value == "in_progress"
