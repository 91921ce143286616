"""Lists an office reads for what is new: conflicts and visits come newest first, as their docs say, in a
stable order (ties on the time broken by id) that pages without losing or repeating a row."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from inspections.visits.models import Visit
from sync.models import Conflict
from tests.factories import GOOD_PRIMARY, make_world, token_for
from tests.sync.helpers import mutation, new_visit, push

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)


def _pages(client, path, headers, limit, **query):
    ids, cursor = [], None
    while True:
        body = client.get(path, query_string=query | {"limit": limit} | ({"cursor": cursor} if cursor else {}),
                          headers=headers).get_json()
        ids += [row["id"] for row in body["items"]]
        cursor = body.get("next_cursor")
        if not cursor:
            return ids


def _expected(rows):
    """Newest first, then the higher id first (the order the list promises)."""
    return [str(r.id) for r in sorted(rows, key=lambda r: (r.created_at, str(r.id)), reverse=True)]


def test_conflicts_are_listed_newest_first_and_page_in_that_order(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    v = new_visit(client, h, w.school_a1.id)
    cids = []
    for item, value in list(GOOD_PRIMARY.items())[:5]:
        rid = str(uuid.uuid4())
        push(client, h, mutation("response", "create", id=rid, visit_id=v["id"], item_code=item, value=value))
        push(client, h, mutation("response", "update", id=rid, base_version=1, value=value + 1), device_id="A")
        (c,) = push(client, h, mutation("response", "update", id=rid, base_version=1, value=value + 2), device_id="B")
        assert c["status"] == "conflict", c
        cids.append(uuid.UUID(c["conflict"]["id"]))
    # Made in this order, the first the oldest; the 2nd and 3rd at the same instant (a tie the id breaks).
    rows = [session.get(Conflict, cid) for cid in cids]
    for row, minutes in zip(rows, (0, 5, 5, 9, 12)):
        row.created_at = T0 + timedelta(minutes=minutes)
    session.commit()
    want = _expected(rows)
    assert want[0] == str(cids[4]) and want[-1] == str(cids[0])
    for limit in (500, 2, 1):
        assert _pages(client, "/api/v1/sync/conflicts", h, limit) == want, limit


def test_visits_are_listed_newest_first_and_page_in_that_order(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    vids = [uuid.UUID(new_visit(client, h, w.school_a1.id)["id"]) for _ in range(4)]
    rows = session.scalars(select(Visit).where(Visit.id.in_(vids))).all()
    by_id = {r.id: r for r in rows}
    for vid, minutes in zip(vids, (0, 3, 3, 7)):
        by_id[vid].created_at = T0 + timedelta(minutes=minutes)
    session.commit()
    want = _expected(rows)
    assert want[0] == str(vids[3]) and want[-1] == str(vids[0])
    for limit in (500, 3, 1):
        assert _pages(client, "/api/v1/visits", h, limit, school_id=str(w.school_a1.id)) == want, limit
