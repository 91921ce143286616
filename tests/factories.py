"""Plain factory functions for test data."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.org import service as org
from inspections.org.enums import JurisdictionLevel, Locale, SchoolKind

_seq = itertools.count(1)


def make_jurisdiction(session, *, level=JurisdictionLevel.county, parent=None, name=None, code=None):
    """A node; without a parent, the province (and city) above it are made too."""
    if parent is None and level == JurisdictionLevel.county:
        parent = make_jurisdiction(session, level=JurisdictionLevel.city)
    elif parent is None and level == JurisdictionLevel.city:
        parent = make_jurisdiction(session, level=JurisdictionLevel.province)
    n = next(_seq)
    return org.create_jurisdiction(session, code=code or f"J{n:05d}", name=name or f"Jurisdiction {n}", level=level,
                                   parent=parent)


def make_school(session, county, *, kind=SchoolKind.primary, enrolment=600, code=None, **kw):
    n = next(_seq)
    fields = {"enrolment_primary": enrolment} if kind == SchoolKind.primary else \
        {"enrolment_junior": enrolment} if kind == SchoolKind.junior else \
        {"enrolment_primary": enrolment, "enrolment_junior": enrolment // 2}
    fields |= kw
    return org.create_school(session, county=county, code=code or f"S{n:05d}", name=f"School {n}", kind=kind,
                             locale=kw.pop("locale", Locale.urban), **{k: v for k, v in fields.items() if k != "locale"})


def make_user(session, role: Role, *, jurisdiction=None, school=None, assigned=(), password="password-123"):
    n = next(_seq)
    return accounts.create_user(session, username=f"{role.value}{n}", password=password, role=role,
                                jurisdiction_id=jurisdiction.id if jurisdiction else None,
                                school_id=school.id if school else None,
                                assigned_school_ids=[s.id for s in assigned])


def token_for(session, user) -> dict:
    """An Authorization header for a user (issued directly: no login round trip, no rate limit)."""
    secret, _ = accounts.issue_token(session, user=user)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class World:
    """Two cities in one province; city A has counties A1 and A2; city B has county B1."""

    province: object
    city_a: object
    city_b: object
    county_a1: object
    county_a2: object
    county_b1: object
    school_a1: object
    school_a1b: object
    school_a2: object
    school_b1: object
    admin: object
    office_a: object      # city A office: sees A1 and A2
    office_a1: object     # county A1 office
    inspector_a1: object  # county-wide inspector in A1
    inspector_assigned: object  # assigned to school_a2 only
    school_user_a1: object

    def headers(self, session, user) -> dict:
        return token_for(session, user)


def make_world(session) -> World:
    from inspections.templates.service import ensure_builtin
    ensure_builtin(session)
    p = make_jurisdiction(session, level=JurisdictionLevel.province)
    ca = make_jurisdiction(session, level=JurisdictionLevel.city, parent=p)
    cb = make_jurisdiction(session, level=JurisdictionLevel.city, parent=p)
    a1 = make_jurisdiction(session, parent=ca)
    a2 = make_jurisdiction(session, parent=ca)
    b1 = make_jurisdiction(session, parent=cb)
    s_a1, s_a1b, s_a2, s_b1 = (make_school(session, a1), make_school(session, a1, kind=SchoolKind.junior),
                               make_school(session, a2), make_school(session, b1))
    w = World(province=p, city_a=ca, city_b=cb, county_a1=a1, county_a2=a2, county_b1=b1,
              school_a1=s_a1, school_a1b=s_a1b, school_a2=s_a2, school_b1=s_b1,
              admin=make_user(session, Role.admin),
              office_a=make_user(session, Role.office, jurisdiction=ca),
              office_a1=make_user(session, Role.office, jurisdiction=a1),
              inspector_a1=make_user(session, Role.inspector, jurisdiction=a1),
              inspector_assigned=make_user(session, Role.inspector, assigned=[s_a2]),
              school_user_a1=make_user(session, Role.school, school=s_a1))
    session.commit()
    return w


def world_with_tokens(session) -> World:
    """make_world with bearer headers of county A1's office (`h_office`) and inspector (`h_insp`)."""
    w = make_world(session)
    w.h_office = token_for(session, w.office_a1)
    w.h_insp = token_for(session, w.inspector_a1)
    return w


def run_jobs(app) -> None:
    """Run every queued job to completion, as a worker would (no-op in in-process mode)."""
    if not app.config.get("REDIS_URL"):
        return
    from rq import SimpleWorker

    from server.extensions import QUEUE_NAMES, queue, redis_connection
    with app.app_context():
        qs = [queue(n) for n in QUEUE_NAMES]
        SimpleWorker(qs, connection=redis_connection()).work(burst=True)


GOOD_PRIMARY = {  # 600 pupils, every R1-R7 comfortably met
    "enrolment": 600, "teachers_above_required_qualification": 30, "key_teachers_county_level_or_above": 8,
    "pe_art_teachers": 6, "teaching_aux_area_m2": 3000, "sports_area_m2": 5000, "equipment_value_yuan": 1500000,
    "multimedia_classrooms": 15,
}


def submit_visit(client, headers, school_id, facts: dict, section: str = "", *, session=None,
                 stored_as_is: dict | None = None) -> dict:
    """Plan, answer and submit a visit through the API; returns the submitted visit.

    `stored_as_is` (with `session`): values put into the database directly after the answers, before
    the visit is submitted: values no way in writes any more (each is checked against its item's kind),
    as answers stored before that check may still hold them; for tests of how such data scores."""
    v = client.post("/api/v1/visits", json={"school_id": str(school_id)}, headers=headers).json
    answers = [{"item_code": k, "value": val, "section": section} for k, val in facts.items()]
    r = client.put(f"/api/v1/visits/{v['id']}/responses", json={"answers": answers}, headers=headers)
    assert r.status_code == 200, r.json
    if stored_as_is:
        store_as_is(session, v["id"], stored_as_is, section)
    r = client.patch(f"/api/v1/visits/{v['id']}", json={"status": "submitted"}, headers=headers)
    assert r.status_code == 200, r.json
    return r.json


def store_as_is(session, visit_id, values: dict, section: str = "") -> None:
    """Write answers' values into the database directly, unchecked (see submit_visit), and commit."""
    import uuid

    from sqlalchemy import update

    from inspections.visits.models import Response
    for code, value in values.items():
        n = session.execute(update(Response).where(Response.visit_id == uuid.UUID(str(visit_id)),
                                                   Response.item_code == code, Response.section == section)
                            .values(value=value)).rowcount
        assert n == 1, f"no answer to {code} to overwrite"
    session.commit()


def answer_value(code: str, i: int = 0):
    """A value the national checklist's item `code` takes (a value of its kind: answers are checked as
    they are written), a different one for each i where the kind has more than two."""
    from inspections.scoring.definition import items_by_code
    from inspections.scoring.national import NATIONAL_2017
    item = items_by_code(NATIONAL_2017)[code]
    kind = item["kind"]
    if kind in ("integer", "number"):
        return i + 1
    if kind == "boolean":
        return i % 2 == 0
    if kind == "rating":
        return item["choices"][i % len(item["choices"])]
    if kind in ("class_sizes", "room_areas"):
        return [i + 1]
    if kind == "time_of_day":
        return f"{7 + i % 12:02d}:30"
    return f"text {i}"
