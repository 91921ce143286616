"""When what an account may see shrinks, its devices' cursors are refused (410) and the resync drops
what left its scope: the change log is filtered by the current scope, so no delete would ever come."""
from __future__ import annotations

import uuid

from inspections.accounts import service as accounts
from inspections.org import service as org
from inspections.visits.models import Visit
from tests.factories import make_world, token_for
from tests.sync.test_client import _device

PULL = "/api/v1/sync/pull"


def _pull(client, headers, cursor):
    return client.get(PULL, query_string={"cursor": cursor, "limit": 500}, headers=headers)


def _school_ids(dev) -> set[str]:
    return {s["id"] for s in dev.all("school")}


def test_unassigned_school_leaves_the_device(client, session, tmp_path):
    w = make_world(session)
    h = token_for(session, w.inspector_assigned)  # sees school a2 only through its assignment
    dev, _ = _device(tmp_path, client, h, "tablet")
    dev.sync()
    assert _school_ids(dev) == {str(w.school_a2.id)}
    cursor = dev._meta("cursor")
    assert _pull(client, h, cursor).status_code == 200  # nothing changed: the cursor holds
    accounts.set_assignments(session, user=w.inspector_assigned, school_ids=[w.school_b1.id])
    session.commit()
    r = _pull(client, h, cursor)
    assert r.status_code == 410 and "changed" in r.json["detail"]
    dev.sync()  # 410 -> the synced cache is dropped and pulled again
    assert _school_ids(dev) == {str(w.school_b1.id)}


def test_taken_off_a_visit_outside_ones_area(client, session, tmp_path):
    w = make_world(session)
    office = token_for(session, w.office_a)
    h = token_for(session, w.inspector_assigned)
    # The office puts the assigned inspector on a visit at school a1 while it covers a1 (a visit takes only
    # inspectors who cover the school); the assignment to a1 then ends, the visit stays: outside its area.
    accounts.set_assignments(session, user=w.inspector_assigned, school_ids=[w.school_a2.id, w.school_a1.id])
    session.commit()
    v = client.post("/api/v1/visits", json={"school_id": str(w.school_a1.id),
                                            "inspector_ids": [str(w.inspector_assigned.id)]}, headers=office).json
    accounts.set_assignments(session, user=w.inspector_assigned, school_ids=[w.school_a2.id])
    session.commit()
    dev, _ = _device(tmp_path, client, h, "tablet")
    dev.sync()
    assert dev.get("visit", v["id"]) is not None
    cursor = dev._meta("cursor")
    r = client.patch(f"/api/v1/visits/{v['id']}", json={"inspector_ids": [str(w.inspector_a1.id)]}, headers=office)
    assert r.status_code == 200, r.json
    assert _pull(client, h, cursor).status_code == 410
    dev.sync()
    assert dev.get("visit", v["id"]) is None
    # The inspector who stayed on it (and anyone else) keeps a valid cursor.
    h1 = token_for(session, w.inspector_a1)
    first = _pull(client, h1, None).json
    assert session.get(Visit, uuid.UUID(v["id"])) is not None
    assert _pull(client, h1, first["cursor"]).status_code == 200


def test_school_moved_away_from_an_office(client, session, tmp_path):
    w = make_world(session)
    h_county, h_city_b = token_for(session, w.office_a1), token_for(session, w.office_a)
    dev, _ = _device(tmp_path, client, h_county, "office-a1")
    dev.sync()
    assert str(w.school_a1b.id) in _school_ids(dev)
    cursor = dev._meta("cursor")
    city_cursor = _pull(client, h_city_b, None).json["cursor"]
    # Within city A: the county office loses it, the city office does not.
    org.update_school(session, w.school_a1b, county=w.county_a2)
    session.commit()
    assert _pull(client, h_county, cursor).status_code == 410
    assert _pull(client, h_city_b, city_cursor).status_code == 200
    dev.sync()
    assert str(w.school_a1b.id) not in _school_ids(dev) and str(w.school_a1.id) in _school_ids(dev)
