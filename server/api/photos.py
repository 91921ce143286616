"""Photo evidence: resumable uploads (tus-style offsets), downloads in scope, visit completeness."""
from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import timedelta

from flask import Response, current_app, redirect, request, stream_with_context
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import ValidationError
from sqlalchemy import inspect, select

from inspections.accounts.enums import Role
from inspections.accounts.models import Device
from inspections.accounts.scope import visit_filter
from inspections.audit import service as audit
from inspections.errors import ValidationFailed
from inspections.photos import service as photos
from inspections.photos.enums import PhotoStatus
from inspections.photos.models import Photo
from inspections.storage import S3Storage, StagedBlob
from inspections.visits.models import Visit
from schemas.photos import EvidenceOut, PhotoOut, UploadIn, UploadOut
from schemas.text import TEXT_MESSAGE, printable, unstorable
from server.api.common import Blueprint, get_in_scope
from server.auth import BEARER, EVERYONE, current_principal, current_user, require
from server.errors import problem
from server.extensions import session, storage
from server.jobs import record_photo_processing
from server.textguard import UNREADABLE

PREFIX = ""
blp = Blueprint("photos", __name__, description="Photo evidence: resumable uploads, downloads, completeness.")
CHUNK_TYPES = ("application/offset+octet-stream", "application/octet-stream")
VARIANTS = {"original": photos.original_key, "display": photos.display_key, "thumb": photos.thumb_key}
# Made once: a schema's construction copies its fields (~0.3 ms a request); load and dump keep no state.
_UPLOAD_IN, _PHOTO_OUT = UploadIn(), PhotoOut()


def served_type(content_type: str) -> str:
    """The type an original is served as: an accepted photo type, else opaque bytes (never SVG or HTML)."""
    from inspections.photos.imaging import ACCEPTED_TYPES
    return content_type if content_type in ACCEPTED_TYPES else "application/octet-stream"


def _expiry() -> timedelta:
    return timedelta(hours=current_app.config["UPLOAD_EXPIRY_HOURS"])


def _upload_out(photo: Photo) -> dict:
    return {"id": photo.id, "status": photo.status, "received_bytes": photo.received_bytes, "size": photo.size,
            "sha256": photo.sha256, "expires_at": photo.expires_at,
            "max_chunk_bytes": current_app.config["MAX_CHUNK_BYTES"],
            "chunk_url": f"/api/v1/photos/uploads/{photo.id}"}


def _offset_headers(photo: Photo) -> dict:
    return {"Upload-Offset": str(photo.received_bytes), "Upload-Length": str(photo.size), "Cache-Control": "no-store"}


def processing_settings(app=None) -> dict:
    """The plain settings a processing job needs (jobs never read Flask config themselves)."""
    from server.jobs import photo_processing_args
    return photo_processing_args(app)


@blp.route("/photos/uploads")
class Uploads(MethodView):
    @blp.arguments(UploadIn)
    @blp.response(201, UploadOut)
    @blp.doc(security=[BEARER])
    @require(Role.inspector, Role.office, Role.admin, Role.school)
    def post(self, body):
        """Declare a photo (hash, size, type, what it is evidence for); the visit now expects it."""
        db = session()
        photo, _ = _declare(db, body)
        db.commit()
        return _upload_out(photo), 201, {"Location": f"/api/v1/photos/uploads/{photo.id}", **_offset_headers(photo)}


