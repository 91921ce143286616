"""An inspector whose office takes a school from it (its assignment removed) no longer changes that school's
visits, by any way in, though it stays on them and still reads them: the rule it was put on them by (the
inspectors on a visit cover its school) holds for as long as it writes. Found by a break-it pass: after the
assignment was removed, PATCH, a push's answers and photos still went through."""
from __future__ import annotations

import hashlib
import uuid

import pytest
from sqlalchemy import func, select

from inspections.photos.models import Photo
from inspections.visits.models import Response

from tests.factories import make_world, token_for
from tests.inspections.photos.images import photo
from tests.sync.helpers import mutation, push


@pytest.fixture
def world(client, session):
    w = make_world(session)
    w.h = token_for(session, w.inspector_assigned)  # covers school A2 by its assignment only
    w.h_office = token_for(session, w.office_a)  # the city office above county A2
    vid = push(client, w.h, mutation("visit", "create", school_id=str(w.school_a2.id)), device_id="P")[0]["id"]
    a, b = push(client, w.h, mutation("response", "create", visit_id=vid, item_code="enrolment", value=600),
                mutation("response", "create", visit_id=vid, item_code="has_charter", value=True), device_id="P")
    assert {a["status"], b["status"]} == {"applied"}, (a, b)
    w.vid, w.answers = vid, (a, b)
    r = client.patch(f"/api/v1/users/{w.inspector_assigned.id}", json={"assigned_school_ids": [str(w.school_a1b.id)]},
                     headers=w.h_office)  # moved to another school
    assert r.status_code == 200, r.get_json()
    return w


def test_no_write_goes_through_once_the_school_is_taken_away(client, session, world):
    w, vid = world, world.vid
    (a, b) = w.answers
    # A push of updates (the set-based path), of a create and of a visit edit: each refused, coded.
    results = push(client, w.h, mutation("response", "update", id=a["id"], base_version=a["version"], value=610),
                   mutation("response", "update", id=b["id"], base_version=b["version"], value=False), device_id="P")
    assert [(r["status"], r["code"]) for r in results] == [("rejected", "visit.school_not_covered")] * 2, results
    (c,) = push(client, w.h, mutation("response", "create", visit_id=vid, item_code="pe_art_teachers", value=4),
                device_id="P")
    assert (c["status"], c["code"]) == ("rejected", "visit.school_not_covered"), c
    version = client.get(f"/api/v1/visits/{vid}", headers=w.h).get_json()["version"]  # still read
    (e,) = push(client, w.h, mutation("visit", "update", id=vid, base_version=version, notes="late"), device_id="P")
    assert (e["status"], e["code"]) == ("rejected", "visit.school_not_covered"), e
    # The REST API: the visit, its answers, a photo for it.
    r = client.patch(f"/api/v1/visits/{vid}", json={"notes": "late"}, headers=w.h)
    assert r.status_code == 403 and r.get_json()["code"] == "visit.school_not_covered", r.get_json()
    r = client.put(f"/api/v1/visits/{vid}/responses", json={"answers": [{"item_code": "enrolment", "value": 620}]},
                   headers=w.h)
    assert r.status_code == 403, r.get_json()
    data = photo(320, 240)
    r = client.post("/api/v1/photos/uploads", headers=w.h, json={
        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": "image/jpeg",
        "visit_id": vid, "item_code": "sports_area_m2"})
    assert r.status_code == 403, r.get_json()
    # Nothing of it was written; the office still changes the visit.
    session.expire_all()
    stored = session.scalars(select(Response).where(Response.visit_id == uuid.UUID(vid))).all()
    assert {x.item_code: x.value for x in stored} == {"enrolment": 600, "has_charter": True}
    assert session.scalar(select(func.count()).select_from(Photo).where(Photo.visit_id == uuid.UUID(vid))) == 0
    r = client.patch(f"/api/v1/visits/{vid}", json={"notes": "finished by the office"}, headers=w.h_office)
    assert r.status_code == 200, r.get_json()


def test_given_the_school_back_the_inspector_writes_again(client, session, world):
    w = world
    (a, _) = w.answers
    r = client.patch(f"/api/v1/users/{w.inspector_assigned.id}", json={"assigned_school_ids": [str(w.school_a2.id)]},
                     headers=w.h_office)
    assert r.status_code == 200, r.get_json()
    (res,) = push(client, w.h, mutation("response", "update", id=a["id"], base_version=a["version"], value=610),
                  device_id="P")
    assert res["status"] == "applied", res


def test_an_upload_declared_before_the_school_was_taken_away_is_not_finished(client, app, session):
    """Found by a break-it pass: the declaration was refused once coverage ended, but an upload declared before
    still took its bytes and was finalized onto the visit. Its chunks and finalize meet the same rule."""
    w = make_world(session)
    h, h_office = token_for(session, w.inspector_assigned), token_for(session, w.office_a)
    vid = push(client, h, mutation("visit", "create", school_id=str(w.school_a2.id)), device_id="P")[0]["id"]
    data = photo(320, 240)
    r = client.post("/api/v1/photos/uploads", headers=h, json={
        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": "image/jpeg",
        "visit_id": vid, "item_code": "sports_area_m2"})
    assert r.status_code == 201, r.get_json()
    uid = r.get_json()["id"]
    half = len(data) // 2
    chunk = {"Content-Type": "application/offset+octet-stream"}
    assert client.patch(f"/api/v1/photos/uploads/{uid}", data=data[:half],
                        headers={**h, **chunk, "Upload-Offset": "0"}).status_code == 204
    assert client.patch(f"/api/v1/users/{w.inspector_assigned.id}", json={"assigned_school_ids": [str(w.school_a1b.id)]},
                        headers=h_office).status_code == 200
    r = client.patch(f"/api/v1/photos/uploads/{uid}", data=data[half:],
                     headers={**h, **chunk, "Upload-Offset": str(half), "Upload-Complete": "?1"})
    assert r.status_code == 403 and r.get_json()["code"] == "visit.school_not_covered", r.get_json()
    r = client.post(f"/api/v1/photos/uploads/{uid}/finalize", headers=h)
    assert r.status_code == 403, r.get_json()
    session.expire_all()
    assert session.get(Photo, uuid.UUID(uid)).status == "uploading"
    assert client.delete(f"/api/v1/photos/uploads/{uid}", headers=h).status_code == 204  # withdrawing it is fine
