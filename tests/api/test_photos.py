"""Photo evidence through the API: resumable uploads, dedupe, processing, scope, completeness, flags."""
from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import func, select

from inspections.photos.models import Photo
from server.extensions import storage
from tests.factories import make_world, token_for
from tests.inspections.photos.images import noisy_jpeg, photo

API = "/api/v1"
CHUNK = "application/offset+octet-stream"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def empty_blobs(app):
    """Blob storage is per run; start each test with none, so assertions about what is kept hold."""
    import shutil
    shutil.rmtree(storage(app).root, ignore_errors=True)
    yield


@pytest.fixture
def world(session):
    w = make_world(session)
    # The school sits in Guiyang; photos taken there are "on site".
    w.school_a1.latitude, w.school_a1.longitude = Decimal("26.647000"), Decimal("106.630000")
    session.commit()
    return w


@pytest.fixture
def insp(session, world):
    return token_for(session, world.inspector_a1)


@pytest.fixture
def visit(client, insp, world):
    v = client.post(f"{API}/visits", json={"school_id": str(world.school_a1.id)}, headers=insp)
    assert v.status_code == 201, v.json
    started = client.patch(f"{API}/visits/{v.json['id']}", json={"status": "in_progress"}, headers=insp)
    assert started.status_code == 200, started.json
    return started.json


def declare(client, headers, visit_id, data, *, item="sports_area_m2", ctype="image/jpeg", **extra):
    body = {"sha256": sha(data), "size": len(data), "content_type": ctype, "visit_id": visit_id, "item_code": item,
            **extra}
    return client.post(f"{API}/photos/uploads", json=body, headers=headers)


def send(client, headers, upload_id, data, offset):
    return client.patch(f"{API}/photos/uploads/{upload_id}", data=data,
                        headers={**headers, "Upload-Offset": str(offset), "Content-Type": CHUNK})


def process(app, photo_id) -> str:
    """Run the processing job as a worker would (called directly: the test Redis may be shared)."""
    from inspections.photos.tasks import process_photo
    from server.api.photos import processing_settings
    return process_photo(str(photo_id), **processing_settings(app))


def upload(client, app, headers, visit_id, data, *, chunk=40_000, **kw):
    """Declare, send in chunks, finalize and process; returns the finalize response."""
    r = declare(client, headers, visit_id, data, **kw)
    assert r.status_code == 201, r.json
    uid = r.json["id"]
    for off in range(0, len(data), chunk):
        assert send(client, headers, uid, data[off:off + chunk], off).status_code == 204
    done = client.post(f"{API}/photos/uploads/{uid}/finalize", headers=headers)
    if done.status_code == 200:
        process(app, uid)
    return done


def blob_keys(app) -> list[str]:
    root = storage(app).root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_resumable_upload_processing_and_downloads(client, app, insp, visit, session):
    data = noisy_jpeg(2400, 1800)  # realistic detail and size
    r = declare(client, insp, visit["id"], data, latitude="26.647100", longitude="106.630100")
    assert r.status_code == 201 and r.json["offset"] == 0 and r.json["status"] == "uploading"
    assert r.headers["Upload-Offset"] == "0"
    uid = r.json["id"]
    half = len(data) // 2
    assert send(client, insp, uid, data[:half], 0).headers["Upload-Offset"] == str(half)
    # The connection dropped before the device saw the answer: it asks where the upload stands.
    head = client.head(f"{API}/photos/uploads/{uid}", headers=insp)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(half) and head.data == b""
    # A blind retry of the first chunk is refused with the offset to resume from.
    again = send(client, insp, uid, data[:half], 0)
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert again.json["offset"] == half and again.headers["Upload-Offset"] == str(half)
    assert send(client, insp, uid, data[half:], half).headers["Upload-Offset"] == str(len(data))
    assert client.get(f"{API}/photos/uploads/{uid}", headers=insp).json["offset"] == len(data)
    done = client.post(f"{API}/photos/uploads/{uid}/finalize", headers=insp)
    assert done.status_code == 200, done.json
    process(app, uid)
    got = client.get(f"{API}/photos/{uid}", headers=insp).json
    assert got["status"] == "processed" and got["sha256"] == sha(data) and got["item_code"] == "sports_area_m2"
    assert got["evidence"]["exif"]["width"] == 2400 and got["evidence"]["display"] == {"width": 1600, "height": 1200}
    assert got["flagged"] is False and got["evidence"]["flags"] == []
    assert got["latitude"] == "26.647100"
    original = client.get(f"{API}/photos/{uid}/original", headers=insp)
    assert original.status_code == 200 and original.data == data and original.mimetype == "image/jpeg"
    display = Image.open(io.BytesIO(client.get(f"{API}/photos/{uid}/display", headers=insp).data))
    thumb = Image.open(io.BytesIO(client.get(f"{API}/photos/{uid}/thumb", headers=insp).data))
    assert display.size == (1600, 1200) and thumb.size == (320, 240)
    keys = blob_keys(app)
    assert f"originals/{sha(data)[:2]}/{sha(data)}" in keys
    assert not [k for k in keys if k.startswith(f"uploads/{uid}")], "chunks are deleted after finalize"
    assert client.get(f"{API}/photos/{uid}/exif", headers=insp).status_code == 404
    # Retried finalize is harmless.
    assert client.post(f"{API}/photos/uploads/{uid}/finalize", headers=insp).status_code == 200


def test_exif_stripped_from_derivatives_but_original_kept_byte_for_byte(client, app, insp, visit):
    data = photo(800, 600, model="Secret Serial 123", gps=(26.6471, 106.6301))
    uid = upload(client, app, insp, visit["id"], data).json["id"]
    assert client.get(f"{API}/photos/{uid}/original", headers=insp).data == data
    for v in ("display", "thumb"):
        body = client.get(f"{API}/photos/{uid}/{v}", headers=insp).data
        assert b"Secret Serial" not in body and len(Image.open(io.BytesIO(body)).getexif()) == 0
    ev = client.get(f"{API}/photos/{uid}", headers=insp).json["evidence"]["exif"]
    assert ev["camera_model"] == "Secret Serial 123"


