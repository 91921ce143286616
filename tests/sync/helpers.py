"""Helpers for sync tests: push/pull through the API and read the change log."""
from __future__ import annotations

import uuid

PUSH, PULL = "/api/v1/sync/push", "/api/v1/sync/pull"


def mutation(entity: str, op: str, id=None, base_version=None, **fields) -> dict:
    return {"mutation_id": str(uuid.uuid4()), "entity": entity, "id": str(id or uuid.uuid4()), "op": op,
            "base_version": base_version, "fields": fields}


def push(client, headers, *mutations, device_id="device-1"):
    r = client.post(PUSH, json={"device_id": device_id, "mutations": list(mutations)}, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["results"]


def pull_all(client, headers, cursor=None, limit=500):
    """Every page from a cursor: (changes, final cursor)."""
    changes = []
    while True:
        r = client.get(PULL, query_string={k: v for k, v in {"cursor": cursor, "limit": limit}.items() if v},
                       headers=headers)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        changes += body["changes"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return changes, cursor


def new_visit(client, headers, school_id, device_id="device-1", **fields):
    """Create a visit through push; returns its result."""
    (res,) = push(client, headers, mutation("visit", "create", school_id=str(school_id), **fields), device_id=device_id)
    assert res["status"] == "applied", res
    return res


def r3_ticket(app, client, session, world, school):
    """A school short of PE/art teachers after a submitted, scored visit: its open R3 ticket."""
    from sqlalchemy import select

    from inspections.tickets.models import Ticket
    from tests.factories import GOOD_PRIMARY, run_jobs, submit_visit, token_for
    submit_visit(client, token_for(session, world.inspector_a1), school.id, {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    return session.scalar(select(Ticket).where(Ticket.school_id == school.id, Ticket.item_code == "R3"))
