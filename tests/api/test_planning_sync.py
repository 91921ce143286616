"""Generated and reassigned planned visits reach the assigned inspector's device through sync pull."""
from __future__ import annotations

from datetime import date

from inspections.accounts.enums import Role
from inspections.planning import service as planning
from inspections.planning.enums import Recurrence
from inspections.visits.models import Visit
from tests.factories import make_user, make_world, token_for
from tests.sync.helpers import pull_all


def _visits(changes):
    return {c["id"]: c for c in changes if c["entity"] == "visit"}


def test_generated_visits_reach_the_responsibility_inspector(client, session):
    w = make_world(session)
    # An inspector bound to no jurisdiction, responsible for school A2 only: it sees exactly its visits.
    h = token_for(session, w.inspector_assigned)
    _, cursor = pull_all(client, h)
    s = planning.create_schedule(session, school=w.school_a2, created_by=w.office_a, recurrence=Recurrence.monthly,
                                 start_date=date(2031, 1, 15), inspector_ids=[w.inspector_assigned.id])
    other = planning.create_schedule(session, school=w.school_a1, created_by=w.office_a1,
                                     recurrence=Recurrence.monthly, start_date=date(2031, 1, 15))
    planning.generate(session, today=date(2031, 1, 1), horizon_days=50)
    session.commit()
    changes, cursor = pull_all(client, h, cursor=cursor)
    got = _visits(changes)
    assert len(got) == 2 and all(c["op"] == "upsert" for c in got.values())
    assert sorted(c["data"]["planned_for"] for c in got.values()) == ["2031-01-15", "2031-02-15"]
    assert all(c["data"]["status"] == "planned" for c in got.values())

    # Reassigning a county A1 visit to a new inspector puts it on that inspector's device.
    newcomer = make_user(session, Role.inspector, assigned=[w.school_a1])
    session.commit()
    h2 = token_for(session, newcomer)
    before = _visits(pull_all(client, h2)[0])
    from sqlalchemy import select

    from inspections.planning.models import ScheduleOccurrence
    vid = session.scalar(select(ScheduleOccurrence.visit_id).where(ScheduleOccurrence.schedule_id == other.id)
                         .order_by(ScheduleOccurrence.due_on).limit(1))
    assert str(vid) in before  # already in scope through the school assignment
    planning.assign(session, session.get(Visit, vid),
                    inspector_ids=[newcomer.id], actor_id=w.office_a1.id)
    session.commit()
    after = _visits(pull_all(client, h2)[0])
    assert after[str(vid)]["version"] == 2