def test_wrong_sha256_is_refused_and_bytes_discarded(client, app, insp, visit, session):
    data = photo(300, 200)
    r = declare(client, insp, visit["id"], data, sha256=sha(b"something else"))
    uid = r.json["id"]
    assert send(client, insp, uid, data, 0).status_code == 204
    bad = client.post(f"{API}/photos/uploads/{uid}/finalize", headers=insp)
    assert bad.status_code == 422 and "sha256" in bad.json["errors"]
    assert not [k for k in blob_keys(app) if k.startswith(("uploads/", "originals/"))]
    st = client.get(f"{API}/photos/uploads/{uid}", headers=insp).json
    assert st["offset"] == 0 and st["status"] == "uploading"  # the device may send again


def test_finalize_before_all_bytes_is_refused(client, app, insp, visit):
    data = photo(300, 200)
    uid = declare(client, insp, visit["id"], data).json["id"]
    send(client, insp, uid, data[:100], 0)
    r = client.post(f"{API}/photos/uploads/{uid}/finalize", headers=insp)
    assert r.status_code == 422 and "received 100 of" in r.json["errors"]["size"][0]


def test_same_photo_from_two_devices_is_stored_once(client, app, session, world, insp, visit):
    office = token_for(session, world.office_a1)
    data = photo(640, 480)
    a = upload(client, app, insp, visit["id"], data)
    b = upload(client, app, office, visit["id"], data, item="multimedia_classrooms")
    assert a.status_code == b.status_code == 200
    assert b.json["evidence"]["deduplicated"] is True and a.json["evidence"]["deduplicated"] is False
    assert [k for k in blob_keys(app) if k.startswith("originals/")] == [f"originals/{sha(data)[:2]}/{sha(data)}"]
    rows = session.scalars(select(Photo).where(Photo.sha256 == sha(data))).all()
    assert len(rows) == 2 and {r.status for r in rows} == {"processed"}
    assert {r.item_code for r in rows} == {"sports_area_m2", "multimedia_classrooms"}
    assert client.get(f"{API}/photos/{b.json['id']}/original", headers=office).data == data


@pytest.mark.parametrize("data,ctype,reason", [
    (b"%PDF-1.7 not a photo at all" * 50, "image/jpeg", "not an image"),
    (photo(200, 100, fmt="PNG"), "image/jpeg", "declared content type image/jpeg but the file is PNG"),
    (noisy_jpeg(600, 400)[:5000], "image/jpeg", "truncated"),
])
def test_bad_files_are_rejected_with_a_reason_and_not_kept(client, app, insp, visit, data, ctype, reason):
    r = upload(client, app, insp, visit["id"], data, ctype=ctype)
    got = client.get(f"{API}/photos/{r.json['id']}", headers=insp).json
    assert got["status"] == "rejected" and reason in got["status_reason"]
    assert not [k for k in blob_keys(app) if k.startswith(("originals/", "display/", "thumbs/", "uploads/"))]
    assert client.get(f"{API}/photos/{r.json['id']}/original", headers=insp).status_code == 404


def test_decompression_bomb_rejected(client, app, insp, visit):
    buf = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buf, "PNG")  # 144 MP in ~20 KB
    app.config["PHOTO_MAX_PIXELS"], old = 50_000_000, app.config["PHOTO_MAX_PIXELS"]
    try:
        r = upload(client, app, insp, visit["id"], buf.getvalue(), ctype="image/png")
    finally:
        app.config["PHOTO_MAX_PIXELS"] = old
    got = client.get(f"{API}/photos/{r.json['id']}", headers=insp).json
    assert got["status"] == "rejected" and "decompression bomb" in got["status_reason"]


def test_processing_job_is_idempotent(client, app, insp, visit, session):
    from inspections.photos.tasks import process_photo
    data = photo(500, 400)
    uid = upload(client, app, insp, visit["id"], data).json["id"]
    before = session.get(Photo, uuid.UUID(uid)).processed_at
    assert process_photo(uid, storage_url=app.config["STORAGE_URL"]) == "processed"
    session.expire_all()
    assert session.get(Photo, uuid.UUID(uid)).processed_at == before


def _count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Photo))


@pytest.mark.parametrize("body,field", [
    ({}, "sha256"),
    ({"sha256": "ab" * 32, "size": 10, "content_type": "image/jpeg"}, "_schema"),
    ({"sha256": "AB" * 32, "size": 10, "content_type": "image/jpeg", "visit_id": "V"}, "sha256"),
    ({"sha256": "ab" * 32, "size": 0, "content_type": "image/jpeg", "visit_id": "V"}, "size"),
    ({"sha256": "ab" * 32, "size": 10, "content_type": "application/pdf", "visit_id": "V"}, "content_type"),
    ({"sha256": "ab" * 32, "size": 10 ** 12, "content_type": "image/jpeg", "visit_id": "V"}, "size"),
    ({"sha256": "ab" * 32, "size": 10, "content_type": "image/jpeg", "visit_id": "V", "item_code": "nope"},
     "item_code"),
    ({"sha256": "ab" * 32, "size": 10, "content_type": "image/jpeg", "visit_id": "V", "latitude": "95",
      "longitude": "1"}, "latitude"),
    ({"sha256": "ab" * 32, "size": 10, "content_type": "image/jpeg", "visit_id": "V", "latitude": "2_6.5",
      "longitude": "1"}, "latitude"),  # Python's Decimal() reads "2_6.5"; the one decimal grammar does not
    ({"sha256": "ab" * 32, "size": 10, "content_type": "image/jpeg", "visit_id": "V", "extra": 1}, "extra"),
    ({"sha256": "ab" * 32, "size": 10, "content_type": "image/jpeg", "visit_id": "V", "device_id": str(uuid.uuid4())},
     "device_id"),
])
def test_bad_declarations_are_422_and_write_nothing(client, insp, visit, session, body, field):
    body = {k: (visit["id"] if v == "V" else v) for k, v in body.items()}
    r = client.post(f"{API}/photos/uploads", json=body, headers=insp)
    assert r.status_code == 422 and r.mimetype == "application/problem+json", r.json
    assert field in r.json["errors"], r.json
    assert _count(session) == 0