def _declare(db, body: dict, whole: tuple[bytes | StagedBlob, str] | None = None) -> tuple[Photo, bool]:
    """Validate and record a declared upload (not committed); returns it and whether it was stored now.

    `whole`: the entire content (or a blob staged with it) and its sha256 taken on arrival; a new photo
    is then stored and recorded `received` at once (see photos.create_upload). A retried declaration
    stores nothing.
    """
    p, user = current_principal(), current_user()
    if body["size"] > current_app.config["UPLOAD_MAX_BYTES"]:
        abort(422, errors={"size": [f"must be at most {current_app.config['UPLOAD_MAX_BYTES']} bytes"]})
    device_id = body["device_id"]
    if device_id is not None:
        if db.scalar(select(Device.id).where(Device.id == device_id, Device.user_id == user.id)) is None:
            abort(422, errors={"device_id": ["is not one of your devices"]})
    else:
        from flask import g
        device_id = getattr(g.get("token"), "device_id", None)
    target = photos.resolve_target(db, p, response_id=body["response_id"], visit_id=body["visit_id"],
                                   item_code=body["item_code"], finding_id=body["finding_id"],
                                   ticket_event_id=body["ticket_event_id"], ticket_id=body["ticket_id"])
    photo = photos.create_upload(db, target=target, uploaded_by_id=user.id, sha256=body["sha256"],
                                 size=body["size"], content_type=body["content_type"].lower(),
                                 expires_in=_expiry(), id=body["id"], device_id=device_id,
                                 captured_at=body["captured_at"], latitude=body["latitude"],
                                 longitude=body["longitude"], storage=storage() if whole else None,
                                 data=whole[0] if whole else None, data_sha256=whole[1] if whole else None)
    stored_now = whole is not None and inspect(photo).pending  # a new row, not a retried declaration's
    audit.record(db, actor_id=user.id, action="declare", entity="photo", entity_id=photo.id,
                 data={"sha256": photo.sha256, "size": photo.size, "visit_id": str(photo.visit_id)})
    return photo, stored_now


