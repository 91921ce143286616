"""A school answers its ticket offline: ticket events go through push and the ticket state machine."""
from __future__ import annotations

from sqlalchemy import func, select

from inspections.audit.models import AuditRecord
from inspections.tickets.models import Ticket, TicketEvent
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for
from tests.sync.helpers import mutation, pull_all, push

SHORT_PE = {**GOOD_PRIMARY, "pe_art_teachers": 4}  # R3 fails: a ticket for school A1


def test_school_pushes_ticket_steps_refusals_carry_the_state_machines_reason(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, SHORT_PE)
    run_jobs(app)
    ticket = session.scalar(select(Ticket).where(Ticket.school_id == w.school_a1.id, Ticket.item_code == "R3"))
    other = session.scalar(select(func.count()).select_from(Ticket).where(Ticket.school_id != w.school_a1.id))
    assert ticket is not None and other == 0
    h = token_for(session, w.school_user_a1)
    before = session.scalar(select(func.count()).select_from(TicketEvent))
    first = mutation("ticket_event", "create", ticket_id=str(ticket.id), to="acknowledged", note="seen")
    results = push(client, h, first,
                   # Not a legal move now (409 in the API): refused with the state machine's reason.
                   mutation("ticket_event", "create", ticket_id=str(ticket.id), to="closed"),
                   # A plan is required for in_progress (422 in the API).
                   mutation("ticket_event", "create", ticket_id=str(ticket.id), to="in_progress"),
                   mutation("ticket_event", "create", ticket_id=str(ticket.id), to="in_progress",
                            plan=[{"milestone": "hire a PE teacher", "due": "2027-03-01"}]),
                   mutation("ticket_event", "update", ticket_id=str(ticket.id), to="closed"),
                   mutation("ticket_event", "create", ticket_id=str(w.school_b1.id), to="acknowledged"))
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "applied", "rejected", "rejected"]
    assert "cannot become closed" in results[1]["reason"]
    assert "fields.plan" in results[2]["errors"]
    assert "op" in results[4]["errors"] and "fields.ticket_id" in results[5]["errors"]
    assert results[3]["ticket"]["status"] == "in_progress"
    session.expire_all()
    assert session.get(Ticket, ticket.id).status.value == "in_progress"
    assert session.scalar(select(func.count()).select_from(TicketEvent)) == before + 2
    assert session.scalar(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "transition", AuditRecord.entity_id == str(ticket.id))) == 2
    # A retry gets the stored answer; nothing is appended twice.
    (again,) = push(client, h, first)
    assert again["status"] == "duplicate" and again["original"] == results[0]
    assert session.scalar(select(func.count()).select_from(TicketEvent)) == before + 2
    # The step keeps the device's id; that id cannot be used for another step.
    assert results[0]["id"] == first["id"]
    (reuse,) = push(client, h, mutation("ticket_event", "create", id=first["id"], ticket_id=str(ticket.id),
                                        to="awaiting_verification", note="x" * 30))
    assert reuse["status"] == "rejected" and "already used" in reuse["reason"]
    assert session.scalar(select(func.count()).select_from(TicketEvent)) == before + 2
    # The school's devices see the new events in pull.
    changes, _ = pull_all(client, h)
    assert {results[0]["id"], results[3]["id"]} <= {c["id"] for c in changes if c["entity"] == "ticket_event"}


def test_school_users_still_cannot_push_visits(client, session):
    w = make_world(session)
    h = token_for(session, w.school_user_a1)
    (r,) = push(client, h, mutation("visit", "create", school_id=str(w.school_a1.id)))
    assert r["status"] == "rejected" and "cannot change visits" in r["reason"]