def test_bad_chunks(client, app, insp, visit):
    data = photo(300, 200)
    uid = declare(client, insp, visit["id"], data).json["id"]
    url = f"{API}/photos/uploads/{uid}"
    assert client.patch(url, data=data, headers={**insp, "Content-Type": CHUNK}).status_code == 422  # no offset
    assert client.patch(url, data=data, headers={**insp, "Upload-Offset": "-1", "Content-Type": CHUNK}).status_code == 422
    assert client.patch(url, data=data, headers={**insp, "Upload-Offset": "0",
                                                 "Content-Type": "application/json"}).status_code == 415
    assert send(client, insp, uid, data + b"x", 0).status_code == 422  # past the declared size
    old = app.config["MAX_CHUNK_BYTES"]
    app.config["MAX_CHUNK_BYTES"] = 100
    try:
        assert send(client, insp, uid, data, 0).status_code == 413
    finally:
        app.config["MAX_CHUNK_BYTES"] = old
    assert client.get(url, headers=insp).json["offset"] == 0
    assert not [k for k in blob_keys(app) if k.startswith("uploads/")]


def test_chunks_larger_than_the_json_limit_are_accepted(client, app, insp, visit):
    data = noisy_jpeg(3000, 2000, quality=97)
    assert len(data) > app.config["MAX_CONTENT_LENGTH"]
    r = upload(client, app, insp, visit["id"], data, chunk=len(data))
    assert r.status_code == 200 and client.get(f"{API}/photos/{r.json['id']}", headers=insp).json["status"] == "processed"


def test_scope(client, app, session, world, insp, visit):
    data = photo(300, 200)
    outsider = token_for(session, world.inspector_assigned)  # assigned to school_a2 only
    other_office = token_for(session, world.office_a1)
    far_office = token_for(session, make_far_office(session, world))
    school = token_for(session, world.school_user_a1)
    assert declare(client, outsider, visit["id"], data).status_code == 404
    assert declare(client, school, visit["id"], data).status_code == 404  # a planned visit is hidden from it
    uid = upload(client, app, insp, visit["id"], data).json["id"]
    # Nobody else may add bytes to someone's upload, even in scope.
    assert client.get(f"{API}/photos/uploads/{uid}", headers=other_office).status_code == 404
    assert client.get(f"{API}/photos/{uid}", headers=other_office).status_code == 200
    assert client.get(f"{API}/photos/{uid}/original", headers=other_office).status_code == 200
    for h in (outsider, far_office, school):
        assert client.get(f"{API}/photos/{uid}", headers=h).status_code == 404
        assert client.get(f"{API}/photos/{uid}/thumb", headers=h).status_code == 404
        assert client.get(f"{API}/visits/{visit['id']}/evidence", headers=h).status_code == 404
    assert client.get(f"{API}/photos/{uid}").status_code == 401
    # An inspector in scope but not on the visit may not add evidence to it.
    colleague = token_for(session, make_colleague(session, world))
    assert declare(client, colleague, visit["id"], data).status_code == 403


def make_far_office(session, world):
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    u = make_user(session, Role.office, jurisdiction=world.county_b1)
    session.commit()
    return u


def make_colleague(session, world):
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    u = make_user(session, Role.inspector, jurisdiction=world.county_a1)
    session.commit()
    return u


def test_response_target_and_visit_photo_list(client, app, insp, visit):
    r = client.put(f"{API}/visits/{visit['id']}/responses", json={"answers": [
        {"item_code": "has_charter", "value": True}]}, headers=insp)
    resp_id = r.json[0]["id"]
    data = photo(300, 200)
    body = {"sha256": sha(data), "size": len(data), "content_type": "image/jpeg", "response_id": resp_id}
    made = client.post(f"{API}/photos/uploads", json=body, headers=insp)
    assert made.status_code == 201
    listed = client.get(f"{API}/visits/{visit['id']}/photos", headers=insp).json
    assert [p["id"] for p in listed] == [made.json["id"]]
    assert listed[0]["response_id"] == resp_id and listed[0]["item_code"] == "has_charter"
    assert listed[0]["status"] == "uploading"


def test_evidence_completeness(client, app, insp, visit):
    url = f"{API}/visits/{visit['id']}/evidence"
    ev = client.get(url, headers=insp).json
    required = {"sports_area_m2", "multimedia_classrooms", "music_rooms_m2", "art_rooms_m2", "has_charter"}
    assert ev["complete"] is False and {m["item_code"] for m in ev["missing"]} == required
    data = {code: photo(200 + i, 100) for i, code in enumerate(sorted(required))}
    for code, d in data.items():
        upload(client, app, insp, visit["id"], d, item=code)
    assert client.get(url, headers=insp).json["complete"] is True
    # A photo the device declared but has not finished sending makes the visit incomplete again.
    extra = photo(999, 100)
    uid = declare(client, insp, visit["id"], extra, item="has_charter").json["id"]
    send(client, insp, uid, extra[:50], 0)
    ev = client.get(url, headers=insp).json
    assert ev["complete"] is False
    assert ev["missing"] == [{"item_code": "has_charter", "photo_id": uid,
                              "reason": f"upload not finished (50 of {len(extra)} bytes arrived)"}]
    counts = {i["item_code"]: i for i in ev["required_items"]}
    assert counts["has_charter"] == {"item_code": "has_charter", "processed": 1, "pending": 1, "rejected": 0}


