"""Photo uploads (resumable, stateless across app instances), dedupe, completeness and integrity flags.

Chunks are stored as their own blobs `uploads/{photo id}/{offset}-{nonce}` and listed on the photo row,
so any app instance can take the next chunk; finalize streams them, in order, into one staging blob
(an S3 multipart upload for large files), checks size and sha256, then moves it to its content
address `originals/ab/abcdef...`. A file whose hash is already stored is not stored again.
"""
from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import and_, event, func, or_, select, text, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from inspections import clock
from inspections.accounts.enums import Role
from inspections.accounts.scope import Principal, school_filter, visit_filter
from inspections.db import utcnow
from inspections.errors import Conflict, DomainError, NotFound, Says, ValidationFailed
from inspections.org.models import School
from inspections.photos.enums import PhotoStatus
from inspections.photos.models import Photo
from inspections.storage import BlobStorage, StagedBlob
from inspections.tickets.enums import TicketStatus
from inspections.tickets.models import Finding, Ticket, TicketEvent
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Response, Visit


def original_key(sha256: str) -> str:
    """Content address of an original."""
    return f"originals/{sha256[:2]}/{sha256}"


def display_key(sha256: str) -> str:
    return f"display/{sha256[:2]}/{sha256}.jpg"


def thumb_key(sha256: str) -> str:
    return f"thumbs/{sha256[:2]}/{sha256}.jpg"


def upload_prefix(photo_id) -> str:
    return f"uploads/{photo_id}/"


def lock_content(session: Session, sha256: str) -> None:
    """Hold one content address (`sha256`, hex) until this transaction ends.

    Whether an original's bytes are kept is decided twice: by an upload of those bytes (stored already,
    or write them) and by the rejection of a photo of them (another photo still needs them, or delete
    them). Each decides under this lock, from rows the other has committed: without it, a rejection
    could delete bytes that an upload, not yet committed, had just found stored and not written. On
    PostgreSQL a transaction-level advisory lock on the hash's first 60 bits; SQLite's write
    transactions (BEGIN IMMEDIATE) already run one at a time."""
    _hold(session, int(sha256[:15], 16))


