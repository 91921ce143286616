"""Ticket pages: list and detail with the forms for the moves open to the signed-in user."""
from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from inspections.accounts.enums import Role
from inspections.accounts.scope import school_filter
from inspections.errors import DomainError, ValidationFailed
from inspections.org.models import School
from inspections.photos import imaging
from inspections.photos import service as photos_service
from inspections.photos.enums import PhotoStatus
from inspections.photos.models import Photo
from inspections.storage import S3Storage
from inspections.tickets import service as tickets
from inspections.tickets.enums import TicketStatus
from inspections.tickets.models import Finding, Ticket
from schemas.common import field_paths
from schemas.photos import UploadIn
from schemas.tickets import TransitionIn
from server.api.photos import VARIANTS, served_type
from server.jobs import record_photo_processing
from server.extensions import session, storage
from server.web import FORM_FILES, _principal, bp, nav_link
from server.web.forms import Said, field_errors
from server.web.i18n import _, _l, label

nav_link("web.ticket_list", _l("Rectification tickets"), *Role)


def _tickets_in_scope(p):
    return Ticket.school_id.in_(select(School.id).where(school_filter(p)))


@bp.get("/tickets")
def ticket_list():
    """Tickets of the schools in my scope, with status, due date and overdue."""
    p = _principal()
    rows = session().scalars(select(Ticket).where(_tickets_in_scope(p))
                             .order_by(Ticket.due_date.is_(None), Ticket.due_date, Ticket.id).limit(500)).all()
    schools = {s.id: s for s in session().scalars(select(School).where(School.id.in_({t.school_id for t in rows})))} \
        if rows else {}
    return render_template("tickets.html", tickets=rows, is_overdue=tickets.is_overdue, schools=schools)


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
    error, fields = None, []
    if request.method == "POST":
        try:
            # The form is read through the API's own schema: the same note length, milestone count and dates.
            body = _transition_form()
            # Photos come either already uploaded by the page's script (ids) or in this plain form (files).
            photo_ids = list(body["photo_ids"])
            if body["to"] == TicketStatus.awaiting_verification:
                photo_ids += [ph.id for ph in _store_form_files(p, t)]
            plan = [{"milestone": m["milestone"], "due": m["due"].isoformat()} for m in body["plan"]] \
                if body["plan"] else None
            tickets.transition(session(), t, to=body["to"], actor=p, note=body["note"], plan=plan,
                               photo_ids=photo_ids or None)
            for ph in _stored_now():
                if ph.status == PhotoStatus.received:
                    record_photo_processing(session(), ph)  # processed after the commit (outbox)
            session().commit()
        except DomainError as e:
            session().rollback()
            _forget_stored_blobs()
            t = _ticket_or_404(p, ticket_id)
            error, fields = _("The step was not saved."), field_errors(e.fields or {"_": [e.message]})
        else:
            flash(_("Saved: the ticket is now %(status)s.", status=label("status", t.status)))
            return redirect(url_for("web.ticket_detail", ticket_id=t.id), 303)
    school = session().get(School, t.school_id)
    people = _people([t.inspector_id] + [ev.actor_id for ev in t.events])
    visit_ids = sorted({v for v in session().scalars(select(Finding.visit_id).where(Finding.ticket_id == t.id))},
                       key=str)
    return render_template("ticket.html", ticket=t, allowed=tickets.allowed_next(t, p.role), error=error, fields=fields,
                           sent=request.form if error else None,
                           school=school, people=people, visit_ids=visit_ids, milestone_rows=MILESTONE_ROWS,
                           overdue=tickets.is_overdue(t), photos=_event_photos(t),
                           evidence_checking=tickets.evidence_being_checked(session(), t), form_files=FORM_FILES,
                           max_file_mb=current_app.config["MAX_CHUNK_BYTES"] >> 20), (422 if error else 200)


MILESTONE_ROWS = 3  # a plan takes several milestones without any script


def _people(ids) -> dict:
    """{user id: display name} for the ids given (None skipped)."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    from inspections.accounts.models import User
    return {u.id: u.display_name for u in session().scalars(select(User).where(User.id.in_(ids)))}


def _transition_form() -> dict:
    """The ticket form as the API's TransitionIn loads it; a field error is a ValidationFailed naming the field."""
    f = request.form
    plan = [{"milestone": m.strip(), "due": d.strip()} for m, d in zip(f.getlist("milestone"), f.getlist("due"))
            if m.strip() or d.strip()]
    raw = {"to": f.get("to", ""), "note": f.get("note") or None, "plan": plan or None,
           "photo_ids": [x.strip() for x in f.getlist("photo_ids") if x.strip()]}
    try:
        return TransitionIn().load(raw)
    except ValidationError as exc:
        raise ValidationFailed("Invalid form", field_paths(exc.normalized_messages())) from None