def test_rejected_photo_counts_as_missing_until_replaced(client, app, insp, visit):
    url = f"{API}/visits/{visit['id']}/evidence"
    bad = upload(client, app, insp, visit["id"], b"not an image" * 20, item="has_charter").json["id"]
    missing = [m for m in client.get(url, headers=insp).json["missing"] if m["item_code"] == "has_charter"]
    assert missing[0]["photo_id"] == bad and missing[0]["reason"].startswith("rejected: not an image")
    upload(client, app, insp, visit["id"], photo(123, 45), item="has_charter")
    assert not [m for m in client.get(url, headers=insp).json["missing"] if m["item_code"] == "has_charter"]


def test_photos_far_in_time_or_place_are_flagged_not_rejected(client, app, insp, visit, session):
    long_ago = datetime.now(timezone.utc) - timedelta(days=30)
    far = photo(300, 200, when=long_ago.replace(tzinfo=None), offset="+00:00", gps=(39.9042, 116.4074))  # Beijing
    r = upload(client, app, insp, visit["id"], far)
    got = client.get(f"{API}/photos/{r.json['id']}", headers=insp).json
    assert got["status"] == "processed" and got["flagged"] is True
    flags = got["evidence"]["flags"]
    assert any(f["code"] == "before_start" and f["source"] == "exif" and f["hours"] > 24 * 29 for f in flags), flags
    assert any(f["code"] == "far_from_school" and f["source"] == "exif" for f in flags), flags
    assert client.get(f"{API}/visits/{visit['id']}/evidence", headers=insp).json["flagged"] == [r.json["id"]]
    # The device's own GPS is used when the file has none.
    r2 = upload(client, app, insp, visit["id"], photo(301, 200), latitude="26.900000", longitude="106.630000")
    flags2 = client.get(f"{API}/photos/{r2.json['id']}", headers=insp).json["evidence"]["flags"]
    assert flags2 == [{"code": "far_from_school", "km": 28.1, "source": "device"}]
    # On site and on time: no flag.
    now = datetime.now(timezone.utc)
    ok = photo(302, 200, when=now.replace(tzinfo=None), offset="+00:00", gps=(26.6475, 106.6305))
    r3 = upload(client, app, insp, visit["id"], ok)
    assert client.get(f"{API}/photos/{r3.json['id']}", headers=insp).json["flagged"] is False


def test_photos_of_a_visit_done_offline_earlier_are_not_flagged(client, app, insp, visit):
    """The server started the visit when its first answer arrived; the device took and declared its photos
    long before (offline). The devices' own times of the visit's photos open its window."""
    earlier = datetime.now(timezone.utc) - timedelta(hours=40)
    first = photo(310, 200, when=earlier.replace(tzinfo=None), offset="+00:00")
    r = upload(client, app, insp, visit["id"], first, captured_at=earlier.isoformat())
    got = client.get(f"{API}/photos/{r.json['id']}", headers=insp).json
    assert got["status"] == "processed" and got["flagged"] is False, got["evidence"]["flags"]
    # The same moment in a file the device did not declare then (attached now): the window is the visit's day.
    second = photo(311, 200, when=earlier.replace(tzinfo=None), offset="+00:00")
    other = client.post(f"{API}/visits", json={"school_id": visit["school_id"]}, headers=insp).json
    client.patch(f"{API}/visits/{other['id']}", json={"status": "in_progress"}, headers=insp)
    r = upload(client, app, insp, other["id"], second, captured_at=datetime.now(timezone.utc).isoformat())
    flags = client.get(f"{API}/photos/{r.json['id']}", headers=insp).json["evidence"]["flags"]
    assert [f["code"] for f in flags] == ["before_start"], flags


def test_same_file_on_two_visits_is_flagged(client, app, session, world, insp, visit):
    other = client.post(f"{API}/visits", json={"school_id": str(world.school_a1b.id)}, headers=insp).json
    data = photo(333, 222)
    upload(client, app, insp, visit["id"], data)
    r = upload(client, app, insp, other["id"], data)
    flags = client.get(f"{API}/photos/{r.json['id']}", headers=insp).json["evidence"]["flags"]
    assert flags == [{"code": "reused", "visits": 1}]


def test_a_file_reused_from_another_county_names_no_visit_there(client, app, session, world, insp, visit):
    """The same bytes on a visit of county B1 (out of the A1 inspector's scope, and not yet submitted): the
    A1 inspector's photo is flagged as reused, but neither its record nor the pull names that visit."""
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    other_insp = token_for(session, make_user(session, Role.inspector, jurisdiction=world.school_b1.jurisdiction))
    session.commit()
    theirs = client.post(f"{API}/visits", json={"school_id": str(world.school_b1.id)}, headers=other_insp).json
    client.patch(f"{API}/visits/{theirs['id']}", json={"status": "in_progress"}, headers=other_insp)
    data = photo(334, 223)
    upload(client, app, other_insp, theirs["id"], data)
    r = upload(client, app, insp, visit["id"], data)
    got = client.get(f"{API}/photos/{r.json['id']}", headers=insp)
    assert got.json["evidence"]["flags"] == [{"code": "reused", "visits": 1}]
    assert client.get(f"{API}/visits/{theirs['id']}", headers=insp).status_code == 404
    pulled, cursor = [], None
    while True:
        page = client.get(f"{API}/sync/pull", query_string={"limit": 500, **({"cursor": cursor} if cursor else {})},
                          headers=insp).get_data(as_text=True)
        pulled.append(page)
        body = json.loads(page)
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    for text in (got.get_data(as_text=True), *pulled):
        assert theirs["id"] not in text


