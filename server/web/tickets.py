"""Ticket pages: list and detail with the forms for the moves open to the signed-in user."""
from __future__ import annotations

import uuid

from flask import abort, redirect, render_template, request, url_for
from sqlalchemy import select

from inspections.accounts.scope import school_filter
from inspections.errors import DomainError
from inspections.org.models import School
from inspections.tickets import service as tickets
from inspections.tickets.enums import TicketStatus
from inspections.tickets.models import Ticket
from server.extensions import session
from inspections.accounts.enums import Role
from server.web import _principal, bp, nav_link

nav_link("web.ticket_list", "tickets", *Role)


def _tickets_in_scope(p):
    return Ticket.school_id.in_(select(School.id).where(school_filter(p)))


@bp.get("/tickets")
def ticket_list():
    """Tickets of the schools in my scope, with status, due date and overdue."""
    p = _principal()
    rows = session().scalars(select(Ticket).where(_tickets_in_scope(p)).order_by(Ticket.opened_at, Ticket.id)
                             .limit(500)).all()
    return render_template("tickets.html", tickets=rows, is_overdue=tickets.is_overdue)


def _ticket_or_404(p, ticket_id: str) -> Ticket:
    try:
        tid = uuid.UUID(ticket_id)
    except ValueError:
        abort(404)
    t = session().scalar(select(Ticket).where(Ticket.id == tid, _tickets_in_scope(p)))
    if t is None:
        abort(404)
    return t


@bp.route("/tickets/<ticket_id>", methods=["GET", "POST"])
def ticket_detail(ticket_id):
    """One ticket with its history and the forms for the moves open to me."""
    p = _principal()
    t = _ticket_or_404(p, ticket_id)
    error = None
    if request.method == "POST":
        try:
            to = TicketStatus(request.form.get("to", ""))
        except ValueError:
            abort(400)
        plan = [{"milestone": m.strip(), "due": d}
                for m, d in zip(request.form.getlist("milestone"), request.form.getlist("due")) if m.strip()]
        try:
            tickets.transition(session(), t, to=to, actor=p, note=request.form.get("note") or None, plan=plan or None)
            session().commit()
            return redirect(url_for("web.ticket_detail", ticket_id=t.id))
        except DomainError as e:
            session().rollback()
            t = _ticket_or_404(p, ticket_id)
            error = e.message
    return render_template("ticket.html", ticket=t, allowed=tickets.allowed_next(t, p.role), error=error,
                           overdue=tickets.is_overdue(t)), (422 if error else 200)
