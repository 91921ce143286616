"""Visit pages for offices, admins and inspectors: the visits in scope, and one visit's whole record
(answers, photos with when and where and their flags, evidence completeness, the score per indicator,
the tickets it raised)."""
from __future__ import annotations

import uuid

from flask import abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import visit_filter
from inspections.photos import service as photos_service
from inspections.photos.models import Photo
from inspections.scoring import service as scoring
from inspections.tickets.models import Finding, Ticket
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Visit
from server.extensions import session
from server.web import _principal, bp, nav_link
from server.web.i18n import _, _l, _lp

VIEWERS = (Role.office, Role.admin, Role.inspector)
nav_link("web.visit_list", _l("Visits"), *VIEWERS)
LIST_LIMIT = 200

STATUS = {"planned": _l("Planned"), "in_progress": _lp("visit", "In progress"), "submitted": _l("Submitted"),
          "cancelled": _l("Cancelled")}
INDICATOR_STATUS = {"met": _l("Met"), "not_met": _l("Not met"), "not_assessed": _l("Not assessed"),
                    "not_applicable": _l("Not applicable")}
VERDICT = {"pass": _l("Pass"), "fail": _l("Fail"), "invalid": _l("Cannot be scored")}


def _word(table: dict, code) -> str:
    value = getattr(code, "value", code)
    return str(table[value]) if value in table else str(value or "")


@bp.get("/visits")
def visit_list():
    """The visits in my scope, latest first, optionally one status."""
    p = _principal(*VIEWERS)
    status = request.args.get("status") or None
    if status is not None and status not in STATUS:
        abort(400)
    q = select(Visit).where(visit_filter(p)).options(selectinload(Visit.school))
    if status:
        q = q.where(Visit.status == VisitStatus(status))
    rows = session().scalars(q.order_by(Visit.submitted_at.desc().nulls_last(), Visit.planned_for.desc().nulls_last(),
                                        Visit.id).limit(LIST_LIMIT)).all()
    return render_template("visits.html", visits=rows, status=status, statuses=STATUS, word=_word)


@bp.get("/visits/<visit_id>")
def visit_detail(visit_id):
    """One visit in my scope (404 otherwise, as if it did not exist)."""
    p = _principal(*VIEWERS)
    try:
        vid = uuid.UUID(visit_id)
    except ValueError:
        abort(404)
    db = session()
    visit = db.scalar(select(Visit).where(Visit.id == vid, visit_filter(p))
                      .options(selectinload(Visit.school), selectinload(Visit.responses),
                               selectinload(Visit.template_version), selectinload(Visit.inspector_links)))
    if visit is None:
        abort(404)
    photos = db.scalars(select(Photo).where(Photo.visit_id == visit.id).order_by(Photo.received_at, Photo.id)).all()
    evidence = photos_service.visit_evidence(db, visit, photos=list(photos))
    scores = scoring.scores_for_visit(db, visit.id)
    ticket_ids = set(db.scalars(select(Finding.ticket_id).where(Finding.visit_id == visit.id,
                                                                Finding.ticket_id.isnot(None))))
    raised = db.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)).order_by(Ticket.item_code)).all() \
        if ticket_ids else []
    people = {u.id: u.display_name for u in db.scalars(select(User).where(User.id.in_(
        set(visit.inspector_ids) | {r.answered_by_id for r in visit.responses if r.answered_by_id})))}
    items = {i["code"]: i for i in (visit.template_version.definition.get("items", []) if visit.template_version
                                    else [])}
    return render_template("visit.html", visit=visit, photos=photos, evidence=evidence, scores=scores,
                           raised=raised, people=people, items=items, word=_word, statuses=STATUS,
                           indicator_status=INDICATOR_STATUS, verdicts=VERDICT, sections=_sections,
                           help_text=_help_text)


def _sections(score) -> list[tuple[str, dict]]:
    """A score's indicators by section ({code: result}), in the engine's order."""
    result = score.result or {}
    return [(key, result.get(key) or {}) for key in ("indicators", "government", "quality", "recognition")
            if result.get(key)]


def _help_text(item: dict | None, code: str) -> str:
    """An item's label in the page's language (its help text), or its code."""
    from server.web.i18n import page_lang
    if not item:
        return code
    text = item.get("help") or item.get("name")
    if isinstance(text, dict):
        return text.get("en" if page_lang() == "en" else "zh") or code
    return str(text or code)