def test_expired_partial_uploads_are_cleaned(client, app, insp, visit, session):
    from server.photos_cli import photos_cleanup
    data = photo(300, 200)
    uid = declare(client, insp, visit["id"], data).json["id"]
    send(client, insp, uid, data[:100], 0)
    fresh = declare(client, insp, visit["id"], photo(301, 200)).json["id"]
    assert [k for k in blob_keys(app) if k.startswith(f"uploads/{uid}/")]
    row = session.get(Photo, uuid.UUID(uid))
    row.expires_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    session.commit()
    result = app.test_cli_runner().invoke(photos_cleanup)
    assert result.exit_code == 0 and "1 expired upload" in result.output, result.output
    assert not [k for k in blob_keys(app) if k.startswith("uploads/")]
    st = client.get(f"{API}/photos/uploads/{uid}", headers=insp).json
    assert st["status"] == "expired"
    assert send(client, insp, uid, data[100:], 100).status_code == 409
    assert client.get(f"{API}/photos/uploads/{fresh}", headers=insp).json["status"] == "uploading"
    missing = client.get(f"{API}/visits/{visit['id']}/evidence", headers=insp).json["missing"]
    assert any(m["photo_id"] == uid and m["reason"].startswith("expired") for m in missing)


def test_retried_create_returns_the_same_upload(client, insp, visit, session):
    data = photo(300, 200)
    pid = str(uuid.uuid4())
    a = declare(client, insp, visit["id"], data, id=pid)
    b = declare(client, insp, visit["id"], data, id=pid)
    assert a.status_code == b.status_code == 201 and a.json["id"] == b.json["id"] == pid
    assert _count(session) == 1
    c = declare(client, insp, visit["id"], photo(301, 200), id=pid)
    assert c.status_code == 409




@pytest.fixture
def s3_app(base_app, s3_endpoint, tmp_path):
    """The same database, blobs on S3 (moto's HTTP server through boto3), jobs in-process (embedded queue)."""
    from inspections import db as domain_db
    from server import create_app
    cfg = {k: base_app.config[k] for k in ("DATABASE_URL", "SECRET_KEY", "ARGON2_TIME_COST", "ARGON2_MEMORY_KIB")}
    app = create_app({**cfg, "REDIS_URL": None, "VAR_DIR": str(tmp_path), "TESTING": True,
                      "STORAGE_URL": "s3://evidence-api/inspections", "S3_ENDPOINT_URL": s3_endpoint})
    st = storage(app)
    st.client.create_bucket(Bucket="evidence-api")
    try:
        yield app
    finally:
        for obj in st.client.list_objects_v2(Bucket="evidence-api").get("Contents", []):
            st.client.delete_object(Bucket="evidence-api", Key=obj["Key"])
        st.client.delete_bucket(Bucket="evidence-api")
        app.extensions["db_engine"].dispose()
        domain_db.configure(base_app.extensions["db_engine"])


def test_whole_path_on_s3(s3_app, world, session):
    import urllib.request
    client = s3_app.test_client()
    insp = token_for(session, world.inspector_a1)
    v = client.post(f"{API}/visits", json={"school_id": str(world.school_a1.id)}, headers=insp).json
    data = noisy_jpeg(1200, 900)
    uid = declare(client, insp, v["id"], data).json["id"]
    third = len(data) // 3 + 1
    for off in range(0, len(data), third):
        assert send(client, insp, uid, data[off:off + third], off).status_code == 204
    st = storage(s3_app)
    chunks = st.client.list_objects_v2(Bucket="evidence-api", Prefix=f"inspections/uploads/{uid}/")["KeyCount"]
    assert chunks == 3, "each chunk is its own object: any app instance can take the next one"
    assert client.head(f"{API}/photos/uploads/{uid}", headers=insp).headers["Upload-Offset"] == str(len(data))
    done = client.post(f"{API}/photos/uploads/{uid}/finalize", headers=insp)
    # Embedded queue: the job ran in-process at enqueue, through the same RQ call.
    assert done.status_code == 200 and done.json["status"] == "processed", done.json
    keys = {o["Key"] for o in st.client.list_objects_v2(Bucket="evidence-api").get("Contents", [])}
    h = sha(data)
    assert keys == {f"inspections/originals/{h[:2]}/{h}", f"inspections/display/{h[:2]}/{h}.jpg",
                    f"inspections/thumbs/{h[:2]}/{h}.jpg"}
    for variant, check in (("original", lambda b: b == data),
                           ("thumb", lambda b: Image.open(io.BytesIO(b)).size == (320, 240))):
        r = client.get(f"{API}/photos/{uid}/{variant}", headers=insp)
        assert r.status_code == 302 and "Signature=" in r.headers["Location"]
        with urllib.request.urlopen(r.headers["Location"]) as resp:
            assert check(resp.read())
    far = token_for(session, make_far_office(session, world))
    assert client.get(f"{API}/photos/{uid}/original", headers=far).status_code == 404


def test_withdrawn_upload_is_no_longer_expected(client, app, insp, visit, session):
    url = f"{API}/visits/{visit['id']}/evidence"
    data = photo(300, 200)
    uid = declare(client, insp, visit["id"], data, item="has_charter").json["id"]
    send(client, insp, uid, data[:100], 0)
    assert any(m["photo_id"] == uid for m in client.get(url, headers=insp).json["missing"])
    r = client.delete(f"{API}/photos/uploads/{uid}", headers=insp)
    assert r.status_code == 204
    assert not any(m["photo_id"] == uid for m in client.get(url, headers=insp).json["missing"])
    assert not [k for k in blob_keys(app) if k.startswith("uploads/")]
    assert _count(session) == 0
    # Evidence that arrived stays: it cannot be withdrawn.
    done = upload(client, app, insp, visit["id"], data).json["id"]
    assert client.delete(f"{API}/photos/uploads/{done}", headers=insp).status_code == 409
    assert client.get(f"{API}/photos/{done}", headers=insp).json["status"] == "processed"


