"""A pull page as the API writes it: on PostgreSQL each change's JSON is built by the database
(`sync.pull.wire_json`); it must say exactly what the portable path (`change_out`, dumped by orjson)
says, for every page size from every cursor. And the page needs no schema dump: PullOut leaves it as is."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text

from inspections.accounts.scope import principal_for
from schemas.sync import PullOut
from server.jsonio import OrjsonProvider
from sync.pull import pull
from tests.factories import make_world, token_for
from tests.sync.helpers import mutation, push

SECRET = "test-secret"


def _world_with_changes(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    school = str(w.school_a1.id)
    kept, dropped = str(uuid.uuid4()), str(uuid.uuid4())
    muts = [mutation("visit", "create", id=kept, school_id=school, notes='引号 "quoted" \\ back\nslash'),
            mutation("visit", "create", id=dropped, school_id=school)]
    for i, (code, value) in enumerate([("enrolment", 640), ("sports_area_m2", 4.5), ("teaching_aux_area_m2", 1.0),
                                       ("has_charter", True), ("pe_art_teachers", 0)]):
        muts.append(mutation("response", "create", visit_id=kept, item_code=code, value=value,
                             note=None if i % 2 else f"备注 {i} ✓", flagged=bool(i % 2)))
    results = push(client, h, *muts)
    assert {r["status"] for r in results} == {"applied"}, results
    # a second version of the visit, and a tombstone
    assert push(client, h, mutation("visit", "update", id=kept, base_version=1, notes="edited"))[0]["status"] in ("applied", "merged")
    assert push(client, h, mutation("visit", "delete", id=dropped, base_version=1))[0]["status"] == "applied"
    return w


def _pages(session, principal, *, limit: int, wire: bool, start=None) -> list[tuple]:
    """(the page as JSON text the API writes, its cursor) for every page from `start`."""
    out, cursor = [], start
    dumps = OrjsonProvider.__new__(OrjsonProvider)
    dumps.sort_keys = True
    while True:
        page = pull(session, principal, cursor=cursor, limit=limit, secret=SECRET, max_age_days=30, wire=wire)
        out.append((dumps.dumps(page, separators=(",", ":")), page["cursor"]))
        cursor = page["cursor"]
        if not page["has_more"]:
            return out
        session.rollback()


def _without_cursor_time(body: dict) -> dict:
    # A cursor carries the second it was issued: compare what it points at, not when.
    from sync.pull import decode_cursor
    pos = decode_cursor(body["cursor"], secret=SECRET, max_age_days=30, scope=body.pop("_scope"))
    return {**{k: v for k, v in body.items() if k != "cursor"}, "position": (pos.commit_seq, pos.seq)}


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 1000])
def test_the_page_built_by_the_database_says_what_the_portable_page_says(client, session, limit):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the page is built by the database on PostgreSQL only")
    w = _world_with_changes(client, session)
    # a change written on a whole second: isoformat leaves out its microseconds
    session.execute(text("UPDATE sync_changes SET changed_at = date_trunc('second', changed_at) "
                         "WHERE seq = (SELECT max(seq) FROM sync_changes WHERE entity = 'response')"))
    session.commit()
    for user in (w.inspector_a1, w.admin):
        p = principal_for(session, user)
        scope = p.scope_tag()
        portable = _pages(session, p, limit=limit, wire=False)
        assert sum(len(json.loads(b)["changes"]) for b, _ in portable) >= 10
        # from the start, and from every cursor the portable path handed out
        for start in [None] + [c for _, c in portable]:
            a = _pages(session, p, limit=limit, wire=False, start=start)
            b = _pages(session, p, limit=limit, wire=True, start=start)
            assert len(a) == len(b)
            for (x, _), (y, _) in zip(a, b):
                assert _without_cursor_time({**json.loads(x), "_scope": scope}) == \
                    _without_cursor_time({**json.loads(y), "_scope": scope})
        kinds = {(c["entity"], c["op"]) for body, _ in portable for c in json.loads(body)["changes"]}
        assert {("visit", "upsert"), ("visit", "delete"), ("response", "upsert")} <= kinds


def test_the_schema_dump_leaves_a_page_unchanged(client, session):
    w = _world_with_changes(client, session)
    p = principal_for(session, w.inspector_a1)
    page = pull(session, p, cursor=None, limit=1000, secret=SECRET, max_age_days=30)
    assert page["changes"] and page["evidence"]
    assert PullOut().dump(page) == page


def test_the_api_writes_the_page_the_schema_would(client, session):
    w = _world_with_changes(client, session)
    h = token_for(session, w.inspector_a1)
    body = client.get("/api/v1/sync/pull", query_string={"limit": 1000}, headers=h).get_json()
    p = principal_for(session, w.inspector_a1)
    page = json.loads(json.dumps(PullOut().dump(pull(session, p, cursor=None, limit=1000, secret="x",
                                                     max_age_days=30))))
    body.pop("cursor"), page.pop("cursor")
    assert body == page
