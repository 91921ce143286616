"""A body that is not JSON, sent to a view that reads JSON, is a 415 saying what to send (RFC 9110
15.5.16), never the body ignored and every field reported missing. Every JSON operation of the API
document is tried."""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select

from inspections.audit.models import AuditRecord
from tests.factories import make_world, token_for

BODIES = {
    "text/plain": b'{"device_id": "d", "mutations": []}',
    "application/x-www-form-urlencoded": b"device_id=d&school_id=x",
    "multipart/form-data; boundary=b": b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
    None: b'{"a": 1}',
}


def _json_operations(client):
    spec = client.get("/api/v1/openapi.json").json
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue  # the path's parameters
            content = (op.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                yield method.upper(), re.sub(r"\{[^}]+\}", lambda _m: str(uuid.uuid4()), path)


def test_every_json_operation_refuses_a_body_of_another_type_with_a_415(client, session):
    w = make_world(session)
    h = token_for(session, w.admin)
    ops = list(_json_operations(client))
    assert len(ops) > 20  # the document lists the API's JSON operations
    audits = session.scalar(select(func.count()).select_from(AuditRecord))
    checked = 0
    for method, path in ops:
        for ctype, body in BODIES.items():
            headers = {**h, **({"Content-Type": ctype} if ctype else {})}
            r = client.open(path, method=method, data=body, headers=headers)
            assert r.content_type == "application/problem+json"
            if r.status_code == 422:  # a required query argument is missing: it is read first
                assert all(k.startswith("query.") for k in r.json["errors"]), (method, path, r.json)
                continue
            assert r.status_code == 415, (method, path, ctype, r.status_code, r.get_json())
            assert "application/json" in r.json["detail"]
            checked += 1
    assert checked >= 4 * (len(ops) - 3)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AuditRecord)) == audits


@pytest.mark.parametrize("path,method", [("/api/v1/sync/push", "POST"), ("/api/v1/visits", "POST")])
def test_no_body_at_all_still_names_the_missing_fields(client, session, path, method):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    r = client.open(path, method=method, headers=h)
    assert r.status_code == 422 and r.json["errors"], r.json
