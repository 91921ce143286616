"""Reference sync client: a local SQLite cache and outbox that works offline and syncs when it can.

The protocol a mobile app must follow (this module is the executable version of it):

1. **Ids and mutation ids are made on the device.** Every new record gets a UUID when it is
   created offline. Every change is queued in a durable outbox with its own `mutation_id`
   (a UUID), the `base_version` it was made on (the server version the device had, or null for a
   create) and only the fields the user changed. An edit may be folded into the record's queued
   mutation only while that mutation has never been sent: once sent it is immutable (the server may
   have applied it though the answer was lost, and its retry must be the very same request, which
   the server answers `duplicate`); a later edit is a new mutation, whose `base_version` is the
   version the server's answer to the earlier one gives (send it in a later batch than that one),
   unless that answer was a conflict or named another record (merged into another device's answer):
   the user never saw the server's values then, so the edit goes with no base (a conflict where it
   differs, never an overwrite or a delete of what the user did not see).
   A status change is never folded into an earlier place in the outbox (a submit folded into the
   visit's create would arrive before the answers). Never drop an outbox entry before the server
   has answered it.
   A step on a ticket (`entity: ticket_event`, create only; `ticket_step` here) is append-only:
   it keeps the device's id, goes through the ticket's state machine and is never merged.
2. **Push** `POST /api/v1/sync/push` `{device_id, mutations: [...]}` in outbox order, at most 500
   per batch (a visit before its answers). Each mutation gets one result:
   A visit's `status` merges as a lifecycle, not as text: moves along planned -> in_progress ->
   submitted compose whatever the base (the first answer starting a visit on the server and the
   device's submit are one direction, so the submit applies); a status the server is already past
   is kept (`merged`); only divergent moves (a cancellation over a visit that moved since the
   device's base) are a conflict. A device re-sending the values a frozen visit already has (both
   inspectors submitted) gets `merged`, not a refusal. Values compare as JSON: `true`, `1`, `1.0`
   and `"1"` differ.
   `applied` / `merged` (take `record` and `version` as the new server copy; an answer may come
   back under the server's `id` when another inspector answered the same item first: re-key it),
   `conflict` (the server value stayed; the conflict id and base/server/client values are shown to
   the user and settled with `POST /api/v1/sync/conflicts/resolve`), `rejected` (`reason` and field
   `errors` are shown; nothing was written), `duplicate` (the server had already processed this
   mutation id: handle `original` as if it were the answer).
3. **Retry safely.** On a network error, timeout, 429 or 5xx, send the *same* batch again with the
   same mutation ids after an exponential backoff with jitter: the server applies nothing twice.
4. **Pull** `GET /api/v1/sync/pull?cursor=` until `has_more` is false, applying changes in order
   (upsert = replace the record with `data` unless a newer `version` is cached; delete = drop it),
   then store the returned cursor. Without a cursor the server sends a full snapshot in pages.
   A 410 means the cursor is unknown, expired, or was issued before what the account may see
   shrank (an assignment removed, taken off a visit, a school moved away): drop the cursor and the
   synced cache (keep the outbox) and pull again from scratch, which leaves out what is no longer
   visible. Local pending edits stay on top of pulled data.
5. **Show sync state** per record: pending (queued), syncing (sent, no answer yet), synced,
   conflict or rejected, each with a readable reason, so the user knows what has not reached the
   server.
6. **Photos** are files, not mutations. Each gets its id on the device (so a ticket step may name
   it in `photo_ids` at once) and its sha256 and size when it is taken. One up to a chunk (8 MiB)
   goes in one request, `POST /api/v1/photos/uploads/whole`, with the declaration (id, sha256,
   size, content_type, one target: `visit_id` + `item_code`, `response_id` or `ticket_id`,
   captured_at, latitude, longitude) in the tus `Upload-Metadata` header. A larger one is declared
   (`POST /api/v1/photos/uploads`, the same fields as JSON) and sent in chunks
   (`PATCH /api/v1/photos/uploads/{id}` at `Upload-Offset`, the last with `Upload-Complete: ?1`);
   a 409 names the offset to resume from. Every call is safe to repeat with the same id. Send the
   photos of ticket steps before the push that takes the step, and a visit's photos after the push
   that created the visit. A 4xx is final for that photo (show its reason); retry the rest.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlencode

PENDING, SYNCING, SYNCED, CONFLICT, REJECTED = "pending", "syncing", "synced", "conflict", "rejected"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    entity TEXT NOT NULL, id TEXT NOT NULL, version INTEGER, server TEXT, local TEXT,
    state TEXT NOT NULL, reason TEXT, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (entity, id));
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, mutation_id TEXT NOT NULL UNIQUE, entity TEXT NOT NULL,
    id TEXT NOT NULL, op TEXT NOT NULL, base_version INTEGER, fields TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, result TEXT,
    base_prior INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS photos (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, path TEXT NOT NULL, size INTEGER NOT NULL,
    declaration TEXT NOT NULL, state TEXT NOT NULL, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0, result TEXT);
"""
UPLOAD_TYPE = "application/offset+octet-stream"