def parse_upload_metadata(header: str) -> dict[str, str]:
    """tus `Upload-Metadata`: comma-separated `key base64(value)` pairs; 422 when malformed."""
    out: dict[str, str] = {}
    for pair in filter(None, (x.strip() for x in header.split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value.strip() else ""
        except (binascii.Error, ValueError):  # ValueError: non-ASCII in the header (bytes like \xff arrive as latin-1)
            abort(422, errors={f"headers.Upload-Metadata.{printable(key)}": ["is not base64 of UTF-8 text"]})
        if unstorable(out[key]) or unstorable(key):
            abort(422, errors={f"headers.Upload-Metadata.{printable(key)}": [TEXT_MESSAGE]})
    return out


@blp.route("/photos/uploads/whole")
class WholeUpload(MethodView):
    @blp.doc(security=[BEARER], parameters=[
        {"in": "header", "name": "Upload-Metadata", "required": True, "schema": {"type": "string"},
         "description": "The declaration as tus metadata: `key base64(value)` pairs separated by commas, with the "
                        "keys of the JSON declaration (sha256, size, content_type, one target, captured_at, ...)."}],
        requestBody={"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                   for t in CHUNK_TYPES}},
        responses={"200": {"description": "Declared, stored, size and sha256 checked, processing queued.",
                           "content": {"application/json": {"schema": PhotoOut}}},
                   "413": {"description": "Larger than one chunk: use the resumable upload."},
                   "422": {"description": "Bad declaration, or the bytes do not match it (nothing kept)."}})
    @require(Role.inspector, Role.office, Role.admin, Role.school)
    def post(self):
        """A small photo in one request (declare + bytes + finalize); retried with the same id, the same answer."""
        db = session()
        if (request.mimetype or "") not in CHUNK_TYPES:
            abort(415, message=f"Send the photo as {CHUNK_TYPES[0]} with its declaration in Upload-Metadata.")
        raw = parse_upload_metadata(request.headers.get("Upload-Metadata", ""))
        try:
            body = _UPLOAD_IN.load(raw)
        except ValidationError as exc:
            abort(422, errors={f"headers.Upload-Metadata.{k}": v for k, v in exc.normalized_messages().items()})
        hasher = hashlib.sha256()
        # The body goes to a staged blob as it arrives (hashed on the way): written once, never held whole
        # in memory; it becomes the original at its content address only once checked, and is dropped on
        # leaving this block otherwise (a short body, a wrong hash, a refused declaration, any error).
        with storage().stage(photos.original_key(body["sha256"]), content_type=body["content_type"].lower(),
                             sha256=body["sha256"]) as staged:
            read_body(staged.write, expected=body["size"], digest=hasher)
            if staged.size != body["size"]:
                abort(422, errors={"body": [f"{staged.size} bytes sent, {body['size']} declared"]})
            digest = hasher.hexdigest()
            if digest != body["sha256"]:
                # Checked before anything is kept: a one-request upload either lands whole or not at all.
                abort(422, errors={"sha256": ["the bytes sent do not hash to the declared value; nothing was kept"]})
            staged.ready()  # a local file: its fsync runs meanwhile
            # A new photo is stored once, at its content address, and its row inserted as received; a
            # retried one (its id exists) gets the same answer, a retry of an unfinished one is finalized.
            photo, stored_now = _declare(db, body, whole=(staged, digest))
            fresh = not stored_now and photo.status == PhotoStatus.uploading and photo.received_bytes == 0
            resp = _completed(db, current_principal(), photo, photo.size, whole=(staged, digest) if fresh else None,
                              stored_now=stored_now)
        resp.headers["Location"] = f"/api/v1/photos/{photo.id}"
        return resp


@blp.route("/photos/uploads/<uuid:upload_id>")
class UploadById(MethodView):
    @blp.response(200, UploadOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, upload_id):
        """Where the upload stands (HEAD gives the same Upload-Offset header without a body)."""
        photo = photos.get_upload(session(), current_principal(), upload_id)
        return _upload_out(photo), 200, _offset_headers(photo)

    @blp.response(204)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def delete(self, upload_id):
        """Withdraw an unfinished, rejected or expired upload, so the visit stops expecting it."""
        db, p = session(), current_principal()
        photo = photos.get_upload(db, p, upload_id)
        audit.record(db, actor_id=p.user_id, action="withdraw", entity="photo", entity_id=photo.id,
                     data={"status": photo.status, "visit_id": str(photo.visit_id)})
        photos.withdraw(db, storage(), photo)
        db.commit()

    @blp.doc(security=[BEARER], parameters=[
        {"in": "header", "name": "Upload-Offset", "required": True, "schema": {"type": "integer", "minimum": 0},
         "description": "Where this chunk starts; must equal the upload's current offset."},
        {"in": "header", "name": "Upload-Complete", "required": False, "schema": {"type": "string", "enum": ["?1", "?0"]},
         "description": "`?1` on the last chunk: finalize in the same request (as POST .../finalize does)."}],
        requestBody={"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                   for t in CHUNK_TYPES}},
        responses={"204": {"description": "Stored; Upload-Offset gives the new offset."},
                   "200": {"description": "Last chunk with `Upload-Complete: ?1`: stored and finalized.",
                           "content": {"application/json": {"schema": PhotoOut}}},
                   "409": {"description": "Wrong offset: the body's `offset` and Upload-Offset say where to resume."}})
    @require(*EVERYONE)
    def patch(self, upload_id):
        """Send the next chunk (raw bytes) at Upload-Offset; safe to retry after a dropped connection."""
        db, p = session(), current_principal()
        photo = photos.get_upload(db, p, upload_id)
        photos.require_still_accepted(db, p, photo)
        raw = request.headers.get("Upload-Offset", "")
        if not (raw.isascii() and raw.isdigit()):  # isdigit alone takes "²", which int() refuses
            abort(422, errors={"headers.Upload-Offset": ["required: a non-negative integer"]})
        if (request.mimetype or "") not in CHUNK_TYPES:
            abort(415, message=f"Send the chunk as {CHUNK_TYPES[0]}.")
        data = read_chunk()
        complete = request.headers.get("Upload-Complete", "").strip() == "?1"
        if complete and photo.status != PhotoStatus.uploading and int(raw) + len(data) == photo.size:
            # A retried last chunk (the answer was lost): the same answer as a retried finalize, if it is
            # the same bytes; different bytes for a finished upload are a conflict, never silently "done".
            if not _same_as_stored(photo, int(raw), data):
                return problem(409, "This upload is finished and holds different bytes at that offset; "
                                    "declare a new upload for a different photo.", offset=photo.size,
                               headers={"Upload-Offset": str(photo.size)})
            return _completed(db, p, photo, photo.size)
        if complete and photo.status == PhotoStatus.uploading and int(raw) == photo.received_bytes \
                and int(raw) + len(data) != photo.size:
            abort(422, errors={"headers.Upload-Complete": [
                f"this chunk ends at {int(raw) + len(data)}, not at the declared size {photo.size}"]})
        if complete and photo.status == PhotoStatus.uploading and int(raw) == photo.received_bytes == 0 \
                and len(data) == photo.size:
            # The whole file in this one chunk: hashed as it arrived and written once, to its content address.
            return _completed(db, p, photo, photo.size, whole=(data, hashlib.sha256(data).hexdigest()))
        try:
            offset = photos.append_chunk(db, storage(), photo, offset=int(raw), data=data, expires_in=_expiry())
        except photos.OffsetMismatch as exc:
            return problem(409, exc.message, offset=exc.offset, headers={"Upload-Offset": str(exc.offset)})
        db.commit()
        if complete:
            # The last chunk says it is the last: finalize in the same request (one round trip fewer).
            return _completed(db, p, photo, offset)
        return Response(status=204, headers={"Upload-Offset": str(offset), "Cache-Control": "no-store"})


READ_STEP = 1 << 20


def read_chunk() -> bytes:
    """The request body, at most MAX_CHUNK_BYTES; 413 when larger, with or without Content-Length."""
    pieces: list[bytes] = []
    read_body(pieces.append)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def read_body(sink, expected: int | None = None, digest=None) -> int:
    """Hand the request body to `sink` piece by piece (at most MAX_CHUNK_BYTES); returns its length.

    413 when larger than that, with or without Content-Length, before anything is read when the
    Content-Length says so. A chunked body has no Content-Length, and Werkzeug's limit then stops
    reading at the limit without saying so: one byte more is allowed in, so a body past the limit is
    seen and refused, not cut short. `expected`: the declared size; a Content-Length that differs is
    refused before the body is read. `digest`: a hashlib object fed the body as it arrives. A body that
    ends before its Content-Length is a 400 (an interrupted upload).
    """
    limit = current_app.config["MAX_CHUNK_BYTES"]
    length = request.content_length
    if length is not None and length > limit:
        abort(413, message=f"A chunk is at most {limit} bytes; send the photo in resumable chunks.")
    if length is not None and expected is not None and length != expected:
        abort(422, errors={"body": [f"{length} bytes sent, {expected} declared"]})
    if length is not None and not request.headers.get("Transfer-Encoding"):
        # Read from the server's stream in 1 MiB steps up to the announced length (not Werkzeug's 64 KiB
        # loop, ~60 reads and copies for a 4 MB photo), each step hashed and handed on while the next
        # one arrives.
        stream, got = request.environ["wsgi.input"], 0
        try:
            while got < length:
                piece = stream.read(min(READ_STEP, length - got))
                if not piece:
                    break
                if digest is not None:
                    digest.update(piece)
                sink(piece)
                got += len(piece)
        except UNREADABLE:
            abort(400, message="The request body could not be read: an interrupted upload.")
        if got != length:
            abort(400, message=f"The request body ended after {got} of the {length} bytes announced.")
        return got
    # Chunks have their own body limit (the app-wide one is for JSON); set before reading the body.
    request.max_content_length = limit + 1
    data = request.get_data(cache=False)
    if len(data) > limit:
        abort(413, message=f"A chunk is at most {limit} bytes; send the photo in resumable chunks.")
    if digest is not None:
        digest.update(data)
    sink(data)
    return len(data)


def _same_as_stored(photo: Photo, offset: int, data: bytes) -> bool:
    """Whether `data` equals the finished upload's bytes at `offset` (True when they are no longer kept)."""
    if offset == 0 and len(data) == photo.size:
        return hashlib.sha256(data).hexdigest() == photo.sha256
    st, key = storage(), photos.original_key(photo.sha256)
    if not st.exists(key):
        return True  # rejected or withdrawn: nothing of it is kept, and the answer names its status
    seen, pos, view = 0, 0, memoryview(data)
    for block in st.open(key):
        start, end = pos, pos + len(block)
        pos = end
        if end <= offset:
            continue
        lo = max(offset, start)
        hi = min(offset + len(data), end)
        if lo >= hi:
            break
        if block[lo - start:hi - start] != view[lo - offset:hi - offset]:
            return False
        seen += hi - lo
    return seen == len(data)


def _completed(db, p, photo: Photo, offset: int, whole: tuple[bytes | StagedBlob, str] | None = None,
               stored_now: bool = False):
    photo = _finalize(db, p, photo, whole, stored_now=stored_now)
    resp = current_app.json.response(_PHOTO_OUT.dump(photo))
    resp.headers.update({"Upload-Offset": str(offset), "Cache-Control": "no-store"})
    return resp


@blp.route("/photos/uploads/<uuid:upload_id>/finalize")
class UploadFinalize(MethodView):
    @blp.response(200, PhotoOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def post(self, upload_id):
        """Check size and sha256, store the original by its hash (once), queue processing."""
        db, p = session(), current_principal()
        photo = photos.get_upload(db, p, upload_id)
        photos.require_still_accepted(db, p, photo)
        return _finalize(db, p, photo)


def _finalize(db, p, photo: Photo, whole: tuple[bytes | StagedBlob, str] | None = None,
              stored_now: bool = False) -> Photo:
    """Check size and sha256, store the original, commit, then queue processing.

    `whole`: the entire content (or a blob staged with it) and its sha256 taken on arrival (one-request
    upload), stored directly. `stored_now`: the photo was declared, checked and stored received in this request (not committed).
    """
    already = photo.status != PhotoStatus.uploading and not stored_now
    try:
        if stored_now:
            dedup = bool(photo.evidence.get("deduplicated"))
        elif whole is not None and not already:
            dedup = photos.store_verified(db, storage(), photo, whole[0], sha256=whole[1])
        else:
            dedup = photos.finalize(db, storage(), photo)
    except ValidationFailed:
        db.commit()  # the discarded bytes: the upload restarts at offset 0
        raise
    if not already:
        audit.record(db, actor_id=p.user_id, action="upload", entity="photo", entity_id=photo.id,
                     data={"sha256": photo.sha256, "deduplicated": dedup})
    if photo.status == PhotoStatus.received:
        # Processing is an effect of this commit (outbox): it runs even if Redis is down right now.
        # The 2xx below therefore means: the original is in blob storage and this job row is committed.
        record_photo_processing(db, photo)
    db.flush()
    photos.wait_for_blobs(db)  # a whole upload's original was being stored meanwhile: stored before the commit
    db.commit()
    if photo.status == PhotoStatus.received and not current_app.config.get("REDIS_URL"):
        db.refresh(photo)  # in-process (embedded) mode has processed it already, in another session
    return photo


def _photo(photo_id) -> Photo:
    return get_in_scope(Photo, photo_id, photos.photo_filter(current_principal()))


@blp.route("/photos/<uuid:photo_id>")
class PhotoById(MethodView):
    @blp.response(200, PhotoOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, photo_id):
        """One photo's evidence record (status, hash, EXIF facts, flags)."""
        return _photo(photo_id)


@blp.route("/photos/<uuid:photo_id>/<string:variant>")
class PhotoFile(MethodView):
    @blp.doc(security=[BEARER], responses={"200": {"description": "The bytes (local storage)."},
                                           "302": {"description": "A short-lived presigned URL (S3)."}})
    @require(*EVERYONE)
    def get(self, photo_id, variant):
        """Download `original` (byte for byte), `display` (~1600 px) or `thumb` (~320 px), both EXIF-free."""
        if variant not in VARIANTS:
            abort(404, message=f"No {variant!r} file: use original, display or thumb.")
        photo = _photo(photo_id)
        if photo.status != PhotoStatus.processed and not (variant == "original" and photo.status == PhotoStatus.received):
            abort(404, message=f"Photo {photo_id} has no {variant} ({photo.status}).")
        key = VARIANTS[variant](photo.sha256)
        st = storage()
        if isinstance(st, S3Storage):
            return redirect(st.presigned_url(key, expires=current_app.config["PHOTO_URL_EXPIRY_SECONDS"]), 302)
        if not st.exists(key):
            abort(404, message=f"Photo {photo_id} has no {variant}.")
        mimetype = served_type(photo.content_type) if variant == "original" else "image/jpeg"
        resp = Response(stream_with_context(st.open(key)), mimetype=mimetype)
        resp.headers["Cache-Control"] = "private, max-age=300"
        resp.headers["ETag"] = f'"{photo.sha256}-{variant}"'
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp


@blp.route("/visits/<uuid:visit_id>/photos")
class VisitPhotos(MethodView):
    @blp.response(200, PhotoOut(many=True))
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, visit_id):
        """Every photo declared for a visit, oldest first."""
        visit = get_in_scope(Visit, visit_id, visit_filter(current_principal()))
        return session().scalars(select(Photo).where(Photo.visit_id == visit.id)
                                 .order_by(Photo.received_at, Photo.id)).all()


@blp.route("/visits/<uuid:visit_id>/evidence")
class VisitEvidence(MethodView):
    @blp.response(200, EvidenceOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, visit_id):
        """Which required photos and declared photos a visit still lacks."""
        visit = get_in_scope(Visit, visit_id, visit_filter(current_principal()))
        return photos.visit_evidence(session(), visit)
