"""Rectification tickets: lists in scope, detail with history, and lifecycle transitions."""
from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from inspections import clock
from inspections.accounts.scope import school_filter
from inspections.audit import service as audit
from inspections.org.models import School
from inspections.pagination import paginate
from inspections.tickets import service as tickets
from inspections.tickets.models import Ticket
from schemas.common import PageArgs, page_of
from schemas.tickets import TicketDetailOut, TicketOut, TicketQuery, TransitionIn
from server.api.common import Blueprint, get_in_scope, page_response
from server.auth import BEARER, EVERYONE, current_principal, require
from server.extensions import session

PREFIX = "/tickets"
blp = Blueprint("tickets", __name__, description="Rectification tickets (整改单) and their lifecycle.")
TicketPage = page_of(TicketOut, "TicketPage")


def _in_scope():
    return Ticket.school_id.in_(select(School.id).where(school_filter(current_principal())))


def dump(ticket: Ticket, detail: bool = False) -> dict:
    out = {c: getattr(ticket, c) for c in ("id", "school_id", "item_code", "section", "title", "status", "severity",
                                           "measured", "required", "shortfall", "unit", "due_date", "inspector_id",
                                           "opened_at", "closed_at", "version")}
    out["overdue"] = tickets.is_overdue(ticket)
    if detail:
        out["events"] = ticket.events
        out["allowed_next"] = tickets.allowed_next(ticket, current_principal().role)
    return out


@blp.route("")
class Tickets(MethodView):
    @blp.arguments(TicketQuery, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, TicketPage)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, query, limit, cursor):
        """Tickets of the schools in my scope, oldest first."""
        stmt = select(Ticket).where(_in_scope())
        for key in ("status", "school_id", "item_code"):
            if query[key] is not None:
                stmt = stmt.where(getattr(Ticket, key) == query[key])
        if query["overdue"] is not None:
            today = clock.today()
            late = Ticket.status.in_(tickets.OPEN_STATES) & (Ticket.due_date < today)
            stmt = stmt.where(late if query["overdue"] else ~late)
        return page_response(paginate(session(), stmt, [Ticket.opened_at, Ticket.id], cursor=cursor, limit=limit),
                             dump)


@blp.route("/<uuid:ticket_id>")
class TicketById(MethodView):
    @blp.response(200, TicketDetailOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, ticket_id):
        """One ticket with its full history and the moves open to me."""
        return dump(get_in_scope(Ticket, ticket_id, _in_scope()), detail=True)


@blp.route("/<uuid:ticket_id>/transitions")
class TicketTransitions(MethodView):
    @blp.arguments(TransitionIn)
    @blp.response(201, TicketDetailOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def post(self, body, ticket_id):
        """Move the ticket (acknowledge, plan, submit evidence, verify, reject, reopen, cancel)."""
        db = session()
        ticket = db.scalar(select(Ticket).where(Ticket.id == ticket_id, _in_scope())
                           .options(selectinload(Ticket.events)).with_for_update())
        if ticket is None:
            ticket = get_in_scope(Ticket, ticket_id, _in_scope())  # the 404
        plan = [{"milestone": m["milestone"], "due": m["due"].isoformat()} for m in body["plan"]] if body["plan"] else None
        ev = tickets.transition(db, ticket, to=body["to"], actor=current_principal(), note=body["note"], plan=plan,
                                photo_ids=body["photo_ids"])
        audit.record(db, actor_id=current_principal().user_id, action="transition", entity="ticket",
                     entity_id=ticket.id, data={"from": ev.from_status, "to": ev.to_status})
        db.commit()
        db.refresh(ticket)
        return dump(ticket, detail=True)