class TransportError(Exception):
    """The server could not be reached or did not answer (retry later)."""


class SyncUnavailable(Exception):
    """Retries exhausted: everything stays queued for the next sync."""


class HttpTransport:
    """JSON over HTTP with a bearer token (standard library only)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30):
        self.base_url, self.token, self.timeout = base_url.rstrip("/"), token, timeout

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None):
        query = ("?" + urlencode({k: v for k, v in (params or {}).items() if v is not None})) if params else ""
        status, payload, _headers = self.send(method, path + query,
                                              data=json.dumps(body).encode() if body is not None else None,
                                              headers={"Content-Type": "application/json"})
        return status, payload

    def send(self, method: str, path: str, *, data: bytes | None, headers: dict):
        """Raw bytes with extra headers (photo uploads): (status, JSON payload or {}, response headers)."""
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.token}", **headers})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, _json(resp.read()), dict(resp.headers)
        except urllib.error.HTTPError as e:
            return e.code, _json(e.read()), dict(e.headers)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            raise TransportError(str(e)) from e


class _ShortFile(Exception):
    """The photo's file no longer has the bytes it had when it was attached."""


def _problem(payload: dict) -> str:
    """A problem+json answer as one line: its detail (or title) and field errors."""
    errors = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in (payload.get("errors") or {}).items())
    return f"{payload.get('detail') or payload.get('title')}" + (f" ({errors})" if errors else "")


def _json(raw: bytes) -> dict:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {}


class FlaskTransport:
    """The same calls through a Flask test client (tests)."""

    def __init__(self, client, headers: dict):
        self.client, self.headers = client, headers

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None):
        r = self.client.open(path, method=method, query_string={k: v for k, v in (params or {}).items() if v is not None},
                             json=body, headers=self.headers)
        return r.status_code, r.get_json(silent=True) or {}

    def send(self, method: str, path: str, *, data: bytes | None, headers: dict):
        r = self.client.open(path, method=method, data=data, headers={**self.headers, **headers})
        return r.status_code, r.get_json(silent=True) or {}, dict(r.headers)


