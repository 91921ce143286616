"""Concurrent devices through gunicorn (several processes) on PostgreSQL: no lost update, no missed change."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from inspections.accounts import service as accounts
from inspections.db import new_session
from inspections.visits.models import Response, Visit
from sync.client import HttpTransport, SyncClient
from sync.models import Conflict
from tests.factories import make_world
from tests.sync.server import gunicorn

ITEMS = ["enrolment", "teachers_above_required_qualification", "key_teachers_county_level_or_above",
         "pe_art_teachers", "teaching_aux_area_m2", "sports_area_m2", "equipment_value_yuan", "multimedia_classrooms"]


@pytest.fixture
def server(base_app, app, tmp_path):
    if base_app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL")
    with gunicorn(base_app.config["DATABASE_URL"], secret=base_app.config["SECRET_KEY"],
                  var_dir=str(tmp_path)) as url:
        yield url


def _token(session, user) -> str:
    secret, _ = accounts.issue_token(session, user=user)
    session.commit()
    return secret


def test_concurrent_devices_no_lost_update_no_missed_change(server, session, tmp_path):
    w = make_world(session)
    token = _token(session, w.inspector_a1)
    setup = SyncClient(str(tmp_path / "setup.db"), HttpTransport(server, token))
    vid = setup.create("visit", {"school_id": str(w.school_a1.id)})
    shared = setup.create("response", {"visit_id": vid, "item_code": "enrolment", "value": 600})
    setup.sync()

    devices = [SyncClient(str(tmp_path / f"d{n}.db"), HttpTransport(server, token), device_id=f"dev-{n}")
               for n in range(8)]
    for d in devices:
        d.pull()
    # Every device edits the shared answer's note from the same base (only one may win, the rest
    # must be recorded conflicts, never silently lost) and answers one item of its own.
    for n, d in enumerate(devices):
        d.update("response", shared, {"note": f"device {n}"})
        if n < len(ITEMS) - 1:
            d.create("response", {"visit_id": vid, "item_code": ITEMS[n + 1], "value": n})
        d.update("visit", vid, {"notes": f"device {n}"})

    stop = threading.Event()
    reader = SyncClient(str(tmp_path / "reader.db"), HttpTransport(server, token), device_id="reader")
    reader.pull()

    def keep_pulling():
        while not stop.is_set():
            reader.pull()

    rt = threading.Thread(target=keep_pulling)
    rt.start()
    with ThreadPoolExecutor(len(devices)) as pool:
        results = list(pool.map(lambda d: d.push(), devices))
    stop.set()
    rt.join()
    reader.pull()

    statuses = {}
    for counts in results:
        for k, v in counts.items():
            statuses[k] = statuses.get(k, 0) + v
    assert "rejected" not in statuses, statuses
    with new_session() as s:
        r = s.get(Response, uuid.UUID(shared))
        visit = s.get(Visit, uuid.UUID(vid))
        n_conflicts = s.scalar(select(func.count()).select_from(Conflict))
        answers = s.scalar(select(func.count()).select_from(Response).where(Response.visit_id == visit.id))
        # one note edit and one notes edit won; each other device's value is kept as a conflict
        assert r.version == 2 and n_conflicts == 2 * (len(devices) - 1)
        assert answers == len(ITEMS)
        server_state = {str(x.id): x.version for x in s.scalars(select(Response).where(Response.visit_id == visit.id))}
        visit_version = visit.version
    # the reader, pulling all along, ends with exactly the server's state
    assert {x["id"]: x["version"] for x in reader.all("response")} == server_state
    assert reader.get("visit", vid)["version"] == visit_version
    for n, d in enumerate(devices):
        d.pull()
        state, reason = d.status("response", shared)
        assert state in ("synced", "conflict")
        if state == "conflict":
            assert "server has" in reason
    assert sum(d.status("response", shared)[0] == "conflict" for d in devices) == len(devices) - 1
