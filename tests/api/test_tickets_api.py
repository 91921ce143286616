"""Findings roll into tickets; the lifecycle through the API; escalation of overdue tickets."""
from __future__ import annotations

import uuid

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from inspections import clock
from inspections.tickets import service as tickets
from inspections.tickets.models import Finding, Ticket, TicketEvent
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for

SHORT_PE = {**GOOD_PRIMARY, "pe_art_teachers": 4}  # R3 fails: 2 teachers short


@pytest.fixture
def world(session):
    w = make_world(session)
    w.h_insp = token_for(session, w.inspector_a1)
    w.h_school = token_for(session, w.school_user_a1)
    w.h_office = token_for(session, w.office_a1)
    return w


def _r3_ticket(client, h, school_id):
    items = client.get("/api/v1/tickets", query_string={"school_id": str(school_id), "item_code": "R3"},
                       headers=h).json["items"]
    assert len(items) == 1
    return items[0]


def test_failed_items_become_one_ticket_per_school_and_item(app, client, session, world):
    submit_visit(client, world.h_insp, world.school_a1.id, SHORT_PE)
    run_jobs(app)
    t = _r3_ticket(client, world.h_school, world.school_a1.id)
    assert t["status"] == "open" and t["shortfall"] == "2.00" and t["unit"] == "teachers"
    assert t["due_date"] and not t["overdue"]
    assert t["title"].endswith("还差 2 名教师")
    # A second visit with the same failure attaches to the same ticket.
    submit_visit(client, world.h_insp, world.school_a1.id, {**SHORT_PE, "pe_art_teachers": 3})
    run_jobs(app)
    again = _r3_ticket(client, world.h_school, world.school_a1.id)
    assert again["id"] == t["id"] and again["shortfall"] == "3.00"
    assert session.scalar(select(func.count()).select_from(Finding).where(Finding.ticket_id == uuid.UUID(t["id"]))) == 2
    # Re-running the scoring of a visit never duplicates findings.
    from inspections.scoring import service as scoring
    visit_id = session.scalar(select(Finding.visit_id).where(Finding.ticket_id == uuid.UUID(t["id"])).limit(1))
    scoring.score_visit(session, visit_id)
    session.commit()
    assert session.scalar(select(func.count()).select_from(Finding).where(Finding.ticket_id == uuid.UUID(t["id"]))) == 2


def test_lifecycle_to_closure_and_reopening(app, client, session, world):
    submit_visit(client, world.h_insp, world.school_a1.id, SHORT_PE)
    run_jobs(app)
    t = _r3_ticket(client, world.h_school, world.school_a1.id)
    url = f"/api/v1/tickets/{t['id']}/transitions"
    detail = client.get(f"/api/v1/tickets/{t['id']}", headers=world.h_school).json
    assert detail["allowed_next"] == ["acknowledged", "in_progress"]
    assert client.post(url, json={"to": "acknowledged"}, headers=world.h_school).status_code == 201
    r = client.post(url, json={"to": "in_progress"}, headers=world.h_school)
    assert r.status_code == 422 and "plan" in r.json["errors"]
    # A milestone already past (the business day), or one with no words, is refused by the service and schema.
    r = client.post(url, json={"to": "in_progress", "plan": [{"milestone": "x", "due": "2001-01-01"}]},
                    headers=world.h_school)
    assert r.status_code == 422 and "today or later" in r.json["errors"]["plan.0.due"][0], r.json
    r = client.post(url, json={"to": "in_progress", "plan": [{"milestone": "", "due": "2099-01-01"}]},
                    headers=world.h_school)
    assert r.status_code == 422 and "write the milestone" in str(r.json["errors"]), r.json
    plan = [{"milestone": "招聘两名体育教师", "due": (clock.today() + timedelta(days=40)).isoformat()}]
    assert client.post(url, json={"to": "in_progress", "plan": plan}, headers=world.h_school).status_code == 201
    r = client.post(url, json={"to": "awaiting_verification"}, headers=world.h_school)
    assert r.status_code == 422 and "photo_ids" in r.json["errors"]
    r = client.post(url, json={"to": "awaiting_verification",
                               "note": "已于九月招聘两名专职体育教师，聘用合同已归档备查。"}, headers=world.h_school)
    assert r.status_code == 201
    # The school cannot verify itself; a wrong move is a 409 that says why.
    assert client.post(url, json={"to": "closed"}, headers=world.h_school).status_code == 403
    r = client.post(url, json={"to": "acknowledged"}, headers=world.h_insp)
    assert r.status_code == 409 and "awaiting_verification" in r.json["detail"]
    r = client.post(url, json={"to": "in_progress"}, headers=world.h_insp)
    assert r.status_code == 422 and "note" in r.json["errors"]
    r = client.post(url, json={"to": "closed", "note": "现场核实"}, headers=world.h_insp)
    assert r.status_code == 201 and r.json["status"] == "closed" and r.json["closed_at"]
    steps = [(e["from_status"], e["to_status"]) for e in r.json["events"]]
    assert steps == [(None, "open"), ("open", "acknowledged"), ("acknowledged", "in_progress"),
                     ("in_progress", "awaiting_verification"), ("awaiting_verification", "closed")]
    # A later visit with the same failure reopens the same ticket.
    submit_visit(client, world.h_insp, world.school_a1.id, SHORT_PE)
    run_jobs(app)
    again = _r3_ticket(client, world.h_school, world.school_a1.id)
    assert again["id"] == t["id"] and again["status"] == "open" and again["closed_at"] is None