class SyncClient:
    """A device's local store: read and edit offline, then `sync()` when there is a network."""

    def __init__(self, path: str, transport, *, device_id: str | None = None, batch_size: int = 500,
                 max_attempts: int = 5, backoff: float = 0.5, sleep=time.sleep, page_size: int = 500,
                 whole_limit: int = 8 << 20, chunk_size: int = 8 << 20):
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(_SCHEMA)
        if "base_prior" not in {r[1] for r in self.db.execute("PRAGMA table_info(outbox)")}:
            # A device store made before base_prior existed: every queued mutation has its base already.
            self.db.execute("ALTER TABLE outbox ADD COLUMN base_prior INTEGER NOT NULL DEFAULT 0")
        self.transport, self.batch_size, self.page_size = transport, batch_size, page_size
        self.max_attempts, self.backoff, self.sleep = max_attempts, backoff, sleep
        self.whole_limit, self.chunk_size = whole_limit, chunk_size  # bytes: one request up to whole_limit
        self.device_id = device_id or self._meta("device_id") or str(uuid.uuid4())
        self._set_meta("device_id", self.device_id)
        self.db.commit()

    # --- local reads and edits ------------------------------------------------------------------

    def get(self, entity: str, id: str) -> dict | None:
        """The record as the user sees it (server copy plus local edits), or None."""
        row = self.db.execute("SELECT local, deleted FROM records WHERE entity=? AND id=?", (entity, str(id))).fetchone()
        return None if row is None or row[1] else json.loads(row[0])

    def all(self, entity: str) -> list[dict]:
        """Every visible record of an entity."""
        rows = self.db.execute("SELECT local FROM records WHERE entity=? AND deleted=0", (entity,))
        return [json.loads(r[0]) for r in rows]

    def status(self, entity: str, id: str) -> tuple[str, str | None]:
        """(state, reason) of a local record or photo: pending, syncing, synced, conflict or rejected."""
        if entity == "photo":
            row = self.db.execute("SELECT state, reason FROM photos WHERE id=?", (str(id),)).fetchone()
        else:
            row = self.db.execute("SELECT state, reason FROM records WHERE entity=? AND id=?",
                                  (entity, str(id))).fetchone()
        return (row[0], row[1]) if row else ("unknown", "not on this device")

    def unsynced(self) -> list[dict]:
        """Records and photos whose latest state has not been accepted by the server, with the reason."""
        rows = self.db.execute("SELECT entity, id, state, reason FROM records WHERE state != ? UNION ALL "
                               "SELECT 'photo', id, state, reason FROM photos WHERE state != ? ORDER BY 1, 2",
                               (SYNCED, SYNCED))
        return [{"entity": e, "id": i, "state": s, "reason": r} for e, i, s, r in rows]

    def create(self, entity: str, fields: dict, id: str | None = None) -> str:
        """Create a record offline; returns its (device-made) id. ValueError if `id` is not a UUID (the
        server would refuse the record, and only after it had waited in the outbox)."""
        rid = str(uuid.UUID(str(id))) if id is not None else str(uuid.uuid4())
        self.db.execute("INSERT INTO records (entity, id, version, server, local, state, reason) VALUES (?,?,?,?,?,?,?)",
                        (entity, rid, None, None, json.dumps({"id": rid} | fields), PENDING, "created on this device"))
        self._queue(entity, rid, "create", None, fields)
        self.db.commit()
        return rid

    def ticket_step(self, ticket_id: str, to: str, *, note: str | None = None, plan: list[dict] | None = None,
                    photo_ids: list[str] | None = None) -> str:
        """Queue a step on a rectification ticket (a school acknowledging it, sending its plan or
        evidence; an inspector verifying). Steps are append-only: the server runs them through the
        ticket's state machine, and an illegal one comes back `rejected` with the reason."""
        fields: dict = {"ticket_id": str(ticket_id), "to": to}
        if note is not None:
            fields["note"] = note
        if plan is not None:
            fields["plan"] = plan
        if photo_ids:
            fields["photo_ids"] = [str(p) for p in photo_ids]
        return self.create("ticket_event", fields)

    def attach_photo(self, path: str, *, content_type: str = "image/jpeg", visit_id=None, item_code: str | None = None,
                     response_id=None, ticket_id=None, captured_at=None, latitude=None, longitude=None,
                     id=None) -> str:
        """Queue a photo file as evidence: for a visit's item (visit_id + item_code), an answer
        (response_id) or a ticket's next step (ticket_id). Returns its id, made here, which a ticket
        step may name in `photo_ids` straight away. The file must stay at `path` until it is sent."""
        targets = {k: str(v) for k, v in (("visit_id", visit_id), ("response_id", response_id),
                                          ("ticket_id", ticket_id)) if v is not None}
        if len(targets) != 1:
            raise ValueError("a photo is evidence for exactly one of visit_id (with item_code), response_id, ticket_id")
        digest, size = hashlib.sha256(), 0
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
        pid = str(id or uuid.uuid4())
        decl = {"id": pid, "sha256": digest.hexdigest(), "size": size, "content_type": content_type, **targets}
        for key, value in (("item_code", item_code), ("latitude", latitude), ("longitude", longitude),
                           ("captured_at", captured_at.isoformat() if hasattr(captured_at, "isoformat") else captured_at)):
            if value is not None:
                decl[key] = str(value)
        self.db.execute("INSERT INTO photos (id, path, size, declaration, state, reason) VALUES (?,?,?,?,?,?)",
                        (pid, str(path), size, json.dumps(decl), PENDING, "taken on this device"))
        self.db.commit()
        return pid

    def update(self, entity: str, id: str, fields: dict) -> None:
        """Change fields of a record offline."""
        rid = str(id)
        row = self.db.execute("SELECT version, local FROM records WHERE entity=? AND id=?", (entity, rid)).fetchone()
        if row is None:
            raise KeyError(f"{entity} {rid} is not on this device")
        self.db.execute("UPDATE records SET local=?, state=?, reason=? WHERE entity=? AND id=?",
                        (json.dumps(json.loads(row[1]) | fields), PENDING, "edited on this device", entity, rid))
        self._queue(entity, rid, "update", row[0], fields)
        self.db.commit()

    def delete(self, entity: str, id: str) -> None:
        """Delete a record offline (a create never sent is simply dropped)."""
        rid = str(id)
        row = self.db.execute("SELECT version FROM records WHERE entity=? AND id=?", (entity, rid)).fetchone()
        if row is None:
            return
        queued = self.db.execute("SELECT seq, op, attempts FROM outbox WHERE entity=? AND id=? AND state=? ORDER BY seq",
                                 (entity, rid, PENDING)).fetchall()
        if queued and queued[0][1] == "create" and not any(q[2] for q in queued):
            # Never sent, so the server has never seen it.
            self.db.execute("DELETE FROM outbox WHERE entity=? AND id=? AND state=?", (entity, rid, PENDING))
            self.db.execute("DELETE FROM records WHERE entity=? AND id=?", (entity, rid))
        else:
            # Unsent edits go; one already sent stays (the server may have applied it: it must answer).
            self.db.execute("DELETE FROM outbox WHERE entity=? AND id=? AND state=? AND op='update' AND attempts=0",
                            (entity, rid, PENDING))
            self.db.execute("UPDATE records SET deleted=1, state=?, reason=? WHERE entity=? AND id=?",
                            (PENDING, "deleted on this device", entity, rid))
            self._queue(entity, rid, "delete", row[0], {})
        self.db.commit()

    def _queue(self, entity, rid, op, base_version, fields) -> None:
        """Queue a change. An edit folds into the record's last queued mutation only while that one was
        never sent (a sent mutation is immutable: the server may have applied it, and a retry must be
        the same request). A status move is never folded into an earlier place in the outbox (a submit
        folded into a visit's create would land before its answers): it is appended. A mutation queued
        behind an unanswered one of the same record takes its base from that one's answer (base_prior)."""
        if op == "update":
            last = self.db.execute("SELECT seq, op, attempts, fields FROM outbox WHERE entity=? AND id=? AND state IN "
                                   "(?,?) ORDER BY seq DESC LIMIT 1", (entity, rid, PENDING, SYNCING)).fetchone()
            tail = self.db.execute("SELECT max(seq) FROM outbox").fetchone()[0]
            if last is not None and last[2] == 0 and last[1] in ("create", "update"):
                foldable = dict(fields)
                if "status" in fields and (last[1] == "create" or last[0] != tail):
                    foldable.pop("status")
                if foldable:
                    self.db.execute("UPDATE outbox SET fields=? WHERE seq=?",
                                    (json.dumps(json.loads(last[3]) | foldable), last[0]))
                fields = {k: v for k, v in fields.items() if k not in foldable}
                if not fields:
                    return
        prior = self.db.execute("SELECT 1 FROM outbox WHERE entity=? AND id=? AND state IN (?,?) LIMIT 1",
                                (entity, rid, PENDING, SYNCING)).fetchone() is not None
        self.db.execute("INSERT INTO outbox (mutation_id, entity, id, op, base_version, fields, state, base_prior) "
                        "VALUES (?,?,?,?,?,?,?,?)",
                        (str(uuid.uuid4()), entity, rid, op, None if prior else base_version, json.dumps(fields),
                         PENDING, int(prior and op != "create")))

    # --- sync -----------------------------------------------------------------------------------

    def sync(self) -> dict:
        """Send photos and the outbox, then pull the server's changes. Safe to call at any time, any
        number of times. Photos go first (a ticket step names them) and again after the push (a photo
        of a visit created offline waits for that visit to reach the server)."""
        photos = self.push_photos()
        photos.pop("waiting", None)  # tried again below, once their records are on the server
        pushed = self.push()
        for k, v in self.push_photos().items():
            photos[k] = photos.get(k, 0) + v
        pulled = self.pull()
        return {"pushed": pushed, "photos": photos, "pulled": pulled}

    # --- photos ---------------------------------------------------------------------------------

    def push_photos(self) -> dict:
        """Upload queued photos whose target the server has; returns counts per outcome."""
        counts: dict[str, int] = {}
        rows = self.db.execute("SELECT id, path, size, declaration FROM photos WHERE state IN (?,?) ORDER BY seq",
                               (PENDING, SYNCING)).fetchall()
        for pid, path, size, raw in rows:
            decl = json.loads(raw)
            waiting, refused = self._photo_target(decl)
            if waiting or refused:
                self.db.execute("UPDATE photos SET state=?, reason=? WHERE id=?",
                                (REJECTED if refused else PENDING, refused or waiting, pid))
                self.db.commit()
                counts["rejected" if refused else "waiting"] = counts.get("rejected" if refused else "waiting", 0) + 1
                continue
            self.db.execute("UPDATE photos SET state=?, reason=?, attempts=attempts+1 WHERE id=?",
                            (SYNCING, "sending", pid))
            self.db.commit()
            try:
                status, payload = self._upload(pid, path, size, decl)
            except SyncUnavailable:
                # The server (or its photo storage) does not answer: leave this and the rest queued
                # and let the mutations go on (a step naming an unsent photo waits, see push()).
                self.db.execute("UPDATE photos SET state=?, reason=? WHERE state=?",
                                (PENDING, "server unreachable; will retry", SYNCING))
                self.db.commit()
                counts["unavailable"] = counts.get("unavailable", 0) + 1
                break
            except (OSError, _ShortFile) as e:
                self.db.execute("UPDATE photos SET state=?, reason=? WHERE id=?",
                                (REJECTED, f"the file cannot be read as it was taken: {e}", pid))
                self.db.commit()
                counts["rejected"] = counts.get("rejected", 0) + 1
                continue
            if status in (401, 403):
                # Not this photo's fault (a token expired, an account changed): keep it, say why, stop.
                self.db.execute("UPDATE photos SET state=?, reason=? WHERE state=?",
                                (PENDING, f"server refused the upload ({status}): {_problem(payload)}", SYNCING))
                self.db.commit()
                counts["unavailable"] = counts.get("unavailable", 0) + 1
                break
            arrived = payload.get("status")
            if status in (200, 201) and arrived not in ("expired", "rejected"):
                state, reason, outcome = SYNCED, None, "sent"
            elif status in (200, 201):
                # The server has it, but not as evidence: its partial upload expired before it was
                # finished (attach the photo again), or the file is not an acceptable image.
                state, outcome = REJECTED, "rejected"
                reason = ("the server dropped the unfinished upload (it expired); attach the photo again"
                          if arrived == "expired" else
                          f"the server refused the image: {payload.get('status_reason') or 'not an acceptable image'}")
            else:
                state, outcome = REJECTED, "rejected"
                reason = f"refused ({status}): {_problem(payload)}"
            self.db.execute("UPDATE photos SET state=?, reason=?, result=? WHERE id=?",
                            (state, reason, json.dumps(payload), pid))
            self.db.commit()
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def _photo_target(self, decl: dict) -> tuple[str | None, str | None]:
        """(waiting, refused): a target record made on this device that the server does not have yet."""
        for entity, key in (("visit", "visit_id"), ("response", "response_id")):
            if key in decl:
                row = self.db.execute("SELECT version, state FROM records WHERE entity=? AND id=?",
                                      (entity, decl[key])).fetchone()
                if row is not None and row[0] is None:  # made on this device, not acknowledged yet
                    if row[1] == REJECTED:
                        return None, f"its {entity} was refused by the server"
                    return f"waiting for its {entity} to reach the server", None
        return None, None

    def _upload(self, pid: str, path: str, size: int, decl: dict) -> tuple[int, dict]:
        """One photo: in one request up to `whole_limit`, else declared and sent in chunks (resumable)."""
        if size <= self.whole_limit:
            with open(path, "rb") as f:
                data = f.read()
            meta = ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in decl.items())
            status, payload, _h = self._send("POST", "/api/v1/photos/uploads/whole", data,
                                             {"Content-Type": UPLOAD_TYPE, "Upload-Metadata": meta})
            if status != 413:  # 413: larger than the server's chunk; go resumable
                return status, payload
        status, payload = self._call("POST", "/api/v1/photos/uploads", body=decl)
        if status not in (200, 201) or payload.get("status") not in ("uploading", None):
            return status, payload  # refused, or a retry of an upload that already arrived
        offset = int(payload.get("offset") or 0)
        step = min(self.chunk_size, int(payload.get("max_chunk_bytes") or self.chunk_size))
        with open(path, "rb") as f:
            while offset < size:
                f.seek(offset)
                piece = f.read(min(step, size - offset))
                if not piece:
                    raise _ShortFile(f"{path} has {offset} of the {size} bytes it had when it was taken")
                headers = {"Content-Type": UPLOAD_TYPE, "Upload-Offset": str(offset)}
                if offset + len(piece) >= size:
                    headers["Upload-Complete"] = "?1"
                status, payload, h = self._send("PATCH", f"/api/v1/photos/uploads/{pid}", piece, headers)
                if status in (204, 409):  # stored, or already there: go on from where the server is
                    server_at = h.get("Upload-Offset") or payload.get("offset")
                    if server_at is None or int(server_at) == offset and status == 409:
                        return status, payload  # a conflict that is not about the offset: refused
                    offset = int(server_at)
                    continue
                return status, payload  # 200: the last chunk finalized it; anything else: refused
        return self._call("POST", f"/api/v1/photos/uploads/{pid}/finalize")

    def _send(self, method: str, path: str, data: bytes, headers: dict):
        """`_call` for raw bytes (photo uploads): (status, payload, response headers)."""
        return self._retried(f"{method} {path}",
                             lambda: self.transport.send(method, path, data=data, headers=headers))

    def push(self) -> dict:
        """Send queued mutations in batches; returns counts per result status."""
        counts: dict[str, int] = {}
        # Anything left `syncing` by a crash or lost answer is sent again with the same mutation id.
        self.db.execute("UPDATE outbox SET state=? WHERE state=?", (PENDING, SYNCING))
        while True:
            rows = self.db.execute("SELECT seq, mutation_id, entity, id, op, base_version, fields FROM outbox "
                                   "WHERE state=? ORDER BY seq LIMIT ?", (PENDING, self.batch_size)).fetchall()
            rows = self._until_bases_known(self._until_photos_missing(rows))
            if not rows:
                break
            self.db.executemany("UPDATE outbox SET state=?, attempts=attempts+1 WHERE seq=?", [(SYNCING, r[0]) for r in rows])
            self.db.executemany("UPDATE records SET state=?, reason=? WHERE entity=? AND id=?",
                                [(SYNCING, "sent, waiting for the server", r[2], r[3]) for r in rows])
            self.db.commit()
            batch = [{"mutation_id": r[1], "entity": r[2], "id": r[3], "op": r[4], "base_version": r[5],
                      "fields": json.loads(r[6])} for r in rows]
            try:
                status, payload = self._call("POST", "/api/v1/sync/push",
                                             body={"device_id": self.device_id, "mutations": batch})
            except SyncUnavailable:
                self.db.execute("UPDATE outbox SET state=? WHERE state=?", (PENDING, SYNCING))
                self.db.execute("UPDATE records SET state=?, reason=? WHERE state=?",
                                (PENDING, "server unreachable; will retry", SYNCING))
                self.db.commit()
                raise
            if status != 200:
                # The whole batch was refused (bad request, auth): keep it queued, say why.
                reason = f"server refused the batch ({status}): {payload.get('detail') or payload.get('title')}"
                self.db.execute("UPDATE outbox SET state=? WHERE state=?", (PENDING, SYNCING))
                self.db.execute("UPDATE records SET state=?, reason=? WHERE state=?", (PENDING, reason, SYNCING))
                self.db.commit()
                raise SyncUnavailable(reason)
            for row, result in zip(rows, payload["results"]):
                counts[result["status"]] = counts.get(result["status"], 0) + 1
                self._apply_result(row, result)
            self.db.commit()
        return counts

    def _until_bases_known(self, rows: list) -> list:
        """The rows before the first one whose base is the answer to an earlier mutation of the same
        record in this batch: it goes in the next batch, once that answer gives it its base."""
        waiting = {r[0] for r in self.db.execute("SELECT seq FROM outbox WHERE state=? AND base_prior=1", (PENDING,))}
        if not waiting:
            return rows
        keys: set = set()
        for i, r in enumerate(rows):
            if r[0] in waiting and (r[2], r[3]) in keys:
                return rows[:i]
            keys.add((r[2], r[3]))
        return rows

    def _until_photos_missing(self, rows: list) -> list:
        """The rows before the first ticket step that names a photo not sent yet: that step and all after
        it wait (their order matters), saying why."""
        unsent = {pid for (pid,) in self.db.execute("SELECT id FROM photos WHERE state IN (?,?)", (PENDING, SYNCING))}
        if not unsent:
            return rows
        for i, r in enumerate(rows):
            if r[2] == "ticket_event" and unsent & set(json.loads(r[6]).get("photo_ids") or []):
                self.db.execute("UPDATE records SET state=?, reason=? WHERE entity=? AND id=?",
                                (PENDING, "waiting for its photos to be sent", r[2], r[3]))
                self.db.commit()
                return rows[:i]
        return rows

    def _apply_result(self, row, result: dict) -> None:
        seq, entity, rid = row[0], row[2], row[3]
        self.db.execute("UPDATE outbox SET state='done', result=? WHERE seq=?", (json.dumps(result), seq))
        if result["status"] == "duplicate":
            result = result["original"]
        status = result["status"]
        # The next queued mutation of this record was made on top of this one: this answer is its base.
        nxt = self.db.execute("SELECT seq FROM outbox WHERE entity=? AND id=? AND state=? AND base_prior=1 "
                              "ORDER BY seq LIMIT 1", (entity, rid, PENDING)).fetchone()
        if nxt is not None:
            known = result.get("version")
            if known is None and status == "rejected":
                known = (self.db.execute("SELECT version FROM records WHERE entity=? AND id=?",
                                         (entity, rid)).fetchone() or (None,))[0]
            if status == "conflict" or (result.get("id") or rid) != rid:
                # The server kept values (its own, or another device's record this one merged into) that
                # the user never saw when making the next change: send it with no base, so the server
                # merges it as unseen (a conflict where it differs), never as made on top of them.
                known = None
            self.db.execute("UPDATE outbox SET base_version=?, base_prior=0 WHERE seq=?", (known, nxt[0]))
        if status == "rejected":
            errors = "; ".join(f"{k}: {', '.join(v)}" for k, v in (result.get("errors") or {}).items())
            self.db.execute("UPDATE records SET state=?, reason=? WHERE entity=? AND id=?",
                            (REJECTED, result["reason"] + (f" ({errors})" if errors else ""), entity, rid))
            return
        if result.get("deleted"):
            self.db.execute("DELETE FROM records WHERE entity=? AND id=?", (entity, rid))
            return
        server_id = result.get("id") or rid
        if server_id != rid:
            # Another device created the same answer first: this record now lives under the server's id.
            self.db.execute("DELETE FROM records WHERE entity=? AND id=?", (entity, rid))
            self.db.execute("UPDATE outbox SET id=? WHERE entity=? AND id=? AND state=?", (server_id, entity, rid, PENDING))
            key = f"{entity}_id"
            for pid, raw in self.db.execute("SELECT id, declaration FROM photos WHERE state IN (?,?)",
                                            (PENDING, SYNCING)).fetchall():
                decl = json.loads(raw)
                if decl.get(key) == rid:  # its photos follow it
                    self.db.execute("UPDATE photos SET declaration=? WHERE id=?", (json.dumps(decl | {key: server_id}), pid))
            rid = server_id
        record = result.get("record")
        state, reason = SYNCED, None
        if status == "conflict":
            c = result["conflict"]
            parts = [f"{f}: server has {v['server']!r}, you had {v['client']!r}" for f, v in c["fields"].items()]
            state, reason = CONFLICT, f"conflict {c['id']} - " + "; ".join(parts)
        elif status == "merged":
            reason = "merged with changes made elsewhere"
        self._store(entity, rid, result.get("version"), record, state, reason)

    def _store(self, entity, rid, version, record, state, reason) -> None:
        pending = self.db.execute("SELECT fields FROM outbox WHERE entity=? AND id=? AND state=? ORDER BY seq",
                                  (entity, rid, PENDING)).fetchall()
        local = dict(record or {})
        for (f,) in pending:
            local |= json.loads(f)
        if pending and state == SYNCED:
            state, reason = PENDING, "edited on this device"
        self.db.execute("INSERT INTO records (entity, id, version, server, local, state, reason) VALUES (?,?,?,?,?,?,?) "
                        "ON CONFLICT (entity, id) DO UPDATE SET version=excluded.version, server=excluded.server, "
                        "local=excluded.local, state=excluded.state, reason=excluded.reason, deleted=0",
                        (entity, rid, version, json.dumps(record), json.dumps(local), state, reason))

    def pull(self) -> int:
        """Fetch every change since the stored cursor; returns how many were applied."""
        applied = 0
        while True:
            cursor = self._meta("cursor")
            status, page = self._call("GET", "/api/v1/sync/pull", params={"cursor": cursor, "limit": self.page_size})
            if status == 410:
                # Unknown or expired cursor: forget the synced cache (never the outbox) and start over.
                self.db.execute("DELETE FROM meta WHERE key='cursor'")
                self.db.execute("DELETE FROM records WHERE state=?", (SYNCED,))
                self.db.commit()
                continue
            if status != 200:
                raise SyncUnavailable(f"pull refused ({status}): {page.get('detail') or page.get('title')}")
            for ch in page["changes"]:
                applied += self._apply_change(ch)
            self._set_meta("cursor", page["cursor"])
            self.db.commit()
            if not page["has_more"]:
                return applied

    def _apply_change(self, ch: dict) -> int:
        entity, rid = ch["entity"], ch["id"]
        row = self.db.execute("SELECT version, state FROM records WHERE entity=? AND id=?", (entity, rid)).fetchone()
        queued = self.db.execute("SELECT 1 FROM outbox WHERE entity=? AND id=? AND state IN (?,?) LIMIT 1",
                                 (entity, rid, PENDING, SYNCING)).fetchone()
        if ch["op"] == "delete":
            if row is None:
                return 0
            if queued or row[1] in (REJECTED, CONFLICT):
                # The user's edit to it is queued, or was refused and not yet seen: keep the local copy
                # (no longer a server copy) with the reason until the user acknowledges it.
                self.db.execute("UPDATE records SET version=NULL, server=NULL, state=?, reason=? "
                                "WHERE entity=? AND id=?",
                                (CONFLICT if queued else row[1], "deleted on the server while you edited it",
                                 entity, rid))
            else:
                self.db.execute("DELETE FROM records WHERE entity=? AND id=?", (entity, rid))
            return 1
        if row is not None and row[0] is not None and ch["version"] is not None and ch["version"] < row[0]:
            return 0  # an older copy than the one we hold
        state, reason = SYNCED, None
        if row is not None and row[1] == REJECTED:
            state, reason = REJECTED, self.status(entity, rid)[1]
        if row is not None and row[1] == CONFLICT and row[0] is not None and (ch["version"] or 0) <= row[0]:
            state, reason = CONFLICT, self.status(entity, rid)[1]
        self._store(entity, rid, ch["version"], ch["data"], state, reason)
        return 1

    def acknowledge(self, entity: str, id: str) -> None:
        """The user has seen a rejection: show the server copy again (a record the server no longer has, or
        never had, leaves the device)."""
        self.db.execute("DELETE FROM records WHERE entity=? AND id=? AND server IS NULL AND version IS NULL AND NOT EXISTS "
                        "(SELECT 1 FROM outbox WHERE outbox.entity=records.entity AND outbox.id=records.id "
                        "AND outbox.state IN (?,?))", (entity, str(id), PENDING, SYNCING))
        self.db.execute("UPDATE records SET state=?, reason=NULL, local=COALESCE(server, local) WHERE entity=? AND id=?",
                        (SYNCED, entity, str(id)))
        self.db.commit()

    def _call(self, method: str, path: str, *, params=None, body=None):
        """One JSON request with retries: (status, payload)."""
        return self._retried(f"{method} {path}",
                             lambda: self.transport.request(method, path, params=params, body=body))

    def _retried(self, what: str, attempt):
        """attempt() until it answers below 500 and not 429: exponential backoff with jitter on network
        errors, 429 and 5xx; SyncUnavailable when the attempts run out."""
        for n in range(self.max_attempts):
            try:
                answer = attempt()
                if answer[0] < 500 and answer[0] != 429:
                    return answer
            except TransportError:
                pass
            if n + 1 < self.max_attempts:
                self.sleep(self.backoff * (2 ** n) * (0.5 + random.random()))
        raise SyncUnavailable(f"{what}: no answer after {self.max_attempts} attempts")

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                        (key, value))

    def close(self) -> None:
        self.db.close()
