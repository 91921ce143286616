"""Planning API: schedules CRUD in scope, planned visits by state, assigning inspectors."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from inspections import clock
from inspections.accounts.scope import principal_for

from inspections.audit.models import AuditRecord

from inspections.planning.models import VisitSchedule
from inspections.visits import service as visits
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Visit
from tests.factories import make_user, make_world, token_for
from inspections.accounts.enums import Role

SCHEDULES = "/api/v1/planning/schedules"
PLANNED = "/api/v1/planning/visits"


@pytest.fixture
def world(session):
    w = make_world(session)
    w.h = {r: token_for(session, getattr(w, r)) for r in
           ("admin", "office_a", "office_a1", "inspector_a1", "inspector_assigned", "school_user_a1")}
    return w


def _body(w, **kw):
    today = clock.today()
    return {"school_id": str(w.school_a1.id), "recurrence": "monthly", "start_date": (today + timedelta(days=3)).isoformat(),
            "inspector_ids": [str(w.inspector_a1.id)]} | kw


def test_create_schedule_plans_visits_for_the_horizon(client, session, world):
    r = client.post(SCHEDULES, json=_body(world), headers=world.h["office_a1"])
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    assert r.json["inspector_ids"] == [str(world.inspector_a1.id)] and r.json["recurrence"] == "monthly"
    planned = client.get(PLANNED, headers=world.h["office_a1"]).json["items"]
    assert len(planned) == 2  # +3 days and about a month later, within 60 days
    assert {p["schedule_id"] for p in planned} == {sid} and {p["state"] for p in planned} == {"upcoming"}
    assert session.scalar(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.entity == "visit_schedule", AuditRecord.action == "create")) == 1
    # The inspector reads its own schedules; another inspector sees none; a school may not look.
    assert [s["id"] for s in client.get(SCHEDULES, headers=world.h["inspector_a1"]).json["items"]] == [sid]
    assert client.get(SCHEDULES, headers=world.h["inspector_assigned"]).json["items"] == []
    assert client.get(f"{SCHEDULES}/{sid}", headers=world.h["inspector_assigned"]).status_code == 404
    assert client.get(SCHEDULES, headers=world.h["school_user_a1"]).status_code == 403
    assert client.get(PLANNED, headers=world.h["school_user_a1"]).status_code == 403


@pytest.mark.parametrize("body,field", [
    ({"recurrence": "weekly"}, "recurrence"),
    ({"every": 0}, "every"),
    ({"start_date": "2027-02-30"}, "start_date"),
    ({"end_date": "2020-01-01"}, "end_date"),
    ({"colour": "red"}, "colour"),
])
def test_bad_schedule_is_422_and_writes_nothing(client, session, world, body, field):
    r = client.post(SCHEDULES, json=_body(world, **body), headers=world.h["office_a1"])
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert field in r.json["errors"], r.json
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 0
    assert session.scalar(select(func.count()).select_from(Visit)) == 0


def test_scope_of_schedules(client, session, world):
    # county A1's office may not plan for a school of county A2 (422, like visits), nor see B1's schedules.
    r = client.post(SCHEDULES, json=_body(world, school_id=str(world.school_a2.id), inspector_ids=[]),
                    headers=world.h["office_a1"])
    assert r.status_code == 422 and "school_id" in r.json["errors"]
    r = client.post(SCHEDULES, json=_body(world, school_id=str(world.school_b1.id), inspector_ids=[]),
                    headers=world.h["admin"])
    sid = r.json["id"]
    for role in ("office_a", "office_a1"):
        assert client.get(f"{SCHEDULES}/{sid}", headers=world.h[role]).status_code == 404
        assert client.patch(f"{SCHEDULES}/{sid}", json={"active": False}, headers=world.h[role]).status_code == 404
        assert client.delete(f"{SCHEDULES}/{sid}", headers=world.h[role]).status_code == 404
    assert client.patch(f"{SCHEDULES}/{sid}", json={"active": False}, headers=world.h["inspector_a1"]).status_code == 403
    assert client.patch(f"{SCHEDULES}/{sid}", json={"active": False, "version": 1},
                        headers=world.h["admin"]).json["active"] is False
    assert client.patch(f"{SCHEDULES}/{sid}", json={"notes": "x", "version": 1},
                        headers=world.h["admin"]).status_code == 409


def test_patch_rejects_out_of_jurisdiction_inspector_and_delete_cancels_future(client, session, world):
    sid = client.post(SCHEDULES, json=_body(world), headers=world.h["office_a1"]).json["id"]
    r = client.patch(f"{SCHEDULES}/{sid}", json={"inspector_ids": [str(world.inspector_assigned.id)]},
                     headers=world.h["office_a1"])
    assert r.status_code == 422 and "inspector_ids" in r.json["errors"]
    r = client.delete(f"{SCHEDULES}/{sid}", headers=world.h["office_a1"])
    assert r.status_code == 200 and r.json == {"cancelled_visits": 2}
    session.expire_all()
    assert set(session.scalars(select(Visit.status))) == {VisitStatus.cancelled}
    assert client.get(PLANNED, headers=world.h["office_a1"]).json["items"] == []


def _visit(session, w, school, days_from_today, inspectors=()):
    v = visits.create(session, school=school, created_by=w.office_a, inspector_ids=[i.id for i in inspectors],
                      planned_for=clock.today() + timedelta(days=days_from_today))
    session.commit()
    return v


def test_planned_visits_by_state_filters_and_pages(client, session, world):
    up = _visit(session, world, world.school_a1, 5, [world.inspector_a1])
    late = _visit(session, world, world.school_a1, -2)
    missed = _visit(session, world, world.school_a2, -30, [world.inspector_assigned])
    _visit(session, world, world.school_b1, -30)  # out of city A's scope
    h = world.h["office_a"]

    def ids(**q):
        return [i["id"] for i in client.get(PLANNED, query_string=q, headers=h).json["items"]]
    assert ids() == [str(missed.id), str(late.id), str(up.id)]  # by planned date
    assert ids(state="upcoming") == [str(up.id)]
    assert ids(state="late") == [str(late.id)]
    assert ids(state="missed") == [str(missed.id)]
    assert ids(county_id=str(world.county_a2.id)) == [str(missed.id)]
    assert ids(county_id=str(world.county_b1.id)) == []  # another city's county: nothing, not an error
    assert ids(school_id=str(world.school_a1.id), state="late") == [str(late.id)]
    assert ids(inspector_id=str(world.inspector_a1.id)) == [str(up.id)]
    page1 = client.get(PLANNED, query_string={"limit": 2}, headers=h).json
    page2 = client.get(PLANNED, query_string={"limit": 2, "cursor": page1["next_cursor"]}, headers=h).json
    assert [i["id"] for i in page1["items"] + page2["items"]] == ids() and page2["next_cursor"] is None
    # County A1's office sees only A1; the assigned inspector its own school's visit.
    assert {i["id"] for i in client.get(PLANNED, headers=world.h["office_a1"]).json["items"]} == {str(up.id), str(late.id)}
    assert [i["id"] for i in client.get(PLANNED, headers=world.h["inspector_assigned"]).json["items"]] == [str(missed.id)]
    r = client.get(PLANNED, query_string={"state": "soon"}, headers=h)
    assert r.status_code == 422 and "query.state" in r.json["errors"]


def test_assign_inspectors(client, session, world):
    v = _visit(session, world, world.school_a1, 5)
    url = f"{PLANNED}/{v.id}/inspectors"
    # Out-of-jurisdiction inspector: 422, nothing changes.
    r = client.put(url, json={"inspector_ids": [str(world.inspector_assigned.id)]}, headers=world.h["office_a1"])
    assert r.status_code == 422 and "inspector_ids" in r.json["errors"]
    other_county = make_user(session, Role.inspector, jurisdiction=world.county_a2)
    session.commit()
    r = client.put(url, json={"inspector_ids": [str(other_county.id)]}, headers=world.h["office_a"])
    assert r.status_code == 422
    # Not an inspector at all.
    r = client.put(url, json={"inspector_ids": [str(world.office_a1.id)]}, headers=world.h["office_a1"])
    assert r.status_code == 422
    session.expire_all()
    assert session.get(Visit, v.id).inspector_ids == [] and session.get(Visit, v.id).version == 1
    r = client.put(url, json={"inspector_ids": [str(world.inspector_a1.id)], "version": 1}, headers=world.h["office_a1"])
    assert r.status_code == 200 and r.json["inspector_ids"] == [str(world.inspector_a1.id)] and r.json["version"] == 2
    assert session.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "assign")) == 1
    # Scope: county A2's inspector's office... office of another county gets 404; roles below office 403.
    office_b = make_user(session, Role.office, jurisdiction=world.county_b1)
    session.commit()
    assert client.put(url, json={"inspector_ids": [str(world.inspector_a1.id)]},
                      headers=token_for(session, office_b)).status_code == 404
    assert client.put(url, json={"inspector_ids": [str(world.inspector_a1.id)]},
                      headers=world.h["inspector_a1"]).status_code == 403
    assert client.put(url, json={"inspector_ids": [str(world.inspector_a1.id)]},
                      headers=world.h["school_user_a1"]).status_code == 403
    # A visit already started cannot be reassigned.
    session.expire_all()  # the API put inspector_a1 on it
    visits.put_responses(session, session.get(Visit, v.id), answers=[{"item_code": "enrolment", "value": 600}],
                         actor=principal_for(session, world.inspector_a1))
    session.commit()
    assert client.put(url, json={"inspector_ids": [str(world.inspector_a1.id)]},
                      headers=world.h["office_a1"]).status_code == 409


def test_grace_days_setting_moves_late_to_missed(app, client, session, world):
    v = _visit(session, world, world.school_a1, -3)
    h = world.h["office_a"]

    def state_ids(state):
        return [i["id"] for i in client.get(PLANNED, query_string={"state": state}, headers=h).json["items"]]
    assert state_ids("late") == [str(v.id)]  # 3 days past, within the default 7
    app.config["VISIT_GRACE_DAYS"] = 2
    try:
        assert state_ids("late") == [] and state_ids("missed") == [str(v.id)]
    finally:
        app.config["VISIT_GRACE_DAYS"] = 7


def test_editing_a_schedule_replans_its_future_visits(client, session, world):
    """Monthly from tomorrow -> monthly from day 10: future dates the new rule drops are cancelled, new
    dates are planned with the new inspector; a visit already started is left alone."""
    from inspections.planning.models import ScheduleOccurrence
    h = world.h["office_a1"]
    today = clock.today()
    sid = client.post(SCHEDULES, json=_body(world, start_date=(today + timedelta(days=1)).isoformat()),
                      headers=h).json["id"]
    client.patch(f"{SCHEDULES}/{sid}", json={"active": True}, headers=h)  # no change: nothing re-planned

    def mine():
        session.expire_all()
        return {v.planned_for: v for v in session.scalars(
            select(Visit).join(ScheduleOccurrence, ScheduleOccurrence.visit_id == Visit.id)
            .where(ScheduleOccurrence.schedule_id == uuid.UUID(sid)))}
    before = mine()
    assert len(before) == 2 and {v.status for v in before.values()} == {VisitStatus.planned}
    first, second = sorted(before)
    # The first visit has started on site: it must not move.
    started = before[first]
    visits.transition(session, started, VisitStatus.in_progress)
    session.commit()
    other = make_user(session, Role.inspector, jurisdiction=world.county_a1)
    session.commit()
    r = client.patch(f"{SCHEDULES}/{sid}", json={"start_date": (today + timedelta(days=10)).isoformat(),
                                                 "inspector_ids": [str(other.id)]}, headers=h)
    assert r.status_code == 200, r.json
    session.expire_all()
    after = {v.id: v for v in session.scalars(select(Visit))}
    assert after[started.id].status == VisitStatus.in_progress and after[started.id].inspector_ids == [
        world.inspector_a1.id]
    assert after[before[second].id].status == VisitStatus.cancelled  # not a date of the new rule
    planned = sorted(v.planned_for for v in mine().values() if v.status == VisitStatus.planned)
    assert len(planned) == 2 and planned[0] == today + timedelta(days=10)  # and a month after
    assert all(v.inspector_ids == [other.id] for v in mine().values() if v.status == VisitStatus.planned)
    audit = session.scalars(select(AuditRecord).where(AuditRecord.entity == "visit_schedule",
                                                      AuditRecord.action == "update")
                            .order_by(AuditRecord.at.desc())).first()
    assert audit.data["cancelled_visits"] == 1
    # Pausing cancels what is still planned ahead.
    r = client.patch(f"{SCHEDULES}/{sid}", json={"active": False}, headers=h)
    assert r.status_code == 200
    assert not [v for v in mine().values() if v.status == VisitStatus.planned]


def test_new_inspectors_on_a_schedule_take_over_its_planned_visits(client, session, world):
    h = world.h["office_a1"]
    sid = client.post(SCHEDULES, json=_body(world), headers=h).json["id"]
    other = make_user(session, Role.inspector, jurisdiction=world.county_a1)
    session.commit()
    r = client.patch(f"{SCHEDULES}/{sid}", json={"inspector_ids": [str(other.id)]}, headers=h)
    assert r.status_code == 200, r.json
    items = client.get(PLANNED, headers=h).json["items"]
    assert len(items) == 2 and all(i["inspector_ids"] == [str(other.id)] for i in items)
    assert session.scalar(select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "assign")) == 2


def test_an_identical_schedule_is_refused_and_writes_nothing(client, session, world):
    assert client.post(SCHEDULES, json=_body(world), headers=world.h["office_a1"]).status_code == 201
    visits_before = session.scalar(select(func.count()).select_from(Visit))
    again = client.post(SCHEDULES, json=_body(world, notes="again"), headers=world.h["office_a1"])
    assert again.status_code == 409 and "already has this schedule" in again.json["detail"], again.json
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 1
    assert session.scalar(select(func.count()).select_from(Visit)) == visits_before
    # Another interval (or other inspectors) is another schedule.
    assert client.post(SCHEDULES, json=_body(world, every=2), headers=world.h["office_a1"]).status_code == 201


def test_schedule_notes_have_a_limit_in_the_domain(session, world):
    from inspections.errors import ValidationFailed
    from inspections.planning import service as planning
    with pytest.raises(ValidationFailed) as e:
        planning.create_schedule(session, school=world.school_a1, created_by=world.office_a1,
                                 recurrence=planning.Recurrence.monthly, start_date=clock.today(),
                                 inspector_ids=[world.inspector_a1.id], notes="x" * 2001)
    assert "at most 2,000 characters" in str(e.value.fields["notes"][0])


# 30 November 2026 in UTC: 15:46 is 23:46 on the 30th in Beijing, 17:46 is already 01:46 on 1 December.
@pytest.mark.parametrize("utc_hour,business_today,expected", [
    (15, "2026-11-30", ["2026-11-30", "2026-12-30"]),            # through 2027-01-29 (60 days)
    (17, "2026-12-01", ["2026-12-30", "2027-01-30"]),            # the 30th of November is already past
])
def test_a_new_schedule_plans_from_the_business_day_not_the_utc_day(client, session, world, monkeypatch,
                                                                    utc_hour, business_today, expected):
    from datetime import datetime, timezone
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 30, utc_hour, 46, tzinfo=timezone.utc))
    assert clock.today().isoformat() == business_today
    r = client.post(SCHEDULES, json=_body(world, start_date="2026-01-30"), headers=world.h["office_a1"])
    assert r.status_code == 201, r.json
    planned = client.get(PLANNED, headers=world.h["office_a1"], query_string={"state": "upcoming"}).json["items"]
    assert [p["planned_for"] for p in planned] == expected
    # Nothing was planned for a day already past (no late or missed visit from a schedule just made).
    assert client.get(PLANNED, headers=world.h["office_a1"], query_string={"state": "late"}).json["items"] == []
    assert session.scalar(select(func.count()).select_from(Visit)) == len(expected)


def test_deleting_a_schedule_cancels_its_late_visits_too(client, session, world, monkeypatch):
    """A visit of the schedule whose day has passed (late, still planned) is cancelled with the others, not left
    planned without its schedule to turn missed."""
    from datetime import datetime, timezone
    from inspections.planning import service as planning
    from inspections.planning.models import ScheduleOccurrence
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 20, 17, 46, tzinfo=timezone.utc))  # 21 Nov
    sid = client.post(SCHEDULES, json=_body(world, start_date="2026-01-30"),
                      headers=world.h["office_a1"]).json["id"]
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 3, 17, 46, tzinfo=timezone.utc))  # 4 Dec
    planning.generate(session, today=clock.today(), schedule_ids=[uuid.UUID(sid)])
    session.commit()
    late = client.get(PLANNED, headers=world.h["office_a1"], query_string={"state": "late"}).json["items"]
    assert [(p["planned_for"], p["schedule_id"]) for p in late] == [("2026-11-30", sid)]
    r = client.delete(f"{SCHEDULES}/{sid}", headers=world.h["office_a1"])
    assert r.status_code == 200 and r.json == {"cancelled_visits": 3}  # 30 Nov (late), 30 Dec, 30 Jan
    session.expire_all()
    assert set(session.scalars(select(Visit.status))) == {VisitStatus.cancelled}
    assert session.scalar(select(func.count()).select_from(ScheduleOccurrence)) == 0
    for state in ("upcoming", "late", "missed"):
        assert client.get(PLANNED, headers=world.h["office_a1"], query_string={"state": state}).json["items"] == []


@pytest.mark.parametrize("version", [2**63, 2**31, -1])
def test_a_version_no_record_can_have_is_422_on_the_field_and_changes_nothing(client, session, world, version):
    sid = client.post(SCHEDULES, json=_body(world), headers=world.h["office_a1"]).json["id"]
    r = client.patch(f"{SCHEDULES}/{sid}", json={"notes": "moved", "version": version}, headers=world.h["office_a1"])
    assert r.status_code == 422 and r.content_type == "application/problem+json", r.json
    assert list(r.json["errors"]) == ["version"]
    [planned, *_] = client.get(PLANNED, headers=world.h["office_a1"]).json["items"]
    r = client.put(f"{PLANNED}/{planned['id']}/inspectors", json={"inspector_ids": [str(world.inspector_a1.id)],
                                                                  "version": version}, headers=world.h["office_a1"])
    assert r.status_code == 422 and list(r.json["errors"]) == ["version"], r.json
    session.expire_all()
    s = session.get(VisitSchedule, uuid.UUID(sid))
    assert s.notes is None and s.version == 1


@pytest.mark.parametrize("body,field", [
    ({"recurrence": "once", "start_date": -1}, "start_date"),     # a one-off visit yesterday
    ({"recurrence": "monthly", "start_date": -90, "end_date": -1}, "end_date"),  # a series that ended
    ({"recurrence": "monthly", "start_date": -45, "end_date": 0}, "end_date"),  # ends before its next date
])
def test_a_schedule_with_no_date_from_today_on_is_refused(client, session, world, body, field):
    """It would plan nothing (a 201 that planned no visit); one starting today plans today's visit."""
    today = clock.today()
    days = {k: (today + timedelta(days=v)).isoformat() for k, v in body.items() if isinstance(v, int)}
    r = client.post(SCHEDULES, json=_body(world, **(body | days)), headers=world.h["office_a1"])
    assert r.status_code == 422 and list(r.json["errors"]) == [field], r.json
    assert session.scalar(select(func.count()).select_from(VisitSchedule)) == 0
    # Its first date today: today's visit is planned.
    edge = {"start_date": today.isoformat()} | ({"end_date": today.isoformat()} if "end_date" in body else {})
    r = client.post(SCHEDULES, json=_body(world, **(body | edge)), headers=world.h["office_a1"])
    assert r.status_code == 201, r.json
    planned = client.get(PLANNED, headers=world.h["office_a1"]).json["items"]
    assert today.isoformat() in {p["planned_for"] for p in planned}, planned


def test_an_office_ends_a_running_series_by_date(client, session, world):
    """An end date of today (or before) on a running series is how it is ended: accepted, and its visits
    planned from tomorrow on are cancelled; a new schedule with such dates is refused (above)."""
    today = clock.today()
    h = world.h["office_a1"]
    r = client.post(SCHEDULES, json=_body(world, start_date=today.isoformat()), headers=h)
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    planned = lambda: sorted(p["planned_for"] for p in client.get(PLANNED, headers=h).json["items"]  # noqa: E731
                             if p["state"] != "cancelled")
    assert len(planned()) == 2 and planned()[0] == today.isoformat()  # today's and next month's
    r = client.patch(f"{SCHEDULES}/{sid}", json={"end_date": today.isoformat()}, headers=h)
    assert r.status_code == 200, r.json
    assert planned() == [today.isoformat()]  # next month's is cancelled, today's stays
    assert client.patch(f"{SCHEDULES}/{sid}", json={"notes": "ended"}, headers=h).status_code == 200
