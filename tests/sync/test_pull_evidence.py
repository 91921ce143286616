"""Sync pull tells a device which photo evidence each visit still lacks."""
from __future__ import annotations

import hashlib

from tests.factories import make_world, token_for
from tests.inspections.photos.images import photo
from tests.sync.helpers import PULL, new_visit, pull_all

CHUNK = "application/offset+octet-stream"


def _declare(client, h, visit_id, data):
    body = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": "image/jpeg",
            "visit_id": visit_id, "item_code": "sports_area_m2"}
    r = client.post("/api/v1/photos/uploads", json=body, headers=h)
    assert r.status_code == 201, r.json
    return r.json["id"]


def _last_evidence(client, h, cursor):
    r = client.get(PULL, query_string={"cursor": cursor, "limit": 500}, headers=h)
    assert r.status_code == 200, r.json
    return r.json["evidence"], r.json["cursor"]


def test_pull_shows_missing_evidence_until_the_photo_is_processed(app, client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    _, cursor = pull_all(client, h)
    v = new_visit(client, h, w.school_a1.id)
    assert client.patch(f"/api/v1/visits/{v['id']}", json={"status": "in_progress"}, headers=h).status_code == 200
    data = photo(640, 480)
    pid = _declare(client, h, v["id"], data)
    ev, cursor = _last_evidence(client, h, cursor)
    assert ev[v["id"]]["complete"] is False
    mine = [m for m in ev[v["id"]]["missing"] if m["photo_id"] == pid]
    assert len(mine) == 1 and "upload not finished" in mine[0]["reason"]
    # The bytes arrive and the processing job passes them: the next page says the visit is complete.
    done = client.patch(f"/api/v1/photos/uploads/{pid}", data=data,
                        headers={**h, "Upload-Offset": "0", "Content-Type": CHUNK, "Upload-Complete": "?1"})
    assert done.status_code == 200, done.json
    from inspections.photos.tasks import process_photo
    from server.api.photos import processing_settings
    assert process_photo(pid, **processing_settings(app)) == "processed"
    ev, cursor = _last_evidence(client, h, cursor)
    assert not [m for m in ev[v["id"]]["missing"] if m["photo_id"] == pid]
    assert ev[v["id"]]["photos"] == 1
    # The same answer as the evidence endpoint: items still lacking a photo stay listed.
    api = client.get(f"/api/v1/visits/{v['id']}/evidence", headers=h).json
    assert ev[v["id"]]["complete"] == api["complete"]
    assert sorted(m["item_code"] for m in ev[v["id"]]["missing"]) == sorted(m["item_code"] for m in api["missing"])
    assert "sports_area_m2" not in {m["item_code"] for m in ev[v["id"]]["missing"]}
    # Nothing changed since: no evidence entries on an empty page.
    ev, _ = _last_evidence(client, h, cursor)
    assert ev == {}


def test_pull_evidence_is_scoped_like_the_changes(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = new_visit(client, h, w.school_a1.id)
    _declare(client, h, v["id"], photo(320, 240))
    # An office of another city pulls: neither the visit's changes nor its evidence reach it.
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    other = make_user(session, Role.office, jurisdiction=w.county_b1)
    session.commit()
    r = client.get(PULL, query_string={"limit": 1000}, headers=token_for(session, other))
    assert v["id"] not in r.json["evidence"]
    assert all(c["id"] != v["id"] for c in r.json["changes"])
