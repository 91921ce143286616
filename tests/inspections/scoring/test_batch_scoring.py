"""Scoring many visits in one job (issue 18): the same scores, findings and tickets as scoring them one
after another, claimed records finished once, a failing visit isolated, the queue emptied."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from inspections.jobs.models import JobRecord
from inspections.scoring.models import VisitScore
from inspections.tickets.models import Finding, Ticket, TicketEvent
from tests.factories import GOOD_PRIMARY, make_school, make_world, run_jobs, submit_visit, token_for
from tests.sync.helpers import PUSH, mutation

WEAK = {**GOOD_PRIMARY, "pe_art_teachers": 4}  # fails R3 (PE/art teachers), everything else met


@pytest.fixture
def world(session):
    w = make_world(session)
    w.h = token_for(session, w.inspector_a1)
    return w


@pytest.fixture
def held(monkeypatch):
    """Effects recorded but never relayed: the score jobs stay `queued`, on every path, until run here."""
    import server.jobs
    monkeypatch.setattr(server.jobs, "relay_many", lambda pending, app=None: 0)


def _submit(client, h, school, facts) -> str:
    return submit_visit(client, h, school.id, facts)["id"]


def _summary(session, school_id, visit_ids: list[str]) -> dict:
    """What scoring left for a school, with visits named by their position (comparable across schools)."""
    session.expire_all()
    pos = {uuid.UUID(v): i for i, v in enumerate(visit_ids)}
    tickets = list(session.scalars(select(Ticket).where(Ticket.school_id == school_id).order_by(Ticket.item_code)))
    out = {}
    for t in tickets:
        events = list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id)))
        findings = list(session.scalars(select(Finding).where(Finding.ticket_id == t.id)))
        out[(t.item_code, t.section)] = {
            "status": t.status.value, "version": t.version, "severity": t.severity.value,
            "measured": t.measured, "findings": sorted(pos[f.visit_id] for f in findings),
            "events": sorted(
                (e.from_status or "", e.to_status or "",
                 pos.get(uuid.UUID(e.data.get("visit_id") or e.data.get("closure_proposed_by_visit") or str(uuid.UUID(int=0))), -1))
                for e in events)}
    out["scores"] = sorted(Counter(
        (pos[s.visit_id], s.verdict) for s in session.scalars(
            select(VisitScore).where(VisitScore.visit_id.in_(list(pos))))).items())
    return out


def test_a_batch_leaves_what_visits_scored_one_by_one_leave(app, client, session, world, held):
    """Same school, four visits: fails R3 (opens a ticket), fails again (attaches), meets it (proposes
    closing), fails again. Scored by one job in one transaction, and one by one in another school."""
    from inspections.scoring import service
    from inspections.scoring.tasks import score_visit
    plan = [WEAK, WEAK, GOOD_PRIMARY, {**WEAK, "pe_art_teachers": 3}]
    batch_school, single_school = world.school_a1, make_school(session, world.county_a1)
    session.commit()
    batch = [_submit(client, world.h, batch_school, f) for f in plan]
    single = [_submit(client, world.h, single_school, f) for f in plan]
    for vid in single:  # one after another, each in its own transaction (as before batching)
        service.score_visit(session, vid)
        session.commit()
    for vid in single:
        rec = session.get(JobRecord, f"score-visit-{vid}")
        rec.status = "finished"  # these were scored directly above: not the job's to claim
    session.commit()
    result = score_visit(f"score-visit-{batch[0]}", visit_id=batch[0])
    assert result == {"visit_id": batch[0], "verdicts": {"primary": "fail"}}
    session.expire_all()
    for vid in batch:
        rec = session.get(JobRecord, f"score-visit-{vid}")
        assert rec.status == "finished" and rec.attempts == 1 and rec.result["visit_id"] == vid, rec.result
    got, want = _summary(session, batch_school.id, batch), _summary(session, single_school.id, single)
    assert got == want
    r3 = got[("R3", "")]
    assert r3["status"] == "open" and r3["findings"] == [0, 1, 3] and r3["version"] == 4
    assert r3["measured"] == 0.5  # the latest measurement: 3 PE/art teachers per 600 pupils, per 100
    assert ("", "", 2) in r3["events"] and ("", "open", 0) in r3["events"]  # proposed closing; opened
    # Scoring them again (a duplicate delivery) neither duplicates findings nor proposals.
    service.score_visits(session, batch)
    session.commit()
    assert _summary(session, batch_school.id, batch) == got


def test_a_batch_reopens_the_closed_ticket_once(app, client, session, world, held):
    from inspections.scoring.tasks import score_visit
    from inspections.tickets.enums import TicketStatus
    first = _submit(client, world.h, world.school_a1, WEAK)
    score_visit(f"score-visit-{first}", visit_id=first)
    session.expire_all()
    ticket = session.scalar(select(Ticket).where(Ticket.school_id == world.school_a1.id, Ticket.item_code == "R3"))
    ticket.status, ticket.closed_at = TicketStatus.closed, ticket.opened_at + timedelta(days=3)
    session.commit()
    later = [_submit(client, world.h, world.school_a1, WEAK) for _ in range(2)]
    score_visit(f"score-visit-{later[0]}", visit_id=later[0])
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Ticket).where(Ticket.school_id == world.school_a1.id)) == 1
    session.refresh(ticket)
    assert ticket.status == TicketStatus.open and ticket.closed_at is None
    reopened = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                         TicketEvent.from_status == "closed")).all()
    assert [e.data["visit_id"] for e in reopened] == [later[0]]
    assert {str(f.visit_id) for f in session.scalars(select(Finding).where(Finding.ticket_id == ticket.id))} \
        == {first, *later}
    assert session.get(JobRecord, f"score-visit-{later[1]}").status == "finished"


def test_a_visit_that_fails_to_score_is_left_to_its_own_job(app, client, session, world, held, monkeypatch):
    from inspections.scoring import engine
    from inspections.scoring.tasks import score_visit
    real = engine.score_school

    def breaks_on_marker(defn, level, facts, **kw):
        if facts.get("multimedia_classrooms") == 13:
            raise RuntimeError("boom")
        return real(defn, level, facts, **kw)
    monkeypatch.setattr(engine, "score_school", breaks_on_marker)
    s2, s3 = make_school(session, world.county_a1), make_school(session, world.county_a1)
    session.commit()
    a = _submit(client, world.h, world.school_a1, GOOD_PRIMARY)
    bad = _submit(client, world.h, s2, {**GOOD_PRIMARY, "multimedia_classrooms": 13})
    c = _submit(client, world.h, s3, WEAK)
    assert score_visit(f"score-visit-{a}", visit_id=a)["verdicts"] == {"primary": "pass"}
    session.expire_all()
    assert session.get(JobRecord, f"score-visit-{a}").status == "finished"
    # The batch was rolled back: the others are untouched, still waiting for their own jobs.
    for vid in (bad, c):
        rec = session.get(JobRecord, f"score-visit-{vid}")
        assert rec.status == "queued" and rec.attempts == 0
        assert session.scalar(select(func.count()).select_from(VisitScore)
                              .where(VisitScore.visit_id == uuid.UUID(vid))) == 0
    assert score_visit(f"score-visit-{c}", visit_id=c)["verdicts"] == {"primary": "fail"}
    with pytest.raises(RuntimeError, match="boom"):
        score_visit(f"score-visit-{bad}", visit_id=bad)
    session.expire_all()
    rec = session.get(JobRecord, f"score-visit-{bad}")
    assert rec.status == "failed" and rec.attempts == 1 and "boom" in rec.error
    assert session.get(JobRecord, f"score-visit-{c}").attempts == 1
    assert session.scalar(select(func.count()).select_from(Finding)
                          .where(Finding.visit_id == uuid.UUID(c))) == 1


def test_one_push_submitting_visits_is_scored_by_one_job(app, client, session, world):
    """One push submits three visits: their jobs reach Redis in one go, and the first job to run scores
    all three and takes the others off the queue (in-process, the first job's run scores all three)."""
    vids, muts = [], []
    schools = [world.school_a1, make_school(session, world.county_a1), make_school(session, world.county_a1)]
    session.commit()
    for school in schools:
        vid = str(uuid.uuid4())
        vids.append(vid)
        muts.append(mutation("visit", "create", id=vid, school_id=str(school.id)))
        muts += [mutation("response", "create", visit_id=vid, item_code=k, value=v) for k, v in WEAK.items()]
    assert client.post(PUSH, json={"device_id": "d", "mutations": muts}, headers=world.h).status_code == 200
    submit = [mutation("visit", "update", id=vid, base_version=client.get(f"/api/v1/visits/{vid}", headers=world.h)
                       .json["version"], status="submitted") for vid in vids]
    r = client.post(PUSH, json={"device_id": "d", "mutations": submit}, headers=world.h)
    assert r.status_code == 200 and {x["status"] for x in r.json["results"]} == {"applied"}
    if app.config.get("REDIS_URL"):
        from rq import SimpleWorker

        from server.extensions import queue, redis_connection
        with app.app_context():
            q = queue("scoring")
            assert q.count == 3
            SimpleWorker([q], connection=redis_connection()).work(burst=True, max_jobs=1)
            assert q.count == 0  # the two claimed jobs were taken off the queue
    session.expire_all()
    for vid in vids:
        rec = session.get(JobRecord, f"score-visit-{vid}")
        assert rec.status == "finished" and rec.attempts == 1
        assert session.scalar(select(func.count()).select_from(Finding)
                              .where(Finding.visit_id == uuid.UUID(vid))) == 1
    run_jobs(app)  # nothing left to run; nothing runs twice
    assert session.scalar(select(func.count()).select_from(Finding).where(
        Finding.visit_id.in_([uuid.UUID(v) for v in vids]))) == 3
