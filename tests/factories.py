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
