"""Upload service rules that the API tests cannot reach easily: racing instances, flags, geometry."""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from inspections.accounts.scope import principal_for
from inspections.errors import NotFound
from inspections.photos import service as photos
from inspections.photos.models import Photo
from inspections.storage import LocalStorage
from inspections.tickets.enums import Severity
from inspections.tickets.models import Ticket, TicketEvent
from inspections.visits import service as visits
from tests.factories import make_world


def test_haversine_known_distance():
    # Beijing - Shanghai: about 1067 km.
    assert photos.haversine_m(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1_067_000, rel=0.01)
    assert photos.haversine_m(26.6, 106.6, 26.6, 106.6) == 0


def test_two_instances_racing_for_the_same_offset(app, session, tmp_path):
    """Two app instances take the same chunk: one wins, the other gets the offset and leaves no blob."""
    from inspections.db import new_session
    w = make_world(session)
    visit = visits.create(session, school=w.school_a1, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id])
    session.commit()
    p = principal_for(session, w.inspector_a1)
    target = photos.resolve_target(session, p, visit_id=visit.id, item_code="has_charter")
    data = b"x" * 1000
    photo = photos.create_upload(session, target=target, uploaded_by_id=w.inspector_a1.id,
                                 sha256=hashlib.sha256(data).hexdigest(), size=1000, content_type="image/jpeg",
                                 expires_in=timedelta(hours=1))
    session.commit()
    st = LocalStorage(tmp_path)
    other = new_session()
    try:
        stale = other.get(Photo, photo.id)  # instance B read the row at offset 0 too
        # B's read transaction ends before A writes (embedded SQLite: a transaction holds the write lock
        # from its first statement); B keeps its stale copy of the row.
        other.expunge(stale)
        other.rollback()
        assert photos.append_chunk(session, st, photo, offset=0, data=data[:400],
                                   expires_in=timedelta(hours=1)) == 400
        session.commit()
        with pytest.raises(photos.OffsetMismatch) as exc:
            photos.append_chunk(other, st, stale, offset=0, data=data[:300], expires_in=timedelta(hours=1))
    finally:
        other.close()
    assert exc.value.offset == 400
    stored = sorted(p.name for p in (tmp_path / "uploads" / str(photo.id)).iterdir())
    assert len(stored) == 1 and stored[0].startswith("000000000000000-")
    session.refresh(photo)
    assert photo.received_bytes == 400 and len(photo.chunks) == 1


def test_ticket_event_evidence_from_its_school_only(app, session):
    w = make_world(session)
    ticket = Ticket(school_id=w.school_a1.id, item_code="sports_area_m2", title="Sports ground too small",
                    severity=Severity.medium)
    session.add(ticket)
    session.flush()
    event = TicketEvent(ticket_id=ticket.id, actor_id=w.school_user_a1.id, note="fixed", data={})
    session.add(event)
    session.commit()
    own = photos.resolve_target(session, principal_for(session, w.school_user_a1), ticket_event_id=event.id)
    assert own.school_id == w.school_a1.id and own.visit is None and own.item_code == "sports_area_m2"
    from inspections.accounts.enums import Role
    from tests.factories import make_user
    stranger = make_user(session, Role.school, school=w.school_a1b)
    session.commit()
    with pytest.raises(NotFound):
        photos.resolve_target(session, principal_for(session, stranger), ticket_event_id=event.id)
    # The office above the school may see it; a school-scoped photo is then found through school scope.
    assert photos.resolve_target(session, principal_for(session, w.office_a1), ticket_event_id=event.id)


def _visit(**kw):
    from inspections.visits.models import Visit
    return Visit(**kw)