def _forget_stored_blobs() -> None:
    """The step failed and its photo rows were rolled back: delete bytes no other photo holds."""
    for ph in _stored_now():
        if ph.blob_key and not session().scalar(select(Photo.id).where(Photo.blob_key == ph.blob_key).limit(1)):
            storage().delete(ph.blob_key)
    _stored_now().clear()


def _stored_now() -> list[Photo]:
    return g.setdefault("web_stored_photos", [])


# What Pillow names the accepted photo types (image/jpeg, image/png, image/webp, image/heic and heif).
_PHOTO_FORMATS = {"JPEG", "PNG", "WEBP", "HEIF", "HEIC"}


def _store_form_files(p, ticket: Ticket) -> list[Photo]:
    """Photos sent in the plain form (no script): stored through the same service as the upload API."""
    files = [f for f in request.files.getlist("photos") if f and f.filename]
    if not files:
        return []
    if len(files) > FORM_FILES:
        raise ValidationFailed("Too many photos", {"photos": [Said(_(
            "Too many photos in one form; send at most %(n)s.", n=FORM_FILES))]})
    limit = current_app.config["MAX_CHUNK_BYTES"]
    target = photos_service.resolve_target(session(), p, ticket_id=ticket.id)
    # Every file is checked before any is stored: a form refused for its third file leaves no bytes of
    # the first two behind.
    accepted = []
    for f in files:
        data = f.read(limit + 1)
        if len(data) > limit:
            raise ValidationFailed("Photo too large", {"photos": [Said(_(
                "The photo %(name)s is larger than %(mb)s MB.", name=f.filename, mb=limit >> 20))]})
        if not data:
            continue
        ctype = (f.mimetype or "").lower()
        try:
            # Declared exactly as the upload API declares a photo: the same accepted types and limits.
            UploadIn().load({"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "content_type": ctype,
                             "ticket_id": str(ticket.id)})
            if imaging.sniff(data) not in _PHOTO_FORMATS:
                # The whole file is here: one whose header is no photo (a text file named .jpg) is refused
                # now, in the form, not taken and then sent back by the photo check after the step.
                raise ValidationError("not a photo")
        except ValidationError:
            raise ValidationFailed("Not an accepted photo", {"photos": [Said(_(
                "The file %(name)s is not an accepted photo (JPEG, PNG, WebP or HEIC).", name=f.filename))]}) from None
        accepted.append((data, ctype))
    stored = []
    for data, ctype in accepted:
        ph = photos_service.store_whole(session(), storage(), target=target, uploaded_by_id=p.user_id, data=data,
                                        content_type=ctype, expires_in=timedelta(hours=24))
        _stored_now().append(ph)  # forgotten, bytes and all, if the step fails after this
        stored.append(ph)
    return stored


def _event_photos(ticket: Ticket) -> dict:
    """Photos of the ticket's events: {event id: [photo]} (evidence shown in the history)."""
    rows = session().scalars(select(Photo).where(Photo.ticket_event_id.in_([ev.id for ev in ticket.events]))
                             .order_by(Photo.received_at)).all() if ticket.events else []
    out: dict = {}
    for ph in rows:
        out.setdefault(ph.ticket_event_id, []).append(ph)
    return out


@bp.get("/photos/<photo_id>/<variant>")
def photo_file(photo_id, variant):
    """A photo's thumbnail, display image or original for a signed-in user in scope (404 otherwise)."""
    p = _principal()
    if variant not in VARIANTS:
        abort(404)
    try:
        pid = uuid.UUID(photo_id)
    except ValueError:
        abort(404)
    ph = session().scalar(select(Photo).where(Photo.id == pid, photos_service.photo_filter(p)))
    ready = ph is not None and (ph.status == PhotoStatus.processed
                                or (variant == "original" and ph.status == PhotoStatus.received))
    if not ready:
        abort(404)
    key, st = VARIANTS[variant](ph.sha256), storage()
    if isinstance(st, S3Storage):
        return redirect(st.presigned_url(key, expires=current_app.config["PHOTO_URL_EXPIRY_SECONDS"]))
    if not st.exists(key):
        abort(404)
    mimetype = served_type(ph.content_type) if variant == "original" else "image/jpeg"
    # The bytes need no database: end the transaction now rather than hold it while the file streams.
    session().rollback()
    resp = Response(st.open(key), mimetype=mimetype)
    resp.headers.update({"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"})
    return resp
