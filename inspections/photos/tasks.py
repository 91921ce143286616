"""RQ jobs of the photo slice: they take ids and plain settings, and open their own session."""
from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import timedelta

from sqlalchemy import select

from inspections import storage as blob_storage
from inspections.db import new_session, utcnow
from inspections.jobs.service import tracked
from inspections.org.models import School
from inspections.photos import imaging
from inspections.photos import service as photos
from inspections.photos.enums import PhotoStatus
from inspections.photos.models import Photo
from inspections.visits.models import Visit

log = logging.getLogger(__name__)


def job_id(photo_id) -> str:
    """Deterministic: enqueueing the same photo twice never processes it twice."""
    return f"photo-{photo_id}"


def _storage(storage_url: str, endpoint_url: str | None, region: str | None):
    return blob_storage.from_url(storage_url, endpoint_url=endpoint_url, region=region)


def process_photo(photo_id: str, *, storage_url: str, endpoint_url: str | None = None, region: str | None = None,
                  max_pixels: int = imaging.DEFAULT_MAX_PIXELS,
                  max_full_decode_pixels: int = imaging.DEFAULT_MAX_FULL_DECODE_PIXELS, max_distance_m: float = 2000,
                  time_tolerance_hours: float = 12, storage=None, session=None) -> str:
    """Verify a received photo, write its derivatives, extract evidence and flags; returns the new status.

    Idempotent: a processed or rejected photo is left alone; derivatives are keyed by content hash.
    `session`: the caller's (a job's) session, committed here; else one of its own.
    """
    st = storage or _storage(storage_url, endpoint_url, region)
    with (contextlib.nullcontext(session) if session is not None else new_session()) as session:
        photo = session.get(Photo, uuid.UUID(str(photo_id)))
        if photo is None or photo.status != PhotoStatus.received:
            return photo.status if photo else "missing"
        data = b"".join(st.open(photo.blob_key))
        try:
            out = imaging.process(data, declared_type=photo.content_type, max_pixels=max_pixels,
                                  max_full_decode_pixels=max_full_decode_pixels)
        except imaging.ImageRejected as exc:
            photo.status, photo.status_reason = PhotoStatus.rejected, exc.reason[:300]
            photo.processed_at = utcnow()
            # Rejected bytes are not kept, unless another photo still needs them: decided under the content
            # lock, so an upload of the same bytes either is committed by now or will store them itself.
            photos.lock_content(session, photo.sha256)
            others = session.scalar(select(Photo.id).where(Photo.blob_key == photo.blob_key, Photo.id != photo.id,
                                                           Photo.status.in_([PhotoStatus.received,
                                                                             PhotoStatus.processed])).limit(1))
            if others is None:
                st.delete(photo.blob_key)
            photo.blob_key = None
            # Evidence of a ticket step that no longer holds sends the ticket back (same transaction).
            from inspections.tickets import service as tickets
            tickets.evidence_rejected(session, photo)
            session.commit()
            log.info("photo %s rejected: %s", photo_id, exc.reason)
            return photo.status
        if not st.exists(photos.display_key(photo.sha256)):
            st.put(photos.display_key(photo.sha256), out.display, content_type="image/jpeg")
        if not st.exists(photos.thumb_key(photo.sha256)):
            st.put(photos.thumb_key(photo.sha256), out.thumbnail, content_type="image/jpeg")
        exif = out.evidence()
        visit = session.get(Visit, photo.visit_id) if photo.visit_id else None
        school = session.get(School, photo.school_id) if photo.school_id else None
        flags = photos.integrity_flags(photo, exif=exif, visit=visit, school=school, max_distance_m=max_distance_m,
                                       time_tolerance=timedelta(hours=time_tolerance_hours),
                                       reused_on=photos.reused_on(session, photo),
                                       declared=photos.earliest_declared(session, visit.id) if visit else None)
        photo.evidence = {**(photo.evidence or {}), "exif": exif, "flags": flags,
                          "display": {"width": out.display_size[0], "height": out.display_size[1]},
                          "thumbnail": {"width": out.thumbnail_size[0], "height": out.thumbnail_size[1]}}
        photo.flagged = bool(flags)
        photo.status, photo.status_reason, photo.processed_at = PhotoStatus.processed, None, utcnow()
        session.commit()
        return photo.status


@tracked("process_photo")
def process_photo_job(session, *, photo_id: str, **settings) -> dict:
    """The photo queue's job (`photo-<id>`, through the outbox): process_photo, recorded; {"status": ...}."""
    # The job's own session: a second one would wait on the first's SQLite write lock.
    return {"photo_id": photo_id, "status": str(process_photo(photo_id, session=session, **settings))}


# A blob's temporary file older than this belongs to a process that died writing it (no request lives so long).
TEMPORARY_MAX_AGE_S = 6 * 3600


def cleanup_expired_uploads(*, storage_url: str, endpoint_url: str | None = None, region: str | None = None,
                            storage=None, limit: int = 500) -> int:
    """Periodic: expire abandoned partial uploads and delete their chunks; returns how many. Also drops
    blob temporaries left by a process that died mid-write (logged)."""
    st = storage or _storage(storage_url, endpoint_url, region)
    total = 0
    with new_session() as session:
        while True:
            n = photos.expire_uploads(session, st, limit=limit)
            session.commit()
            total += n
            if n < limit:
                _drop_temporaries(st)
                return total


def _drop_temporaries(st) -> int:
    n = st.drop_temporaries(older_than_s=TEMPORARY_MAX_AGE_S)
    if n:
        log.info("dropped %d temporary blob file(s) left by an interrupted write", n)
    return n


@tracked("photos_cleanup")
def expire_partial_uploads(session, *, storage_url: str, endpoint_url: str | None = None,
                           region: str | None = None) -> dict:
    """Periodic (tracked) form of the cleanup, for the `periodic` queue; returns {"expired": n}."""
    st = _storage(storage_url, endpoint_url, region)
    total = 0
    while True:
        n = photos.expire_uploads(session, st, limit=500)
        session.commit()
        total += n
        if n < 500:
            return {"expired": total, "temporaries": _drop_temporaries(st)}