def test_flags_use_exif_first_then_device_values():
    now = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)  # 17:00 in the business zone (Asia/Shanghai)
    visit = _visit(started_at=now, submitted_at=now + timedelta(hours=3))
    from inspections.org.models import School
    school = School(latitude=Decimal("26.647000"), longitude=Decimal("106.630000"))
    photo = Photo(captured_at=now + timedelta(hours=1), latitude=Decimal("26.647100"), longitude=Decimal("106.630100"),
                  sha256="a" * 64)
    kw = {"visit": visit, "school": school, "max_distance_m": 2000, "time_tolerance": timedelta(hours=12),
          "reused_on": []}
    assert photos.integrity_flags(photo, exif={}, **kw) == []
    late = {"captured_at": (now + timedelta(days=5)).isoformat()}
    assert photos.integrity_flags(photo, exif=late, **kw) == [
        {"code": "after_end", "taken": "2026-06-06T09:00:00+00:00", "source": "exif", "hours": 117.0}]
    # Before the visit's day (it starts at 2026-05-31T16:00Z, local midnight) and the tolerance.
    photo.captured_at = now - timedelta(hours=40)
    assert photos.integrity_flags(photo, exif={}, **kw) == [
        {"code": "before_start", "taken": "2026-05-30T17:00:00+00:00", "source": "device", "hours": 23.0}]
    photo.captured_at = None
    assert photos.integrity_flags(photo, exif={"latitude": "26.700000", "longitude": "106.630000"}, **kw) == [
        {"code": "far_from_school", "km": 5.9, "source": "exif"}]
    assert photos.integrity_flags(photo, exif={}, **kw | {"reused_on": ["v-1"]}) == [
        {"code": "reused", "visits": 1}]


def test_a_photo_taken_in_the_morning_of_a_visit_synced_at_night_is_not_flagged():
    """Offline all day: the server starts the visit when the first answer arrives, at 21:00."""
    synced = datetime(2026, 6, 1, 13, 0, tzinfo=timezone.utc)  # 21:00 in the business zone
    visit = _visit(started_at=synced, submitted_at=synced + timedelta(minutes=1))
    morning = Photo(captured_at=synced - timedelta(hours=13), sha256="a" * 64)  # 08:00 the same day
    kw = {"visit": visit, "school": None, "max_distance_m": 2000, "time_tolerance": timedelta(hours=12),
          "reused_on": []}
    assert photos.integrity_flags(morning, exif={}, **kw) == []
    # Done offline over two days: the devices' own times of its photos say when it began.
    visit = _visit(started_at=synced + timedelta(days=2), submitted_at=synced + timedelta(days=2))
    assert photos.integrity_flags(morning, exif={}, **kw | {"visit": visit})[0]["code"] == "before_start"
    assert photos.integrity_flags(morning, exif={}, **kw | {"visit": visit}, declared=morning.captured_at) == []


def test_a_visit_done_before_its_planned_day_is_judged_by_when_it_was_done():
    today = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)
    planned = _visit(planned_for=date(2026, 6, 8))  # not started on the server yet: its answers are still coming
    now_photo = Photo(captured_at=today, sha256="a" * 64)
    kw = {"school": None, "max_distance_m": 2000, "time_tolerance": timedelta(hours=12), "reused_on": []}
    assert photos.integrity_flags(now_photo, exif={}, visit=planned, **kw, declared=today) == []
    started = _visit(planned_for=date(2026, 6, 8), started_at=today + timedelta(minutes=1))
    assert photos.integrity_flags(now_photo, exif={}, visit=started, **kw) == []


def test_visit_window_for_a_visit_never_started():
    v = _visit(planned_for=date(2026, 6, 1))
    assert photos.visit_window(v) is None  # the planned day is no evidence of when it was done
    declared = datetime(2026, 5, 20, 3, 0, tzinfo=timezone.utc)
    start, _ = photos.visit_window(v, declared=declared)
    assert start == datetime(2026, 5, 19, 16, 0, tzinfo=timezone.utc)  # local midnight of the 20th
    assert photos.visit_window(_visit()) is None