def test_a_later_visit_meeting_the_item_proposes_closure(app, client, session, world):
    submit_visit(client, world.h_insp, world.school_a1.id, SHORT_PE)
    run_jobs(app)
    submit_visit(client, world.h_insp, world.school_a1.id, GOOD_PRIMARY)
    run_jobs(app)
    t = _r3_ticket(client, world.h_insp, world.school_a1.id)
    assert t["status"] == "open"
    events = client.get(f"/api/v1/tickets/{t['id']}", headers=world.h_insp).json["events"]
    assert any("closure_proposed_by_visit" in e["data"] for e in events)


def test_flagged_answers_become_findings(app, client, session, world):
    v = client.post("/api/v1/visits", json={"school_id": str(world.school_a1.id)}, headers=world.h_insp).json
    answers = [{"item_code": k, "value": val} for k, val in GOOD_PRIMARY.items()]
    answers[0] |= {"flagged": True, "note": "学籍人数与现场不符"}
    client.put(f"/api/v1/visits/{v['id']}/responses", json={"answers": answers}, headers=world.h_insp)
    client.patch(f"/api/v1/visits/{v['id']}", json={"status": "submitted"}, headers=world.h_insp)
    run_jobs(app)
    items = client.get("/api/v1/tickets", query_string={"item_code": "enrolment"}, headers=world.h_office).json["items"]
    assert len(items) == 1 and "学籍人数与现场不符" in items[0]["title"]


def test_tickets_are_scoped(app, client, session, world):
    submit_visit(client, world.h_insp, world.school_a1.id, SHORT_PE)
    run_jobs(app)
    t = _r3_ticket(client, world.h_office, world.school_a1.id)
    other = token_for(session, world.inspector_assigned)
    assert client.get(f"/api/v1/tickets/{t['id']}", headers=other).status_code == 404
    assert client.post(f"/api/v1/tickets/{t['id']}/transitions", json={"to": "acknowledged"},
                       headers=other).status_code == 404
    assert client.get("/api/v1/tickets", headers=other).json["items"] == []


def test_overdue_tickets_are_escalated_once_per_period(app, client, session, world):
    submit_visit(client, world.h_insp, world.school_a1.id, SHORT_PE)
    run_jobs(app)
    ticket = session.scalar(select(Ticket).where(Ticket.item_code == "R3"))
    today = ticket.due_date + timedelta(days=3)
    assert tickets.escalate_overdue(session, today=today) >= 1
    assert tickets.escalate_overdue(session, today=today) == 0
    session.commit()
    events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    assert [e.data.get("escalation") for e in events if "escalation" in e.data] == [1]
    assert tickets.is_overdue(ticket, today)
    # Still overdue a month later: escalated a second time.
    assert tickets.escalate_overdue(session, today=today + timedelta(days=30)) >= 1
    session.commit()
    levels = session.scalars(select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id)).all()
    assert sorted(d["escalation"] for d in levels if "escalation" in d) == [1, 2]