def test_last_chunk_with_upload_complete_finalizes_in_the_same_request(client, app, insp, visit, session):
    data = photo(640, 480)
    uid = declare(client, insp, visit["id"], data).json["id"]
    half = len(data) // 2
    assert send(client, insp, uid, data[:half], 0).status_code == 204
    # Declaring completion on a chunk that does not end the file: refused before anything is stored.
    early = client.patch(f"{API}/photos/uploads/{uid}", data=data[half:-1],
                         headers={**insp, "Upload-Offset": str(half), "Content-Type": CHUNK, "Upload-Complete": "?1"})
    assert early.status_code == 422 and "headers.Upload-Complete" in early.json["errors"]
    assert session.get(Photo, uuid.UUID(uid)).received_bytes == half
    last = client.patch(f"{API}/photos/uploads/{uid}", data=data[half:],
                        headers={**insp, "Upload-Offset": str(half), "Content-Type": CHUNK, "Upload-Complete": "?1"})
    assert last.status_code == 200, last.json
    assert last.json["status"] in ("received", "processed") and last.json["sha256"] == sha(data)
    assert last.headers["Upload-Offset"] == str(len(data))
    # The original sits at its content address, byte for byte; no staging chunks are left behind.
    from inspections.photos.service import original_key
    assert b"".join(storage(app).open(original_key(sha(data)))) == data
    assert not [k for k in blob_keys(app) if k.startswith("uploads/")]
    # The answer was lost and the device resends the last chunk: the same answer, nothing stored twice.
    again = client.patch(f"{API}/photos/uploads/{uid}", data=data[half:],
                         headers={**insp, "Upload-Offset": str(half), "Content-Type": CHUNK, "Upload-Complete": "?1"})
    assert again.status_code == 200 and again.json["id"] == uid
    assert session.scalar(select(func.count()).select_from(Photo).where(Photo.sha256 == sha(data))) == 1


def test_whole_file_in_one_complete_chunk_is_stored_once_without_staging(client, app, insp, visit, session):
    data = photo(480, 360)
    uid = declare(client, insp, visit["id"], data).json["id"]
    headers = {**insp, "Upload-Offset": "0", "Content-Type": CHUNK, "Upload-Complete": "?1"}
    r = client.patch(f"{API}/photos/uploads/{uid}", data=data, headers=headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] in ("received", "processed") and r.headers["Upload-Offset"] == str(len(data))
    from inspections.photos.service import original_key
    assert original_key(sha(data)) in blob_keys(app)
    assert b"".join(storage(app).open(original_key(sha(data)))) == data
    assert not [k for k in blob_keys(app) if k.startswith("uploads/")]
    # Resent (the answer was lost): the same answer, one row, one original.
    again = client.patch(f"{API}/photos/uploads/{uid}", data=data, headers=headers)
    assert again.status_code == 200 and again.json["id"] == uid and again.json["sha256"] == sha(data)
    assert session.scalar(select(func.count()).select_from(Photo)) == 1


def test_upload_complete_with_a_wrong_hash_discards_the_bytes(client, app, insp, visit, session):
    data = photo(320, 240)
    uid = declare(client, insp, visit["id"], data).json["id"]
    tampered = data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:]
    r = client.patch(f"{API}/photos/uploads/{uid}", data=tampered,
                     headers={**insp, "Upload-Offset": "0", "Content-Type": CHUNK, "Upload-Complete": "?1"})
    assert r.status_code == 422 and "sha256" in r.json["errors"]
    session.expire_all()
    assert session.get(Photo, uuid.UUID(uid)).received_bytes == 0
    assert not [k for k in blob_keys(app) if not k.startswith(".")]


def _meta(**fields) -> str:
    import base64
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in fields.items())


def test_whole_photo_in_one_request(client, app, insp, visit, session):
    data = photo(640, 480)
    meta = _meta(sha256=sha(data), size=len(data), content_type="image/jpeg", visit_id=visit["id"],
                 item_code="sports_area_m2", id=str(uuid.uuid4()))
    headers = {**insp, "Content-Type": CHUNK, "Upload-Metadata": meta}
    r = client.post(f"{API}/photos/uploads/whole", data=data, headers=headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] in ("received", "processed") and r.json["visit_id"] == visit["id"]
    from inspections.photos.service import original_key
    assert b"".join(storage(app).open(original_key(sha(data)))) == data
    # Written once, straight to its content address: no staging chunk was left behind (or ever listed).
    assert not [k for k in blob_keys(app) if k.startswith("uploads/")]
    row = session.get(Photo, uuid.UUID(r.json["id"]))
    assert row.received_bytes == len(data) and row.chunks == [] and row.blob_key == original_key(sha(data))
    # Sent again (the answer was lost): the same photo, nothing stored twice.
    again = client.post(f"{API}/photos/uploads/whole", data=data, headers=headers)
    assert again.status_code == 200 and again.json["id"] == r.json["id"]
    assert session.scalar(select(func.count()).select_from(Photo)) == 1
    # Declared and uploaded in one request: both in the audit trail, the upload once.
    from inspections.audit.models import AuditRecord
    actions = session.scalars(select(AuditRecord.action).where(AuditRecord.entity_id == r.json["id"])).all()
    assert sorted(a for a in actions if a == "upload") == ["upload"] and "declare" in actions