def test_tracked_periodic_cleanup(app, session, tmp_path):
    from inspections.jobs.models import JobRecord
    from inspections.photos.tasks import expire_partial_uploads
    w = make_world(session)
    visit = visits.create(session, school=w.school_a1, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id])
    session.commit()
    target = photos.resolve_target(session, principal_for(session, w.inspector_a1), visit_id=visit.id)
    st = LocalStorage(tmp_path)
    old = photos.create_upload(session, target=target, uploaded_by_id=w.inspector_a1.id, sha256="a" * 64, size=10,
                               content_type="image/jpeg", expires_in=timedelta(hours=-1))
    photos.append_chunk(session, st, old, offset=0, data=b"12345", expires_in=timedelta(hours=-1))
    keep = photos.create_upload(session, target=target, uploaded_by_id=w.inspector_a1.id, sha256="b" * 64, size=10,
                                content_type="image/jpeg", expires_in=timedelta(hours=1))
    session.commit()
    # A blob's temporary file left by a worker that died mid-body (hours ago), and one being written now.
    import os
    import time
    folder = tmp_path / "originals" / "ab"
    folder.mkdir(parents=True)
    (folder / ".tmp-dead").write_bytes(b"x" * 100)
    os.utime(folder / ".tmp-dead", (time.time() - 7 * 3600,) * 2)
    (folder / ".tmp-live").write_bytes(b"y" * 100)
    expire_partial_uploads("photos-cleanup-test", storage_url=str(tmp_path))
    session.expire_all()
    assert session.get(Photo, old.id).status == "expired" and session.get(Photo, keep.id).status == "uploading"
    assert not (tmp_path / "uploads" / str(old.id)).exists()
    assert sorted(p.name for p in folder.iterdir()) == [".tmp-live"]
    rec = session.get(JobRecord, "photos-cleanup-test")
    assert rec.status == "finished" and rec.result == {"expired": 1, "temporaries": 1}


def test_store_verified_checks_the_declaration_and_writes_nothing_on_a_mismatch(app, session, tmp_path):
    from inspections.errors import Conflict, ValidationFailed
    from inspections.photos.enums import PhotoStatus
    w = make_world(session)
    visit = visits.create(session, school=w.school_a1, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id])
    session.commit()
    target = photos.resolve_target(session, principal_for(session, w.inspector_a1), visit_id=visit.id,
                                   item_code="has_charter")
    data = b"y" * 500

    def declared():
        return photos.create_upload(session, target=target, uploaded_by_id=w.inspector_a1.id,
                                    sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                                    content_type="image/jpeg", expires_in=timedelta(hours=1))

    st = LocalStorage(tmp_path)
    photo = declared()
    with pytest.raises(ValidationFailed):
        photos.store_verified(session, st, photo, data, sha256=hashlib.sha256(b"other").hexdigest())
    with pytest.raises(ValidationFailed):
        photos.store_verified(session, st, photo, data[:-1], sha256=hashlib.sha256(data[:-1]).hexdigest())
    assert not list(tmp_path.rglob("*")) and photo.status == PhotoStatus.uploading
    assert photos.store_verified(session, st, photo, data, sha256=hashlib.sha256(data).hexdigest()) is False
    assert photo.status == PhotoStatus.received and photo.received_bytes == len(data)
    assert (tmp_path / photos.original_key(photo.sha256)).read_bytes() == data
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [tmp_path / photos.original_key(photo.sha256)]
    with pytest.raises(Conflict):  # already stored: a second call is a finalize's business
        photos.store_verified(session, st, photo, data, sha256=hashlib.sha256(data).hexdigest())
    twin = declared()  # the same bytes again: deduplicated, not written twice
    assert photos.store_verified(session, st, twin, data, sha256=hashlib.sha256(data).hexdigest()) is True
    assert twin.blob_key == photo.blob_key


def _staged_upload(session, st, w, visit, data, *, slow_publish=None):
    target = photos.resolve_target(session, principal_for(session, w.inspector_a1), visit_id=visit.id,
                                   item_code="has_charter")
    digest = hashlib.sha256(data).hexdigest()
    staged = st.stage(photos.original_key(digest))
    staged.write(data[:100])
    staged.write(data[100:])
    staged.ready()
    if slow_publish is not None:
        staged._publish = slow_publish(staged._publish)
    photo = photos.create_upload(session, target=target, uploaded_by_id=w.inspector_a1.id, sha256=digest,
                                 size=len(data), content_type="image/jpeg", expires_in=timedelta(hours=1),
                                 storage=st, data=staged, data_sha256=digest)
    return photo, staged


