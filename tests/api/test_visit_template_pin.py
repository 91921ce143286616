"""A visit is scored by the standard in force for its school on its day, and the server decides it on every
way in: REST, sync push (one by one and in bulk), schedules (API and web). A device's pin of another version
of a template that applies to the school is replaced by the version in force (a visit planned offline keeps
its answers); a version of any other template is a field error naming the version in force.

An outside tester pinned the national version under a stricter county standard, and a county version
before its effective date: both were applied as asked."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from inspections import clock
from inspections.templates import service as templates
from inspections.visits.models import Response, Visit
from tests.factories import answer_value, make_world, token_for
from tests.sync.helpers import mutation, push
from tests.web.helpers import csrf, login


def _version(session, tpl, r1, effective_from, publish=True):
    v = templates.create_version(session, tpl, overlay={"set_thresholds": {"R1": {"primary": r1}}},
                                 effective_from=effective_from)
    if publish:
        templates.publish(session, v)
    return v


@pytest.fixture
def world(session):
    w = make_world(session)
    today = clock.today()
    w.national = templates.ensure_builtin(session)[0]
    a1 = templates.create_template(session, code="county-a1", name="A1", jurisdiction=w.county_a1,
                                   parent=w.national.template)
    w.v1 = _version(session, a1, "4.5", today)                           # in force from today
    w.v2 = _version(session, a1, "4.6", today + timedelta(days=30))      # published, not effective yet
    w.draft = _version(session, a1, "4.7", today + timedelta(days=60), publish=False)
    b1 = templates.create_template(session, code="county-b1", name="B1", jurisdiction=w.county_b1,
                                   parent=w.national.template)
    w.b1 = _version(session, b1, "4.5", None)
    session.commit()
    w.soon = (today + timedelta(days=5)).isoformat()     # v1 in force
    w.later = (today + timedelta(days=40)).isoformat()   # v2 in force
    return w


def _pin(w, name):
    return str(uuid.uuid4()) if name == "unknown" else (str(getattr(w, name).id) if name else None)


# (the device's pin, the day) -> the version pinned, or None: refused with a field error
CASES = [
    ("national", "soon", "v1"),   # the tester's case: the national standard under the county's
    ("v2", "soon", "v1"),         # the tester's case: a county version before its effective date
    ("v1", "soon", "v1"),
    (None, "soon", "v1"),
    ("v1", "later", "v2"),        # planned offline with the version it had; a newer one applies that day
    ("national", "later", "v2"),
    ("b1", "soon", None),         # another county's template
    ("draft", "soon", None),
    ("unknown", "soon", None),
]


def _visits(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Visit))


def _in_force_message(w, day) -> str:
    v = w.v1 if day == "soon" else w.v2
    return (f"is not a published version of a template that applies to this school; the version in force for it "
            f"on {getattr(w, day)} is county-a1 version {v.number} ({v.id})")


@pytest.mark.parametrize("asked, day, pinned", CASES)
def test_rest_post_visits_pins_the_version_in_force(client, session, world, asked, day, pinned):
    before = _visits(session)
    body = {"school_id": str(world.school_a1.id), "planned_for": getattr(world, day)}
    if asked:
        body["template_version_id"] = _pin(world, asked)
    r = client.post("/api/v1/visits", json=body, headers=token_for(session, world.inspector_a1))
    if pinned is None:
        assert r.status_code == 422 and r.json["errors"] == {"template_version_id": [_in_force_message(world, day)]}
        assert _visits(session) == before
    else:
        assert r.status_code == 201, r.json
        assert r.json["template_version_id"] == str(getattr(world, pinned).id)
        assert session.get(Visit, uuid.UUID(r.json["id"])).template_version_id == getattr(world, pinned).id


@pytest.mark.parametrize("bulk", [True, False])
@pytest.mark.parametrize("asked, day, pinned", CASES)
def test_sync_push_create_pins_the_version_in_force_and_keeps_the_answers(client, session, world, asked, day,
                                                                            pinned, bulk):
    """A device planned offline and answered in the same batch: the visit is made with the version in
    force, the record returned shows it, the answers stand. In bulk (an all-create batch) and one by one
    (a refused mutation in the batch sends it down that path)."""
    h = token_for(session, world.inspector_a1)
    vid = uuid.uuid4()
    fields = {"school_id": str(world.school_a1.id), "planned_for": getattr(world, day)}
    if asked:
        fields["template_version_id"] = _pin(world, asked)
    batch = [mutation("visit", "create", id=vid, **fields),
             mutation("response", "create", visit_id=str(vid), item_code="enrolment", value=answer_value("enrolment"))]
    if not bulk:
        batch.append(mutation("ticket", "create", school_id=str(world.school_a1.id)))  # refused: one by one
    before = _visits(session)
    results = push(client, h, *batch, device_id="bulk" if bulk else "slow")
    if pinned is None:
        assert results[0]["status"] == "rejected"
        assert results[0]["errors"] == {"fields.template_version_id": [_in_force_message(world, day)]}
        assert _visits(session) == before
        return
    assert [r["status"] for r in results[:2]] == ["applied", "applied"], results
    assert results[0]["record"]["template_version_id"] == str(getattr(world, pinned).id)
    session.expire_all()
    assert session.get(Visit, vid).template_version_id == getattr(world, pinned).id
    assert session.scalar(select(func.count()).select_from(Response).where(Response.visit_id == vid)) == 1


def test_schedules_pin_the_version_in_force_on_each_day(client, session, world):
    """Schedules name no version: each planned visit pins the one in force on its day (API and web form)."""
    h = token_for(session, world.office_a1)
    r = client.post("/api/v1/planning/schedules", headers=h, json={
        "school_id": str(world.school_a1.id), "recurrence": "once", "start_date": world.soon,
        "inspector_ids": [str(world.inspector_a1.id)]})
    assert r.status_code == 201, r.json
    login(client, world.office_a1.username)
    r = client.post("/web/planning/schedules", data={
        "csrf_token": csrf(client.get("/web/planning")), "school_id": str(world.school_a1.id), "recurrence": "once",
        "every": "1", "start_date": world.later, "inspector_id": str(world.inspector_a1.id)})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:2000]
    session.expire_all()
    pinned = dict(session.execute(select(Visit.planned_for, Visit.template_version_id)
                                  .where(Visit.school_id == world.school_a1.id)).all())
    assert pinned == {date.fromisoformat(world.soon): world.v1.id, date.fromisoformat(world.later): world.v2.id}


@pytest.mark.parametrize("way", ["rest", "push"])
def test_a_planned_visit_moved_to_another_day_takes_the_version_in_force_then(client, session, world, way):
    """Moving a visit not yet started across a new version's first day pins that version (the same bypass
    as pinning it by hand); a visit already answered keeps the checklist it was answered on."""
    h = token_for(session, world.inspector_a1)
    planned = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id), "planned_for": world.soon},
                          headers=h).json
    started = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id), "planned_for": world.soon},
                          headers=h).json
    r = client.put(f"/api/v1/visits/{started['id']}/responses", headers=h,
                   json={"answers": [{"item_code": "enrolment", "value": answer_value("enrolment")}]})
    assert r.status_code == 200, r.json
    for v in (planned, started):
        if way == "rest":
            current = client.get(f"/api/v1/visits/{v['id']}", headers=h).json
            r = client.patch(f"/api/v1/visits/{v['id']}", json={"planned_for": world.later, "version": current["version"]},
                             headers=h)
            assert r.status_code == 200, r.json
        else:
            current = client.get(f"/api/v1/visits/{v['id']}", headers=h).json
            (res,) = push(client, h, mutation("visit", "update", id=v["id"], base_version=current["version"],
                                              planned_for=world.later))
            assert res["status"] == "applied", res
    session.expire_all()
    assert session.get(Visit, uuid.UUID(planned["id"])).template_version_id == world.v2.id
    assert session.get(Visit, uuid.UUID(started["id"])).template_version_id == world.v1.id
    # Back to a day of the first version: the first version again.
    current = client.get(f"/api/v1/visits/{planned['id']}", headers=h).json
    assert client.patch(f"/api/v1/visits/{planned['id']}", json={"planned_for": world.soon,
                                                                 "version": current["version"]}, headers=h).status_code == 200
    session.expire_all()
    assert session.get(Visit, uuid.UUID(planned["id"])).template_version_id == world.v1.id


def test_a_version_with_no_date_takes_over_from_its_publication(client, session, world):
    """"No date: in force from publication": after the county's dated versions, an undated one published
    today is the one visits planned from today pin (it ranked below every dated version and never applied)."""
    undated = templates.create_version(session, world.v2.template, overlay={"set_thresholds": {"R1": {"primary": "4.8"}}},
                                       effective_from=None)
    # A draft is made from the latest published version; v2 (not effective yet) is that one.
    templates.publish(session, undated)
    session.commit()
    assert undated.effective_from == clock.today()
    path = world.school_a1.jurisdiction_path
    assert templates.effective_version(session, jurisdiction_path=path, on=date.fromisoformat(world.soon)) == undated
    # The day before, no county version had started: the national standard applies.
    assert templates.effective_version(session, jurisdiction_path=path, on=clock.today() - timedelta(days=1)) \
        == world.national
    h = token_for(session, world.inspector_a1)
    r = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id), "planned_for": world.soon}, headers=h)
    assert r.status_code == 201 and r.json["template_version_id"] == str(undated.id), r.json