def _hold(session: Session, key: int) -> None:
    """A PostgreSQL transaction-level advisory lock on `key` (0 <= key < 2**63); nothing on SQLite, whose
    write transactions run one at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


class Forbidden(DomainError):
    """In scope, but this role or person may not do it (HTTP 403)."""

    status = 403


class OffsetMismatch(Conflict):
    """A chunk did not start where the upload stands; `offset` is where to resume."""

    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset = offset


# --- who may upload and see -------------------------------------------------------------------

@dataclass
class Target:
    """What a photo belongs to, resolved and authorized."""

    school_id: uuid.UUID
    visit: Visit | None = None
    response: Response | None = None
    finding: Finding | None = None
    ticket_event: TicketEvent | None = None
    ticket: Ticket | None = None
    item_code: str | None = None


# A ticket's evidence (the only target the pages' forms take): what refuses it, as kinds of message.
NO_TICKET_HERE = Says("photos.no_ticket_here", "No ticket {ticket} here.")
TICKET_TAKES_NO_EVIDENCE = Says("photos.ticket_takes_no_evidence", "The ticket is {status}; it takes no more evidence.")


def _may_change_visit(p: Principal, visit: Visit) -> None:
    if p.role == Role.inspector and p.user_id not in visit.inspector_ids:
        raise Forbidden("Only the inspectors on this visit may add evidence to it.")
    from inspections.visits.service import require_on_visit
    require_on_visit(p, visit)  # and still covering its school
    if p.role not in (Role.inspector, Role.office, Role.admin):
        raise Forbidden("Schools add evidence to their tickets, not to visits.")
    if visit.status == VisitStatus.cancelled:
        raise Conflict("The visit is cancelled; it takes no more evidence.", code="visit.frozen")


def resolve_target(session: Session, p: Principal, *, response_id=None, visit_id=None, item_code=None,
                   finding_id=None, ticket_event_id=None, ticket_id=None) -> Target:
    """Find and authorize the thing a photo is evidence for (404 outside the uploader's scope)."""
    given = [k for k, v in (("response_id", response_id), ("visit_id", visit_id), ("finding_id", finding_id),
                            ("ticket_event_id", ticket_event_id), ("ticket_id", ticket_id)) if v is not None]
    if len(given) != 1:
        raise ValidationFailed("Give exactly one target.", {"_schema": [
            "exactly one of response_id, visit_id (with item_code), finding_id, ticket_event_id, ticket_id"]})
    def visible_visit(vid):
        # With what every check below reads (its inspectors) in the same query; its checklist's item codes
        # come from item_codes_of (a published checklist's are known without reading it again).
        return session.scalars(select(Visit).where(Visit.id == vid, visit_filter(p))
                               .options(joinedload(Visit.inspector_links))).unique().one_or_none()
    if response_id is not None:
        resp = session.get(Response, response_id)
        visit = visible_visit(resp.visit_id) if resp else None
        if visit is None:
            raise NotFound(f"No response {response_id} here.")
        _may_change_visit(p, visit)
        return Target(school_id=visit.school_id, visit=visit, response=resp, item_code=resp.item_code)
    if visit_id is not None:
        visit = visible_visit(visit_id)
        if visit is None:
            raise NotFound(f"No visit {visit_id} here.")
        _may_change_visit(p, visit)
        if item_code is not None:
            from inspections.templates.service import item_codes_of
            if item_code not in item_codes_of(session, visit.template_version_id):
                raise ValidationFailed("Unknown item.", {"item_code": ["is not an item of this visit's checklist"]})
            resp = session.scalar(select(Response).where(Response.visit_id == visit.id,
                                                         Response.item_code == item_code).limit(1))
            return Target(school_id=visit.school_id, visit=visit, response=resp, item_code=item_code)
        return Target(school_id=visit.school_id, visit=visit)
    if finding_id is not None:
        finding = session.get(Finding, finding_id)
        visit = visible_visit(finding.visit_id) if finding else None
        if visit is None:
            raise NotFound(f"No finding {finding_id} here.")
        _may_change_visit(p, visit)
        return Target(school_id=finding.school_id, visit=visit, finding=finding, item_code=finding.item_code)
    if ticket_id is not None:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or not session.scalar(select(School.id).where(School.id == ticket.school_id,
                                                                        school_filter(p))) \
                or (p.role == Role.school and ticket.school_id != p.school_id):
            raise NotFound(NO_TICKET_HERE(ticket=ticket_id))
        if ticket.status in (TicketStatus.closed, TicketStatus.cancelled):
            raise Conflict(TICKET_TAKES_NO_EVIDENCE(status=ticket.status.value))
        return Target(school_id=ticket.school_id, ticket=ticket, item_code=ticket.item_code)
    event = session.get(TicketEvent, ticket_event_id)
    ticket = session.get(Ticket, event.ticket_id) if event else None
    if ticket is None or not session.scalar(select(School.id).where(School.id == ticket.school_id, school_filter(p))):
        raise NotFound(f"No ticket event {ticket_event_id} here.")
    # A school proves its own rectification; staff in scope may add evidence too.
    if p.role == Role.school and ticket.school_id != p.school_id:
        raise NotFound(f"No ticket event {ticket_event_id} here.")
    return Target(school_id=ticket.school_id, ticket_event=event, item_code=ticket.item_code)


def photo_filter(p: Principal):
    """SQL criterion on Photo: visit photos by visit scope, other photos by school scope."""
    return or_(and_(Photo.visit_id.is_not(None), Photo.visit_id.in_(select(Visit.id).where(visit_filter(p)))),
               and_(Photo.visit_id.is_(None), Photo.school_id.in_(select(School.id).where(school_filter(p)))))


def get_upload(session: Session, p: Principal, photo_id) -> Photo:
    """An upload the caller started (nobody else may add bytes to it): else NotFound."""
    photo = session.get(Photo, photo_id)
    if photo is None or photo.uploaded_by_id != p.user_id:
        raise NotFound(f"No upload {photo_id} here.")
    return photo


def require_still_accepted(session: Session, p: Principal, photo: Photo) -> None:
    """Bytes and the finalize of an upload still under way meet the rules its declaration met: its visit takes
    evidence from the caller now (on it, still covering its school, not cancelled: `_may_change_visit`).
    An upload declared before the visit was cancelled, or its school taken from the inspector, ends there."""
    if photo.status != PhotoStatus.uploading or photo.visit_id is None:
        return
    visit = session.get(Visit, photo.visit_id)
    if visit is not None:
        _may_change_visit(p, visit)


# --- the upload protocol ------------------------------------------------------------------------

def create_upload(session: Session, *, target: Target, uploaded_by_id, sha256: str, size: int, content_type: str,
                  expires_in: timedelta, id=None, device_id=None, captured_at: datetime | None = None,
                  latitude: Decimal | None = None, longitude: Decimal | None = None,
                  storage: BlobStorage | None = None, data: bytes | StagedBlob | None = None,
                  data_sha256: str | None = None) -> Photo:
    """Declare a photo: the visit now expects it, and its bytes may arrive in chunks.

    With `data` (the whole content, or a blob staged with it: hashed on arrival, `data_sha256`) and
    `storage`, a new photo is checked against its declaration, its bytes written once to their content
    address (a staged blob is published there) and the row created `received` in one INSERT (no chunk,
    no second write of the row). A retried create (an id that exists) returns the existing upload and
    stores nothing; the caller finalizes it as usual.
    """
    if id is not None:
        # Parallel retries of one create take turns: the later ones find the row and answer as a retry,
        # instead of failing on its primary key.
        _hold(session, uuid.UUID(str(id)).int >> 65)
        existing = session.get(Photo, id)
        if existing is not None:
            # A retried create (the device never saw our answer) returns the same upload.
            if existing.uploaded_by_id != uploaded_by_id or existing.sha256 != sha256 or existing.size != size:
                raise Conflict(f"Upload {id} already exists with different content.")
            return existing
    received = {}
    if data is not None:
        key, deduplicated = _store_whole_bytes(session, storage, data, sha256=sha256, size=size,
                                               declared_sha256=data_sha256, content_type=content_type)
        received = {"status": PhotoStatus.received, "blob_key": key, "received_bytes": size,
                    "received_at": utcnow(), "expires_at": None, "evidence": {"deduplicated": deduplicated}}
    photo = Photo(id=id or uuid.uuid4(), sha256=sha256, size=size, content_type=content_type,
                  status=PhotoStatus.uploading, uploaded_by_id=uploaded_by_id, device_id=device_id,
                  captured_at=captured_at, latitude=latitude, longitude=longitude, school_id=target.school_id,
                  visit_id=target.visit.id if target.visit else None,
                  response_id=target.response.id if target.response else None,
                  finding_id=target.finding.id if target.finding else None,
                  ticket_event_id=target.ticket_event.id if target.ticket_event else None,
                  ticket_id=target.ticket.id if target.ticket else None,
                  item_code=target.item_code, received_bytes=0, chunks=[], evidence={},
                  expires_at=utcnow() + expires_in)
    for attr, value in received.items():
        setattr(photo, attr, value)
    session.add(photo)
    if not received:
        session.flush()  # a received row goes with the rest of the request's rows, in the commit's flush
    return photo


def append_chunk(session: Session, storage: BlobStorage, photo: Photo, *, offset: int, data: bytes,
                 expires_in: timedelta) -> int:
    """Store one chunk at `offset`; returns the new offset. Safe against two instances racing."""
    if photo.status != PhotoStatus.uploading:
        raise Conflict(f"The upload is {photo.status}; it takes no more bytes.")
    if offset != photo.received_bytes:
        raise OffsetMismatch(photo.received_bytes,
                             f"The upload stands at offset {photo.received_bytes}, not {offset}; resume from there.")
    if not data:
        return photo.received_bytes
    if offset + len(data) > photo.size:
        raise ValidationFailed("Too many bytes.", {"body": [
            f"the chunk ends at {offset + len(data)}, past the declared size {photo.size}"]})
    # A fresh key per attempt: a losing racer can never overwrite the winner's chunk.
    key = f"{upload_prefix(photo.id)}{offset:015d}-{secrets.token_hex(4)}"
    # Typed as the photo: a single-chunk upload becomes the original itself at finalize.
    storage.put(key, data, content_type=photo.content_type)
    new_offset = offset + len(data)
    chunks = [*photo.chunks, [offset, len(data), key]]
    done = session.execute(update(Photo).where(Photo.id == photo.id, Photo.received_bytes == offset,
                                               Photo.status == PhotoStatus.uploading)
                           .values(received_bytes=new_offset, chunks=chunks, expires_at=utcnow() + expires_in)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        storage.delete(key)
        session.rollback()
        current = session.get(Photo, photo.id)
        at = current.received_bytes if current else 0
        raise OffsetMismatch(at, f"Another request moved the upload to offset {at}; resume from there.")
    session.refresh(photo)
    return new_offset


def _stream_chunks(storage: BlobStorage, photo: Photo, digest):
    for _offset, _length, key in sorted(photo.chunks):
        for block in storage.open(key):
            digest.update(block)
            yield block


def discard_chunks(storage: BlobStorage, photo: Photo) -> None:
    """Delete every stored chunk of an upload (and anything else under its staging prefix)."""
    storage.delete_prefix(upload_prefix(photo.id))


def finalize(session: Session, storage: BlobStorage, photo: Photo) -> bool:
    """Check size and sha256 and store the original by its hash; True when it was already stored.

    On a mismatch the received bytes are discarded and the upload restarts from offset 0.
    """
    if photo.status == PhotoStatus.uploading:
        # Two finalizes of one upload (a retry while the first still runs) take turns: the second then
        # finds it finalized and answers as a retry does, instead of assembling chunks the first moved.
        session.refresh(photo, with_for_update=True)
    if photo.status != PhotoStatus.uploading:
        if photo.status in (PhotoStatus.received, PhotoStatus.processed, PhotoStatus.rejected):
            return bool(photo.evidence.get("deduplicated"))  # a retried finalize: same answer
        raise Conflict(f"The upload is {photo.status}.")
    if photo.received_bytes != photo.size:
        raise ValidationFailed("Upload incomplete.", {"size": [
            f"received {photo.received_bytes} of the declared {photo.size} bytes; send the rest first"]})
    key, digest = original_key(photo.sha256), hashlib.sha256()
    lock_content(session, photo.sha256)
    deduplicated = storage.exists(key)
    staging = f"{upload_prefix(photo.id)}assembled"
    if deduplicated or len(photo.chunks) == 1:
        # Nothing to assemble: hash the stored bytes in place (a single chunk is promoted below as it is).
        for _ in _stream_chunks(storage, photo, digest):
            pass
        if not deduplicated:
            staging = photo.chunks[0][2]
    else:
        storage.put_stream(staging, _stream_chunks(storage, photo, digest), content_type=photo.content_type)
    if digest.hexdigest() != photo.sha256:
        discard_chunks(storage, photo)
        photo.received_bytes, photo.chunks = 0, []
        raise ValidationFailed("Checksum mismatch.", {"sha256": [
            f"the received bytes hash to {digest.hexdigest()}, not the declared value; they were discarded"]})
    if not deduplicated:
        # Only verified bytes ever sit at a content address.
        storage.move(staging, key)
    discard_chunks(storage, photo)
    photo.blob_key, photo.status, photo.chunks, photo.expires_at = key, PhotoStatus.received, [], None
    photo.received_at = utcnow()
    photo.evidence = {**(photo.evidence or {}), "deduplicated": deduplicated}
    session.flush()
    return deduplicated


def store_verified(session: Session, storage: BlobStorage, photo: Photo, data: bytes | StagedBlob, *,
                   sha256: str) -> bool:
    """A declared upload whose whole content arrived at once and was hashed on arrival (`sha256`, hex).

    Checked against the declaration, then written once, straight to its content address (no staging
    chunk, no second read); returns True when those bytes were already stored. Nothing is written on a
    mismatch.
    """
    if photo.status != PhotoStatus.uploading or photo.received_bytes != 0:
        raise Conflict(f"The upload is {photo.status} at offset {photo.received_bytes}; finalize it instead.")
    key, deduplicated = _store_whole_bytes(session, storage, data, sha256=photo.sha256, size=photo.size,
                                           declared_sha256=sha256, content_type=photo.content_type)
    values = {"blob_key": key, "status": PhotoStatus.received, "chunks": [], "expires_at": None,
              "received_bytes": photo.size, "received_at": utcnow(),
              "evidence": {**(photo.evidence or {}), "deduplicated": deduplicated}}
    done = session.execute(update(Photo).where(Photo.id == photo.id, Photo.received_bytes == 0,
                                               Photo.status == PhotoStatus.uploading)
                           .values(**values).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.rollback()
        raise Conflict("Another request stored this upload meanwhile; ask for its state.")
    # The row now holds exactly these values: set them as loaded rather than reading the row back.
    for attr, value in values.items():
        set_committed_value(photo, attr, value)
    return deduplicated


def _store_whole_bytes(session: Session, storage: BlobStorage, data: bytes | StagedBlob, *, sha256: str, size: int,
                       declared_sha256: str | None, content_type: str) -> tuple[str, bool]:
    """Check a whole content against its declaration and write it once at its content address.

    `data`: the bytes, or the same already received into a staged blob (published here, or dropped
    when they are kept already). Returns (key, deduplicated); raises ValidationFailed, having written
    nothing, on a mismatch.
    """
    got = len(data) if isinstance(data, bytes) else data.size
    if got != size:
        raise ValidationFailed("Size mismatch.", {"body": [f"{got} bytes sent, {size} declared"]})
    if declared_sha256 != sha256:
        raise ValidationFailed("Checksum mismatch.", {"sha256": [
            "the bytes sent do not hash to the declared value; nothing was kept"]})
    key = original_key(sha256)
    lock_content(session, sha256)
    # Whether the bytes are kept already is the database's knowledge (an original is deleted only when
    # no received or processed photo refers to it): one indexed query instead of a storage round trip
    # (a HEAD to S3) on every upload. Verified bytes: a racing twin can only write the very same content.
    deduplicated = session.scalar(select(Photo.id).where(
        Photo.sha256 == sha256, Photo.blob_key == key,
        Photo.status.in_([PhotoStatus.received, PhotoStatus.processed])).limit(1)) is not None
    if isinstance(data, bytes):
        if not deduplicated:
            storage.put(key, data, content_type=content_type, sha256=sha256)
    elif data.key != key:
        raise ValueError(f"staged at {data.key!r}, not at the content address {key!r}")
    elif deduplicated:
        data.discard()
    else:
        # Stored on another thread while the rest of the transaction is built: the commit waits for it
        # (wait_for_blobs), so a committed row never names a blob that is not stored.
        data.publish(background=True)
        session.info.setdefault(_STAGED_BLOBS, []).append(data)
        if not event.contains(session, "before_commit", wait_for_blobs):
            event.listen(session, "before_commit", wait_for_blobs)
            event.listen(session, "after_rollback", _forget_blobs)
    return key, deduplicated


_STAGED_BLOBS = "photos.staged_blobs"


def wait_for_blobs(session: Session) -> None:
    """Wait until every blob this transaction stores is stored (re-raising a failure); called before the
    commit, by the caller as late as it likes (the database work meanwhile overlaps the storing) and,
    at the latest, by the commit itself."""
    for staged in session.info.pop(_STAGED_BLOBS, []):
        staged.wait()


def _forget_blobs(session: Session) -> None:
    session.info.pop(_STAGED_BLOBS, None)  # rolled back: no commit waits for them any more


def store_whole(session: Session, storage: BlobStorage, *, target: Target, uploaded_by_id, data: bytes,
                content_type: str, expires_in: timedelta, device_id=None) -> Photo:
    """A whole file received in one piece (a page's plain form): declare, store and finalize it."""
    digest = hashlib.sha256(data).hexdigest()
    return create_upload(session, target=target, uploaded_by_id=uploaded_by_id, sha256=digest, size=len(data),
                         content_type=content_type, expires_in=expires_in, device_id=device_id, storage=storage,
                         data=data, data_sha256=digest)


def withdraw(session: Session, storage: BlobStorage, photo: Photo) -> None:
    """The device no longer means to send this photo: forget it (only while it is not evidence)."""
    if photo.status in (PhotoStatus.received, PhotoStatus.processed):
        raise Conflict(f"The photo is {photo.status}: it is evidence now and cannot be withdrawn.")
    discard_chunks(storage, photo)
    session.delete(photo)
    session.flush()


def expire_uploads(session: Session, storage: BlobStorage, *, now: datetime | None = None, limit: int = 500) -> int:
    """Mark abandoned partial uploads expired and delete their chunks; returns how many."""
    now = now or utcnow()
    stale = session.scalars(select(Photo).where(Photo.status == PhotoStatus.uploading, Photo.expires_at < now)
                            .order_by(Photo.expires_at).limit(limit)).all()
    for photo in stale:
        discard_chunks(storage, photo)
        photo.status, photo.status_reason = PhotoStatus.expired, "upload abandoned before it finished"
        photo.received_bytes, photo.chunks = 0, []
    session.flush()
    return len(stale)


# --- integrity flags ------------------------------------------------------------------------------

def haversine_m(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance in metres."""
    r = 6_371_000.0
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(a)))


def visit_window(visit: Visit, *, declared: datetime | None = None) -> tuple[datetime, datetime] | None:
    """When the visit happened, as far as the server can tell: from the start of the business day of its
    earliest evidence (its start on the server, or `declared`, the earliest time a device declared for one
    of its photos) to its submission (or now while open). A visit done offline reaches the server hours or
    days later: its server start is when the first answer arrived, so the day of the earliest evidence is
    the visit's day. The planned day says nothing of when it was done (visits are done early and late);
    a visit with no evidence of its start has no window. None then."""
    evidence = [t for t in (visit.started_at, declared) if t is not None]
    if not evidence:
        return None
    start = clock.day_start(clock.day_of(min(evidence)))
    end = visit.submitted_at or max(start, utcnow(), *evidence)
    return start, end


def earliest_declared(session: Session, visit_id) -> datetime | None:
    """The earliest time a device declared for a photo of the visit (kept or still arriving)."""
    return session.scalar(select(func.min(Photo.captured_at)).where(
        Photo.visit_id == visit_id, Photo.status.in_([PhotoStatus.uploading, PhotoStatus.received,
                                                      PhotoStatus.processed])))


# Flags are facts, each with a code (server/web/words.py says them in the reader's language):
#   {"code": "before_start" | "after_end", "taken": ISO time, "source": "exif" | "device", "hours": 13.0}
#   {"code": "far_from_school", "km": 5.9, "source": "exif" | "device"}
#   {"code": "reused", "visits": 2}: how many other visits hold the same bytes, never which: the flag is
#   read by everyone who may read the photo (its inspector, a device's pull), and the other visits may be
#   outside their scope (another county's, unannounced). An office finds those in its own scope by hash.
FLAG_CODES = ("before_start", "after_end", "far_from_school", "reused")


def integrity_flags(photo: Photo, *, exif: dict, visit: Visit | None, school: School | None,
                    max_distance_m: float, time_tolerance: timedelta, reused_on: list[str],
                    declared: datetime | None = None) -> list[dict]:
    """Reasons an office should look twice at a photo (never a rejection), as facts (FLAG_CODES)."""
    flags: list[dict] = []
    taken = datetime.fromisoformat(exif["captured_at"]) if exif.get("captured_at") else photo.captured_at
    source = "exif" if exif.get("captured_at") else "device"
    window = visit_window(visit, declared=declared) if visit else None
    if taken is not None and window is not None:
        start, end = window
        if taken < start - time_tolerance:
            flags.append({"code": "before_start", "taken": taken.isoformat(), "source": source,
                          "hours": _hours(start - taken)})
        elif taken > end + time_tolerance:
            flags.append({"code": "after_end", "taken": taken.isoformat(), "source": source,
                          "hours": _hours(taken - end)})
    lat, lon, where = exif.get("latitude"), exif.get("longitude"), "exif"
    if lat is None and photo.latitude is not None:
        lat, lon, where = photo.latitude, photo.longitude, "device"
    if lat is not None and school is not None and school.latitude is not None and school.longitude is not None:
        dist = haversine_m(lat, lon, school.latitude, school.longitude)
        if dist > max_distance_m:
            flags.append({"code": "far_from_school", "km": round(dist / 1000, 1), "source": where})
    if reused_on:
        flags.append({"code": "reused", "visits": len(reused_on)})
    return flags


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


def reused_on(session: Session, photo: Photo) -> list[str]:
    """Other visits with the same bytes as evidence (the same photo shown as two places)."""
    if photo.visit_id is None:
        return []
    rows = session.scalars(select(Photo.visit_id).where(Photo.sha256 == photo.sha256, Photo.id != photo.id,
                                                        Photo.visit_id.is_not(None), Photo.visit_id != photo.visit_id,
                                                        Photo.status.in_([PhotoStatus.received,
                                                                          PhotoStatus.processed])).distinct())
    return sorted(str(v) for v in rows)


# --- completeness -----------------------------------------------------------------------------------

def required_items(visit: Visit) -> list[str]:
    """Codes of the visit's enabled checklist items that need photo evidence."""
    return _required_codes(visit.template_version.definition,
                           str(visit.school.kind) if visit.school is not None else "")


def _required_codes(definition: dict, kind: str) -> list[str]:
    items = definition.get("items", [])
    levels = {"primary": {"primary"}, "junior": {"junior"}}.get(kind, {"primary", "junior"})
    return sorted(i["code"] for i in items if i.get("enabled", True) and i.get("photo_required")
                  and (not i.get("levels") or levels & set(i["levels"])))


# The photo columns completeness reads (a pull page reads them for every visit it touches).
_EVIDENCE_COLUMNS = (Photo.id, Photo.visit_id, Photo.item_code, Photo.status, Photo.status_reason, Photo.size,
                     Photo.received_bytes, Photo.flagged)


def evidence_for_visits(session: Session, visit_ids) -> dict:
    """visit_evidence for many visits: {visit_id: evidence} (unknown ids left out). Three queries of plain
    rows: the visits with their schools' kinds, the definition of each template version once, the photos."""
    ids = list({uuid.UUID(str(v)) for v in visit_ids})
    if not ids:
        return {}
    from inspections.templates.models import TemplateVersion
    visits = session.execute(select(Visit.id, Visit.template_version_id, School.kind)
                             .outerjoin(School, School.id == Visit.school_id).where(Visit.id.in_(ids))).all()
    definitions = dict(session.execute(select(TemplateVersion.id, TemplateVersion.definition)
                                       .where(TemplateVersion.id.in_({v.template_version_id for v in visits}))).all())
    by_visit: dict = {}
    for ph in session.execute(select(*_EVIDENCE_COLUMNS).where(Photo.visit_id.in_(ids))
                              .order_by(Photo.received_at, Photo.id)):
        by_visit.setdefault(ph.visit_id, []).append(ph)
    codes: dict = {}
    out = {}
    for v in visits:
        key = (v.template_version_id, str(v.kind) if v.kind is not None else "")
        if key not in codes:
            codes[key] = _required_codes(definitions.get(v.template_version_id) or {}, key[1])
        out[v.id] = _evidence(v.id, codes[key], by_visit.get(v.id, []))
    return out


def visit_evidence(session: Session, visit: Visit, *, photos: list[Photo] | None = None) -> dict:
    """What evidence a visit has and lacks: complete only when every expected photo arrived and passed."""
    if photos is None:
        photos = session.scalars(select(Photo).where(Photo.visit_id == visit.id)
                                 .order_by(Photo.received_at, Photo.id)).all()
    return _evidence(visit.id, required_items(visit), photos)


def _evidence(visit_id, required: list[str], photos) -> dict:
    """Completeness of one visit from its required item codes and its photos (objects or rows)."""
    by_item: dict[str | None, list[Photo]] = {}
    for ph in photos:
        by_item.setdefault(ph.item_code, []).append(ph)
    missing: list[dict] = []
    items = []
    for code in required:
        group = by_item.get(code, [])
        count = lambda s: sum(1 for ph in group if ph.status == s)  # noqa: E731
        items.append({"item_code": code, "processed": count(PhotoStatus.processed),
                      "pending": count(PhotoStatus.uploading) + count(PhotoStatus.received),
                      "rejected": count(PhotoStatus.rejected) + count(PhotoStatus.expired)})
        if not group:
            missing.append({"item_code": code, "photo_id": None, "reason": "a photo is required and none was declared"})
    reasons = {PhotoStatus.uploading: "upload not finished", PhotoStatus.received: "awaiting processing"}
    for code, group in by_item.items():
        has_good = any(ph.status == PhotoStatus.processed for ph in group)
        for ph in group:
            if ph.status in reasons:
                missing.append({"item_code": code, "photo_id": ph.id,
                                "reason": f"{reasons[ph.status]} ({ph.received_bytes} of {ph.size} bytes arrived)"
                                if ph.status == PhotoStatus.uploading else reasons[ph.status]})
            elif ph.status in (PhotoStatus.rejected, PhotoStatus.expired) and not has_good:
                # A failed photo is still missing evidence until a good one replaces it.
                missing.append({"item_code": code, "photo_id": ph.id,
                                "reason": f"{ph.status}: {ph.status_reason or ''}".strip()})
    return {"visit_id": visit_id, "complete": not missing, "required_items": items, "missing": missing,
            "photos": len(photos), "flagged": [ph.id for ph in photos if ph.flagged]}