def test_a_staged_upload_is_stored_before_its_row_commits(app, session, tmp_path):
    """The staged original is published on another thread while the transaction goes on: the commit
    itself waits for it, so a committed row never names a blob that is not stored yet."""
    import time
    w = make_world(session)
    visit = visits.create(session, school=w.school_a1, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id])
    session.commit()
    st = LocalStorage(tmp_path)
    data = b"z" * 5000

    def slow(publish):
        def run():
            time.sleep(0.3)
            publish()
        return run
    photo, staged = _staged_upload(session, st, w, visit, data, slow_publish=slow)
    assert not st.exists(photo.blob_key)  # still being stored
    session.commit()  # no explicit wait_for_blobs: the commit waits
    assert (tmp_path / photo.blob_key).read_bytes() == data
    assert photo.status == "received" and not list(tmp_path.rglob(".tmp-*"))


def test_a_staged_upload_whose_storing_fails_commits_nothing(app, session, tmp_path):
    from inspections.db import new_session
    w = make_world(session)
    visit = visits.create(session, school=w.school_a1, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id])
    session.commit()
    st = LocalStorage(tmp_path)

    def failing(publish):
        def run():
            raise OSError(28, "No space left on device")
        return run
    photo, staged = _staged_upload(session, st, w, visit, b"q" * 5000, slow_publish=failing)
    photo_id = photo.id
    with pytest.raises(OSError):
        session.commit()
    session.rollback()
    staged.discard()
    with new_session() as other:
        assert other.get(Photo, photo_id) is None
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    # Rolled back before any commit (a refusal further on): a later transaction of the same session
    # no longer waits for (or fails on) that blob.
    _, again = _staged_upload(session, st, w, visit, b"r" * 5000, slow_publish=failing)
    session.rollback()
    again.discard()
    session.commit()


def test_item_codes_of_a_published_checklist_are_read_once_and_a_drafts_each_time(app, session):
    """A photo's item is checked against the visit's checklist: a published one never changes, so its
    codes are read once per process; a draft's are read again each time (it may still change)."""
    from sqlalchemy import event, select

    from inspections.db import utcnow
    from inspections.templates.enums import VersionStatus
    from inspections.templates.models import TemplateVersion
    from inspections.templates.service import item_codes, item_codes_of
    make_world(session)
    published = session.scalars(select(TemplateVersion).where(TemplateVersion.status == VersionStatus.published)).first()
    draft = TemplateVersion(template_id=published.template_id, number=99, status=VersionStatus.draft,
                            definition={"items": [{"code": "a"}, {"code": "off", "enabled": False}]},
                            created_at=utcnow())
    session.add(draft)
    session.flush()
    statements: list[str] = []
    engine = session.get_bind()
    record = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert item_codes_of(session, published.id) == item_codes(published)
        before = len(statements)
        assert item_codes_of(session, published.id) == item_codes(published)
        assert len(statements) == before, "a published checklist's codes are not read again"
        assert item_codes_of(session, draft.id) == {"a"}
        draft.definition = {"items": [{"code": "a"}, {"code": "b"}]}
        session.flush()
        assert item_codes_of(session, draft.id) == {"a", "b"}
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _pg_only(app):
    if app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's write transactions already run one at a time")


def _waits_for(first, work):
    """Run `work(session)` and commit it on another thread while `first` holds its transaction open: it
    must wait for `first`, which then commits. Returns what `work` returned once committed."""
    import threading

    from inspections.db import new_session
    out = {}

    def run():
        with new_session() as s:
            value = work(s)
            s.commit()
            out["value"] = value
    t = threading.Thread(target=run)
    t.start()
    t.join(0.5)
    assert t.is_alive()
    first.commit()
    t.join(10)
    assert "value" in out, "the second transaction failed"
    return out["value"]


