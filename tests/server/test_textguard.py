"""NUL characters (which PostgreSQL cannot store) are refused with a 422 naming the field, anywhere."""
from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from inspections.visits.models import Visit
from schemas.text import bad_text_paths, has_bad_text
from schemas.text import TEXT_MESSAGE
from server.textguard import body_bad_text
from tests.factories import make_world, token_for

TEXT = st.text(alphabet=st.sampled_from(["a", "\\", "u", "0", "d", "8", "\x00", '"', "中", "😀", "\ud800", "\udc00"]),
               max_size=12)
JSON = st.recursive(st.none() | st.integers() | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)


def _unstorable(value) -> bool:
    """The oracle, written differently: any NUL or any code point in the surrogate range."""
    if isinstance(value, str):
        return any(c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


@settings(max_examples=600, deadline=None)
@given(value=JSON, ascii_only=st.booleans())
def test_the_body_scan_finds_exactly_the_bodies_with_unstorable_text(value, ascii_only):
    try:
        raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    except UnicodeEncodeError:
        raw = json.dumps(value, ensure_ascii=True).encode()  # a lone surrogate has no UTF-8: as a device sends it
    received = json.loads(raw)  # what the server reads: an escaped surrogate pair is one character again
    assert bool(body_bad_text(raw)) == _unstorable(received) == has_bad_text(received) == bool(bad_text_paths(received))


def test_api_bodies_queries_and_headers(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    before = session.scalar(select(func.count()).select_from(Visit))
    r = client.post("/api/v1/visits", json={"school_id": str(w.school_a1.id), "notes": "门卫\x00处"}, headers=h)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert r.json["errors"] == {"notes": [TEXT_MESSAGE]}
    assert session.scalar(select(func.count()).select_from(Visit)) == before
    # The six characters \u0000 as text (an escaped backslash) are fine.
    r = client.post("/api/v1/visits", json={"school_id": str(w.school_a1.id), "notes": "\\u0000"}, headers=h)
    assert r.status_code == 201 and r.json["notes"] == "\\u0000"
    # An unpaired surrogate is no character: refused too, even before signing in; a proper pair is fine.
    r = client.post("/api/v1/auth/token", data='{"username": "\\ud800", "password": "x"}',
                    content_type="application/json")
    assert r.status_code == 422 and list(r.json["errors"]) == ["username"]
    r = client.post("/api/v1/visits", data='{"school_id": "%s", "notes": "\\ud83d\\ude00"}' % w.school_a1.id,
                    content_type="application/json", headers=h)
    assert r.status_code == 201 and r.json["notes"] == "😀"
    assert client.get("/api/v1/jobs/%00", headers=h).status_code == 404
    r = client.get("/api/v1/tickets?item_code=R%00", headers=h)
    assert r.status_code == 422 and list(r.json["errors"]) == ["query.item_code"]
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                    {"sha256": "0" * 64, "size": "3", "content_type": "image/jpeg", "visit_id": str(w.school_a1.id),
                     "item_code": "a\x00"}.items())
    r = client.post("/api/v1/photos/uploads/whole", data=b"abc", headers={
        **h, "Content-Type": "application/offset+octet-stream", "Upload-Metadata": meta})
    assert r.status_code == 422 and "headers.Upload-Metadata.item_code" in r.json["errors"]


def test_a_push_rejects_only_the_mutation_with_a_nul(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    good = {"mutation_id": "m1", "entity": "visit", "op": "create", "id": "6f1c5e0a-3b2d-4c8e-9f7a-1d2e3f4a5b6c",
            "fields": {"school_id": str(w.school_a1.id), "notes": "ok"}}
    bad = {"mutation_id": "m2", "entity": "visit", "op": "create", "id": "7a2d6f1b-4c3e-4d9f-8a8b-2e3f4a5b6c7d",
           "fields": {"school_id": str(w.school_a1.id), "notes": "bad\x00"}}
    r = client.post("/api/v1/sync/push", json={"device_id": "d1", "mutations": [good, bad]}, headers=h)
    assert r.status_code == 200
    first, second = r.json["results"]
    assert first["status"] == "applied"
    assert second["status"] == "rejected" and second["errors"] == {
        "fields.notes": [TEXT_MESSAGE]}
    odd = '{"device_id": "d1", "mutations": [{"mutation_id": "m3", "entity": "visit", "op": "create", ' \
          '"id": "8b3e7a2c-5d4f-4e1a-9b9c-3f4a5b6c7d8e", "fields": {"school_id": "%s", "\\udc00": 1}}]}' % w.school_a1.id
    r = client.post("/api/v1/sync/push", data=odd, content_type="application/json", headers=h)
    assert r.status_code == 200 and r.json["results"][0]["status"] == "rejected"
    assert list(r.json["results"][0]["errors"]) == ["fields.\\udc00"]
    r = client.post("/api/v1/sync/push", json={"device_id": "d\x00", "mutations": [good]}, headers=h)
    assert r.status_code == 422 and list(r.json["errors"]) == ["device_id"]


def test_web_forms(client, session):
    from tests.web.helpers import csrf, sign_in
    w = make_world(session)
    sign_in(client, w.school_user_a1.username)
    token = csrf(client.get("/web/tickets"))
    r = client.post("/web/logout", data={"csrf_token": token, "note": "x\x00"})
    assert r.status_code == 422 and list(r.json["errors"]) == ["note"]


@pytest.mark.parametrize("size,kind", [(999, "json"), (1000, "json"), (1001, "json"), (5000, "json"),
                                       (1000, "form"), (1001, "form")])
def test_a_streamed_body_is_read_whole_up_to_the_limit_and_a_413_past_it(size, kind):
    """No Content-Length (chunked, the server ends the stream): up to max_content_length the body is read
    whole; one byte more is a 413 (RFC 9110 15.5.14), never the body cut at the limit."""
    import io

    from werkzeug.exceptions import RequestEntityTooLarge
    from werkzeug.test import EnvironBuilder

    from server.textguard import Request
    if kind == "json":
        body, ctype = b'{"n": "' + b"x" * (size - 9) + b'"}', "application/json"
    else:
        body, ctype = b"note=" + b"y" * (size - 5), "application/x-www-form-urlencoded"
    assert len(body) == size
    env = EnvironBuilder(method="POST", input_stream=io.BytesIO(body),
                         headers={"Transfer-Encoding": "chunked", "Content-Type": ctype}).get_environ()
    env.pop("CONTENT_LENGTH", None)
    env["wsgi.input_terminated"] = True
    r = Request(env)
    r.max_content_length = 1000
    read = (lambda: r.get_data()) if kind == "json" else (lambda: r.form["note"])
    if size > 1000:
        with pytest.raises(RequestEntityTooLarge):
            read()
    else:
        assert len(read()) == (size if kind == "json" else size - 5)


@pytest.mark.parametrize("key", ["mutation_id", "entity", "op", "id", "base_version"])
@pytest.mark.parametrize("bad", ["\x00", "\udc00"], ids=["nul", "lone-surrogate"])
def test_unstorable_text_anywhere_in_a_mutation_rejects_that_mutation_only(client, session, key, bad):
    """Not the whole push (a device with such a mutation queued could never sync again): that mutation is
    `rejected` naming the key, nothing of it is stored, the rest of the batch is applied."""
    import json

    from sqlalchemy import func, select

    from sync.models import Mutation
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    good = {"mutation_id": "m1", "entity": "visit", "op": "create", "id": "6f1c5e0a-3b2d-4c8e-9f7a-1d2e3f4a5b6c",
            "fields": {"school_id": str(w.school_a1.id)}}
    spoilt = {"mutation_id": "m2", "entity": "visit", "op": "update", "id": "7a2d6f1b-4c3e-4d9f-8a8b-2e3f4a5b6c7d",
              "base_version": 1, "fields": {"notes": "ok"}}
    spoilt[key] = f"{spoilt[key]}{bad}"
    body = json.dumps({"device_id": "d1", "mutations": [spoilt, good]})  # \\u escapes, as a device sends them
    r = client.post("/api/v1/sync/push", data=body, content_type="application/json", headers=h)
    assert r.status_code == 200, r.json
    rejected, applied = r.json["results"]
    assert applied["status"] == "applied"
    assert rejected["status"] == "rejected" and key in rejected["errors"], rejected
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Mutation)) == 1
