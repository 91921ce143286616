"""Inputs the sync model found, each kept as a deterministic test (tests/sync/test_model.py)."""
from __future__ import annotations

from tests.factories import make_world, token_for
from tests.sync.helpers import mutation, push
from tests.sync.test_client import _device


def test_note_on_a_visit_another_device_deleted_is_shown(client, session, tmp_path):
    """Device A deletes a planned visit while B, offline, wrote a note on it: after both sync, B's note is
    held in a conflict or shown as refused with a reason, never silently dropped."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    out = push(client, h, mutation("visit", "create", school_id=str(w.school_a1.id)), device_id="planner")
    vid = out[0]["id"]
    a, _ = _device(tmp_path, client, h, "a")
    b, _ = _device(tmp_path, client, h, "b")
    a.sync(), b.sync()
    b.update("visit", vid, {"notes": "随访"})
    a.delete("visit", vid)
    a.sync()
    b.sync()
    a.sync(), b.sync()  # a second round changes nothing
    state, reason = b.status("visit", vid)
    assert state == "rejected" and "deleted" in reason
    assert b.get("visit", vid)["notes"] == "随访"  # the copy is kept, as the refusal says
    assert vid in {u["id"] for u in b.unsynced()}
    b.acknowledge("visit", vid)  # seen: the visit leaves the device like the server's copy
    assert b.status("visit", vid)[0] == "unknown" and b.get("visit", vid) is None


def test_an_answer_to_a_visit_submitted_meanwhile_is_shown_refused(client, session, tmp_path):
    """B answers an item offline that A had answered differently; A submits first. B's answer is refused
    (the visit is frozen) and stays on B, refused with the reason, beside A's answer that pull brings."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    out = push(client, h, mutation("visit", "create", school_id=str(w.school_a1.id)), device_id="planner")
    vid = out[0]["id"]
    a, _ = _device(tmp_path, client, h, "a")
    b, _ = _device(tmp_path, client, h, "b")
    a.sync(), b.sync()
    a.create("response", {"visit_id": vid, "item_code": "multimedia_classrooms", "value": 1.0})
    mine = b.create("response", {"visit_id": vid, "item_code": "multimedia_classrooms", "value": 3.5})
    a.update("visit", vid, {"status": "submitted"})
    a.sync()
    b.sync()
    b.sync()
    state, reason = b.status("response", mine)
    assert state == "rejected" and "frozen" in reason
    assert b.get("response", mine)["value"] == 3.5
    values = sorted(r["value"] for r in b.all("response") if r["visit_id"] == vid)
    assert values == [1.0, 3.5]  # the server's answer beside the refused one


def _answered_by_both(client, session, tmp_path):
    """A answers enrolment 600 and syncs; B, which never saw it, answers 650 and its push's answer is lost
    (the server merged B's answer into A's as a conflict)."""
    import pytest as _pytest
    from sync.client import SyncUnavailable
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    a, _ = _device(tmp_path, client, h, "a")
    b, tb = _device(tmp_path, client, h, "b", max_attempts=1)
    a.sync()
    vid = a.create("visit", {"school_id": str(w.school_a1.id)})
    a.sync(), b.sync()
    ra = a.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 600})
    a.sync()
    rb = b.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 650})
    tb.lose_after = 1
    with _pytest.raises(SyncUnavailable):
        b.sync()
    return a, b, ra, rb


def test_a_delete_after_a_lost_answer_never_deletes_what_the_user_did_not_see(client, session, tmp_path):
    """Found by the break-it pass: B deleted its own draft; re-keyed onto A's answer with the base the lost
    answer gave, the delete removed A's 600 and A's device dropped it without a word."""
    import uuid as _uuid
    from inspections.visits.models import Response
    a, b, ra, rb = _answered_by_both(client, session, tmp_path)
    b.delete("response", rb)
    b.sync(), a.sync()
    session.expire_all()
    assert session.get(Response, _uuid.UUID(ra)).value == 600
    assert a.get("response", ra)["value"] == 600
    assert b.status("response", ra)[0] == "conflict"  # B is shown the answer it did not know of


def test_an_edit_after_a_lost_answer_is_a_conflict_not_an_overwrite(client, session, tmp_path):
    import uuid as _uuid
    from inspections.visits.models import Response
    a, b, ra, rb = _answered_by_both(client, session, tmp_path)
    b.update("response", rb, {"value": 655})
    b.sync(), a.sync()
    session.expire_all()
    assert session.get(Response, _uuid.UUID(ra)).value == 600
    state, reason = b.status("response", ra)
    assert state == "conflict" and "655" in reason


def test_a_school_moved_into_an_office_brings_its_history(client, session, tmp_path):
    """Found by the break-it pass: the office's device got the school but none of its visits (its cursor
    was past them), and no 410 came to make it catch up."""
    import uuid as _uuid
    from inspections.accounts.enums import Role
    from inspections.org import service as org
    from tests.factories import make_user
    w = make_world(session)
    vid = str(_uuid.uuid4())
    push(client, token_for(session, w.inspector_a1),
         mutation("visit", "create", id=vid, school_id=str(w.school_a1b.id), notes="older"))
    office_a2 = make_user(session, Role.office, jurisdiction=w.county_a2)
    session.commit()
    h = token_for(session, office_a2)
    dev, _ = _device(tmp_path, client, h, "office-a2")
    dev.sync()
    assert dev.get("visit", vid) is None
    org.update_school(session, w.school_a1b, county=w.county_a2)
    session.commit()
    dev.sync()
    fresh, _ = _device(tmp_path, client, h, "fresh")
    fresh.sync()
    assert dev.get("visit", vid) is not None
    assert {v["id"] for v in dev.all("visit")} == {v["id"] for v in fresh.all("visit")}