@pytest.mark.parametrize("case", ["wrong-hash", "short-body", "bad-base64", "unknown-key", "no-target", "json"])
def test_whole_photo_bad_input_writes_nothing(client, app, insp, visit, session, case):
    data = photo(320, 240)
    fields = dict(sha256=sha(data), size=len(data), content_type="image/jpeg", visit_id=visit["id"])
    body, ctype = data, CHUNK
    if case == "wrong-hash":
        fields["sha256"] = sha(b"other")
    elif case == "short-body":
        body = data[:-10]
    elif case == "unknown-key":
        fields["colour"] = "red"
    elif case == "no-target":
        del fields["visit_id"]
    elif case == "json":
        ctype = "application/json"
    meta = _meta(**fields) + (",size !!!" if case == "bad-base64" else "")
    r = client.post(f"{API}/photos/uploads/whole", data=body, headers={**insp, "Content-Type": ctype,
                                                                      "Upload-Metadata": meta})
    assert r.status_code in (415, 422), r.json
    assert r.content_type == "application/problem+json"
    assert session.scalar(select(func.count()).select_from(Photo)) == 0
    assert blob_keys(app) == []


def test_whole_photo_out_of_scope_is_404(client, session, world):
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    other = make_user(session, Role.inspector, jurisdiction=world.county_b1)
    session.commit()
    v = client.post(f"{API}/visits", json={"school_id": str(world.school_a1.id)},
                    headers=token_for(session, world.inspector_a1)).json
    data = photo(100, 80)
    r = client.post(f"{API}/photos/uploads/whole", data=data, headers={
        **token_for(session, other), "Content-Type": CHUNK,
        "Upload-Metadata": _meta(sha256=sha(data), size=len(data), content_type="image/jpeg", visit_id=v["id"])})
    assert r.status_code == 404
    assert session.scalar(select(func.count()).select_from(Photo)) == 0


def _whole(client, headers, visit_id, data, *, ctype="image/jpeg", **fields):
    meta = _meta(sha256=sha(data), size=len(data), content_type=ctype, visit_id=visit_id,
                 item_code="sports_area_m2", **fields)
    return client.post(f"{API}/photos/uploads/whole", data=data,
                       headers={**headers, "Content-Type": CHUNK, "Upload-Metadata": meta})


@pytest.mark.parametrize("bad", ["truncated", "garbage-after-the-jpeg-header"])
def test_whole_upload_of_a_broken_jpeg_is_kept_then_rejected_by_the_job(client, app, insp, visit, session, bad):
    # The request checks the declaration, size and hash only (the image is decoded by the job):
    # a JPEG that breaks inside is received, and the job marks it rejected without raising.
    good = noisy_jpeg(600, 400)
    data = good[:5000] if bad == "truncated" else good[:2] + bytes(range(256)) * 40
    r = _whole(client, insp, visit["id"], data)
    assert r.status_code == 200, r.json
    pid = r.json["id"]
    session.expire_all()
    if session.get(Photo, uuid.UUID(pid)).status == "received":  # a worker's queue (Redis): run the job here
        from inspections.photos.tasks import job_id, process_photo_job
        from server.api.photos import processing_settings
        out = process_photo_job(job_id(pid), photo_id=pid, **processing_settings(app))
        assert out["status"] == "rejected"
    got = client.get(f"{API}/photos/{pid}", headers=insp).json
    assert got["status"] == "rejected" and got["status_reason"]
    assert not [k for k in blob_keys(app) if k.startswith(("originals/", "display/", "thumbs/"))]
    from inspections.jobs.models import JobRecord
    session.expire_all()
    assert session.get(JobRecord, f"photo-{pid}").status == "finished"


def test_whole_upload_larger_than_a_chunk_is_413_and_writes_nothing(client, app, insp, visit, session):
    data = photo(320, 240)
    old = app.config["MAX_CHUNK_BYTES"]
    app.config["MAX_CHUNK_BYTES"] = len(data) - 1
    try:
        # Refused on its Content-Length, before the body is read (a chunked body without one is refused
        # while read: tests/security/test_transport.py, through gunicorn).
        r = _whole(client, insp, visit["id"], data)
    finally:
        app.config["MAX_CHUNK_BYTES"] = old
    assert r.status_code == 413 and r.content_type == "application/problem+json"
    assert session.scalar(select(func.count()).select_from(Photo)) == 0
    assert blob_keys(app) == []


def test_whole_upload_content_length_other_than_declared_is_422_before_reading(client, app, insp, visit, session):
    data = photo(320, 240)
    meta = _meta(sha256=sha(data), size=len(data) + 1, content_type="image/jpeg", visit_id=visit["id"])
    r = client.post(f"{API}/photos/uploads/whole", data=data, headers={**insp, "Content-Type": CHUNK,
                                                                      "Upload-Metadata": meta})
    assert r.status_code == 422 and "body" in r.json["errors"]
    assert session.scalar(select(func.count()).select_from(Photo)) == 0 and blob_keys(app) == []


def test_whole_upload_stores_bytes_again_once_the_kept_copy_was_dropped(client, app, insp, visit, session):
    from inspections.photos.service import original_key
    data = photo(300, 200, fmt="PNG")
    # Declared as a JPEG: received, then rejected by the job, and its bytes deleted.
    first = _whole(client, insp, visit["id"], data, ctype="image/jpeg").json["id"]
    process(app, first)
    assert client.get(f"{API}/photos/{first}", headers=insp).json["status"] == "rejected"
    assert original_key(sha(data)) not in blob_keys(app)
    # The same bytes again, declared right: not taken for already stored (no row holds them), written.
    again = _whole(client, insp, visit["id"], data, ctype="image/png")
    assert again.status_code == 200 and again.json["id"] != first
    assert b"".join(storage(app).open(original_key(sha(data)))) == data
    row = session.get(Photo, uuid.UUID(again.json["id"]))
    assert row.evidence["deduplicated"] is False and row.blob_key == original_key(sha(data))
    # And a third copy while that one is kept: deduplicated, the original not written again.
    import os
    path = storage(app).root / original_key(sha(data))
    os.utime(path, ns=(0, 0))
    third = _whole(client, insp, visit["id"], data, ctype="image/png")
    assert third.status_code == 200
    assert session.get(Photo, uuid.UUID(third.json["id"])).evidence["deduplicated"] is True
    assert path.stat().st_mtime_ns == 0
    assert process(app, again.json["id"]) in ("processed", "received")


