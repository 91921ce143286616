"""Offline sync for field devices: pull changes, push mutations, settle conflicts."""
from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import select

from inspections.accounts.enums import Role
from inspections.pagination import paginate
from schemas.common import PageArgs, page_of
from schemas.fastload import Invalid
from schemas.sync import ConflictOut, ConflictQuery, PullArgs, PullOut, PushIn, PushOut, ResolveIn
from server.api.common import Blueprint, get_in_scope, page_response
from server.auth import BEARER, EVERYONE, STAFF, current_principal, current_user, require
from server.extensions import session
from sync import conflicts as conflict_service
from sync.models import Conflict
from sync.pull import CursorGone, pull
from sync.push import push

PREFIX = "/sync"
blp = Blueprint("sync", __name__, description="Offline sync: pull changes, push mutations, resolve conflicts.")
ConflictPage = page_of(ConflictOut, "ConflictPage")


@blp.before_request
def _push_body_limit():
    # A full batch (SYNC_MAX_BATCH mutations) is bigger than the 1 MiB JSON default (Flask 3.1).
    if request.method == "POST" and request.path.endswith("/sync/push"):
        request.max_content_length = current_app.config["SYNC_MAX_PUSH_BYTES"]


@blp.route("/pull")
class Pull(MethodView):
    @blp.arguments(PullArgs, location="query")
    @blp.response(200, PullOut)
    @blp.alt_response(410, description="The cursor is unknown or expired: drop it and pull a full snapshot.")
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def get(self, args):
        """Changes I may see since the cursor, oldest commit first (no cursor: a full snapshot in pages)."""
        cfg = current_app.config
        try:
            page = pull(session(), current_principal(), cursor=args["cursor"], limit=args["limit"],
                        secret=cfg["SECRET_KEY"], max_age_days=float(cfg["SYNC_CURSOR_RETENTION_DAYS"]), wire=True)
        except CursorGone as e:
            abort(410, message=f"{e}. Drop the cursor and pull again without one.")
        # The page is already in its wire shape (PullOut dumps it unchanged: tests/sync/test_pull_wire.py),
        # on PostgreSQL with each change's JSON built by the database; dumping 1,000 changes field by
        # field took longer than reading them.
        return current_app.json.response(page)


@blp.route("/push")
class Push(MethodView):
    @blp.arguments(PushIn)
    @blp.response(200, PushOut)
    @blp.doc(security=[BEARER])
    @require(*EVERYONE)
    def post(self, body):
        """Apply a batch of offline mutations in order; one result per mutation, retries are safe."""
        limit = int(current_app.config["SYNC_MAX_BATCH"])
        if len(body["mutations"]) > limit:
            abort(422, message="Too many mutations.", errors={"mutations": [f"at most {limit} per batch"]})
        token_device = getattr(g.token, "device_id", None)
        if token_device is not None and body["device_id"] != str(token_device):
            abort(422, message="Wrong device.",
                  errors={"device_id": ["does not match the device this token was issued for"]})
        db = session()
        keys: dict = {}
        for i, m in enumerate(body["mutations"]):
            if isinstance(m, Invalid):
                continue
            # A mutation id names one change: used again in the batch for another record it is refused
            # (answering it `duplicate` would hand the device another record's result).
            if keys.setdefault(m["mutation_id"], (m["entity"], m["id"])) != (m["entity"], m["id"]):
                body["mutations"][i] = Invalid(
                    {"mutation_id": m["mutation_id"], "id": str(m["id"])},
                    {"mutation_id": ["is used by another mutation of this batch, for another record"]})
        good = [m for m in body["mutations"] if not isinstance(m, Invalid)]
        outcome = push(db, user=current_user(), principal=current_principal(), device_id=body["device_id"],
                       mutations=good, wire=True) if good else None
        db.commit()
        applied = iter(outcome.results if outcome else [])
        # Results are dicts in their wire shape (PushOut dumps each one as a copy of itself), or, for a
        # replayed batch on PostgreSQL, JSON built by the database: written as they are.
        return current_app.json.response(
            {"results": [_malformed(m) if isinstance(m, Invalid) else next(applied) for m in body["mutations"]]})


def _malformed(m: Invalid) -> dict:
    """A mutation that did not load: refused on its own, with its field errors (nothing stored: a retry
    of the same bytes gets the same answer)."""
    raw = m.raw if isinstance(m.raw, dict) else {}
    text = lambda v: v if isinstance(v, str) and len(v) <= 64 else None  # noqa: E731
    return {"mutation_id": text(raw.get("mutation_id")), "status": "rejected", "id": text(raw.get("id")),
            "reason": "invalid mutation", "errors": m.messages if isinstance(m.messages, dict) else {"_": m.messages},
            "code": "invalid"}


@blp.route("/conflicts")
class Conflicts(MethodView):
    @blp.arguments(ConflictQuery, location="query")
    @blp.arguments(PageArgs, location="query", as_kwargs=True)
    @blp.response(200, ConflictPage)
    @blp.doc(security=[BEARER])
    @require(*STAFF)
    def get(self, query, limit, cursor):
        """Conflicts on records in my scope, newest first (by creation, then id: a stable order to page in)."""
        stmt = select(Conflict).where(conflict_service.scope_criterion(current_principal()))
        if query["status"] != "all":
            stmt = stmt.where(Conflict.status == query["status"])
        if query["visit_id"]:
            stmt = stmt.where(Conflict.visit_id == query["visit_id"])
        if query["id"]:
            stmt = stmt.where(Conflict.id == query["id"])
        return page_response(paginate(session(), stmt, [Conflict.created_at, Conflict.id], cursor=cursor, limit=limit,
                                      descending=True))


@blp.route("/conflicts/resolve")
class ResolveConflict(MethodView):
    @blp.arguments(ResolveIn)
    @blp.response(200, ConflictOut)
    @blp.alt_response(409, description="Already resolved; the visit is frozen; or the record was deleted on the "
                                       "server and a client or custom value was chosen (it has nothing to be written "
                                       "to: the conflict stays open; answer the item again, then take the server's "
                                       "side); or the record changed since the conflict was recorded and a client "
                                       "or custom value was chosen without `version`: the conflict stays open, "
                                       "the problem's `current` shows the record's version and values now; take "
                                       "the server's side, or choose again with that `version`.")
    @blp.alt_response(403, description="An office or admin chose a value for an answer (code "
                                       "`conflict.inspectors_answer`): only inspectors answer checklists; an office "
                                       "settles an answer's conflict by keeping the recorded answer (take \"server\"), "
                                       "which closes it with no write.")
    @blp.doc(security=[BEARER])
    @require(Role.admin, Role.office, Role.inspector)
    def post(self, body):
        """Settle a conflict: server, client or a custom value per field; writes a new version.

        If the record was deleted on the server meanwhile, only the server's side (the deletion) settles it.
        If it was changed since the conflict was recorded, a client or custom value is written only when the
        request names the current version (`version`), so a later change is never undone unseen."""
        db = session()
        conflict = get_in_scope(Conflict, body["conflict_id"], conflict_service.scope_criterion(current_principal()))
        conflict_service.resolve(db, conflict, user=current_user(), principal=current_principal(),
                                 take=body["take"], fields=body["fields"], version=body["version"])
        db.commit()
        return conflict