def test_a_rejection_keeps_bytes_an_uncommitted_upload_found_stored(app, session, tmp_path):
    """Photo A (the bytes declared as JPEG, but a PNG) waits for its job; photo B, the same bytes declared
    as PNG, finds them stored and does not write them; A's rejection runs before B commits. The bytes stay:
    B's processing needs them."""
    import io
    import threading

    from PIL import Image

    from inspections.db import new_session
    from inspections.photos.enums import PhotoStatus
    from inspections.photos.tasks import process_photo
    _pg_only(app)
    w = make_world(session)
    visit = visits.create(session, school=w.school_a1, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id])
    session.commit()
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG")
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    st = LocalStorage(tmp_path)
    target = photos.resolve_target(session, principal_for(session, w.inspector_a1), visit_id=visit.id,
                                   item_code="has_charter")

    def upload(s, ctype):
        t = photos.resolve_target(s, principal_for(s, w.inspector_a1), visit_id=visit.id, item_code="has_charter")
        p = photos.create_upload(s, target=t, uploaded_by_id=w.inspector_a1.id, sha256=digest, size=len(data),
                                 content_type=ctype, expires_in=timedelta(hours=1))
        return p, photos.store_verified(s, st, p, data, sha256=digest)
    assert target is not None
    a, _ = upload(session, "image/jpeg")
    session.commit()
    with new_session() as s_b:
        b, deduplicated = upload(s_b, "image/png")  # B holds the content until it commits
        assert deduplicated is True
        outcome = {}
        job = threading.Thread(target=lambda: outcome.update(a=process_photo(
            str(a.id), storage_url=str(tmp_path), storage=st)))
        job.start()
        job.join(0.5)
        assert job.is_alive()  # A's rejection waits for B's transaction
        s_b.commit()
        b_id = b.id
    job.join(10)
    assert outcome["a"] == PhotoStatus.rejected
    assert (tmp_path / photos.original_key(digest)).read_bytes() == data
    assert process_photo(str(b_id), storage_url=str(tmp_path), storage=st) == PhotoStatus.processed


def test_two_finalizes_of_one_upload_take_turns(app, session, tmp_path):
    """A retried finalize while the first still runs: the second waits, then answers as a retry does
    (the first had moved the chunks it would have assembled)."""
    from inspections.db import new_session
    from inspections.photos.enums import PhotoStatus
    _pg_only(app)
    w = make_world(session)
    visit = visits.create(session, school=w.school_a1, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id])
    session.commit()
    data = bytes(range(256)) * 40
    digest = hashlib.sha256(data).hexdigest()
    st = LocalStorage(tmp_path)
    target = photos.resolve_target(session, principal_for(session, w.inspector_a1), visit_id=visit.id,
                                   item_code="has_charter")
    p = photos.create_upload(session, target=target, uploaded_by_id=w.inspector_a1.id, sha256=digest,
                             size=len(data), content_type="image/jpeg", expires_in=timedelta(hours=1))
    photos.append_chunk(session, st, p, offset=0, data=data[:4000], expires_in=timedelta(hours=1))
    photos.append_chunk(session, st, p, offset=4000, data=data[4000:], expires_in=timedelta(hours=1))
    session.commit()
    pid = p.id
    with new_session() as first:
        assert photos.finalize(first, st, first.get(Photo, pid)) is False  # holds the upload until it commits
        assert _waits_for(first, lambda s: photos.finalize(s, st, s.get(Photo, pid))) is False
    session.expire_all()
    assert session.get(Photo, pid).status == PhotoStatus.received
    assert (tmp_path / photos.original_key(digest)).read_bytes() == data


def test_parallel_retries_of_one_create_take_turns(app, session, tmp_path):
    """The same upload (same id, same bytes) sent twice at once: the second waits for the first and
    answers as a retry does (the same upload), instead of failing on the row's primary key."""
    import uuid as uuid_mod

    from inspections.db import new_session
    from inspections.photos.enums import PhotoStatus
    _pg_only(app)
    w = make_world(session)
    visit = visits.create(session, school=w.school_a1, created_by=w.office_a1, inspector_ids=[w.inspector_a1.id])
    session.commit()
    data = b"w" * 3000
    digest = hashlib.sha256(data).hexdigest()
    st = LocalStorage(tmp_path)
    pid = uuid_mod.uuid4()

    def create(s):
        t = photos.resolve_target(s, principal_for(s, w.inspector_a1), visit_id=visit.id, item_code="has_charter")
        return photos.create_upload(s, target=t, uploaded_by_id=w.inspector_a1.id, sha256=digest, size=len(data),
                                    content_type="image/jpeg", expires_in=timedelta(hours=1), id=pid,
                                    storage=st, data=data, data_sha256=digest)
    with new_session() as first:
        create(first)
        assert _waits_for(first, lambda s: create(s).status) == PhotoStatus.received
    assert session.scalar(select(func.count()).select_from(Photo).where(Photo.id == pid)) == 1