def test_whole_upload_whose_body_ends_early_is_400_and_writes_nothing(client, app, insp, visit, session):
    data = photo(320, 240)
    meta = _meta(sha256=sha(data), size=len(data), content_type="image/jpeg", visit_id=visit["id"])
    # The connection dropped: fewer bytes than its Content-Length announced.
    r = client.post(f"{API}/photos/uploads/whole", input_stream=io.BytesIO(data[:1000]),
                    environ_overrides={"CONTENT_LENGTH": str(len(data))},
                    headers={**insp, "Content-Type": CHUNK, "Upload-Metadata": meta})
    assert r.status_code == 400 and "1000 of the" in r.json["detail"], r.json
    assert session.scalar(select(func.count()).select_from(Photo)) == 0 and blob_keys(app) == []


def test_whole_upload_is_read_in_steps_and_hashed_as_it_arrives(client, app, insp, visit, session, monkeypatch):
    import server.api.photos as api
    monkeypatch.setattr(api, "READ_STEP", 1000)  # several steps for this small file
    data = photo(640, 480)
    assert len(data) > 3000
    r = _whole(client, insp, visit["id"], data)
    assert r.status_code == 200 and r.json["sha256"] == sha(data)
    from inspections.photos.service import original_key
    assert b"".join(storage(app).open(original_key(sha(data)))) == data
    tampered = data[:1500] + bytes([data[1500] ^ 1]) + data[1501:]
    meta = _meta(sha256=sha(data), size=len(data), content_type="image/jpeg", visit_id=visit["id"],
                 item_code="sports_area_m2")
    bad = client.post(f"{API}/photos/uploads/whole", data=tampered, headers={**insp, "Content-Type": CHUNK,
                                                                            "Upload-Metadata": meta})
    assert bad.status_code == 422 and "sha256" in bad.json["errors"]
    assert session.scalar(select(func.count()).select_from(Photo)) == 1


def every_file(app) -> list[str]:
    """Every file under the blob folder, temporary ones (`.tmp-*`) included."""
    root = storage(app).root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", ["wrong-hash", "ends-early", "out-of-scope", "cancelled-visit", "unknown-item"])
def test_whole_upload_refused_after_its_body_arrived_leaves_no_file(client, app, session, world, insp, visit, case):
    # The body is staged as it arrives (before the declaration's target is checked): a refusal at any
    # point after that drops it whole, temporary file included.
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    data = photo(640, 480)
    fields = dict(sha256=sha(data), size=len(data), content_type="image/jpeg", visit_id=visit["id"],
                  item_code="sports_area_m2")
    headers = {**insp, "Content-Type": CHUNK}
    extra = {"data": data}
    if case == "wrong-hash":
        fields["sha256"] = sha(data[:-1] + b"\0")
    elif case == "ends-early":
        extra = {"input_stream": io.BytesIO(data[:len(data) // 2]),
                 "environ_overrides": {"CONTENT_LENGTH": str(len(data))}}
    elif case == "out-of-scope":
        outsider = make_user(session, Role.inspector, jurisdiction=world.county_b1)
        session.commit()
        headers = {**token_for(session, outsider), "Content-Type": CHUNK}
    elif case == "cancelled-visit":
        r = client.patch(f"{API}/visits/{visit['id']}", json={"status": "cancelled"}, headers=insp)
        assert r.status_code == 200, r.json
    else:
        fields["item_code"] = "no_such_item"
    r = client.post(f"{API}/photos/uploads/whole", headers={**headers, "Upload-Metadata": _meta(**fields)}, **extra)
    assert r.status_code == {"wrong-hash": 422, "ends-early": 400, "out-of-scope": 404, "cancelled-visit": 409,
                             "unknown-item": 422}[case], r.json
    assert session.scalar(select(func.count()).select_from(Photo)) == 0
    assert every_file(app) == []


def test_whole_upload_of_bytes_kept_already_leaves_only_the_kept_copy(client, app, insp, visit, session):
    data = photo(640, 480)
    first = _whole(client, insp, visit["id"], data)
    assert first.status_code == 200
    second = _whole(client, insp, visit["id"], data)
    assert second.status_code == 200 and second.json["id"] != first.json["id"]
    assert session.get(Photo, uuid.UUID(second.json["id"])).evidence["deduplicated"] is True
    from inspections.photos.service import original_key
    assert [k for k in every_file(app) if not k.startswith(("display/", "thumbs/"))] == [original_key(sha(data))]


def test_whole_upload_whose_original_cannot_be_stored_commits_nothing(client, app, insp, visit, session, monkeypatch):
    # The original is stored on another thread while the rows are written; its failure fails the request
    # before the commit: no photo row, no job, nothing at the content address.
    from inspections.storage import LocalStaged

    def full_disk(self):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(LocalStaged, "_publish", full_disk)
    data = photo(640, 480)
    r = _whole(client, insp, visit["id"], data)
    assert r.status_code >= 500
    from inspections.jobs.models import JobRecord
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Photo)) == 0
    assert session.scalar(select(func.count()).select_from(JobRecord).where(JobRecord.kind == "process_photo")) == 0
    assert every_file(app) == []
