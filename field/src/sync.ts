// The sync core: sync/client.py's protocol (its docstring is the contract) over IndexedDB.
// Local edits go to `records` and the outbox in one transaction, so nothing typed is ever lost.
import { type FieldDB, type OutboxRow, type PhotoRow, type Rec, type SyncState, recKey } from "./db";

export interface Answer { status: number; payload: any; headers?: Record<string, string> }
export interface Transport {
  /** JSON request; throws TransportError when the server cannot be reached. */
  request(method: string, path: string, opts?: { params?: Record<string, any>; body?: any }): Promise<Answer>;
  /** Raw bytes (photo uploads) with extra headers. */
  send(method: string, path: string, data: Blob, headers: Record<string, string>): Promise<Answer>;
}

export class TransportError extends Error {}
/** Retries exhausted: everything stays queued for the next sync. */
export class SyncUnavailable extends Error {}
/** The server never answered (network errors, or only 5xx/429) in all the attempts. */
export class NoAnswer extends SyncUnavailable {}
/** The server no longer takes the session's token (401: expired, signed out or revoked elsewhere): the
 * user signs in again; everything unsent stays queued for them. */
export class SignInNeeded extends SyncUnavailable {}
/** Equal as JSON values (null and absent alike). */
export const sameValue = (a: any, b: any) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** A conflict with no choice waiting to be sent (answered, or replaced by a later change of the user's). */
const withoutChoice = (c: NonNullable<Rec["conflict"]>): NonNullable<Rec["conflict"]> => { const { chosen: _, ...rest } = c; return rest; };

/** What a conflict is shown (and chosen) against: the server's values of the contested fields at the
 * newest version this device knows, from the server copy a pull brought (the record changed since the
 * conflict was recorded) or from a refused settlement's `current` (`conflict.version`), whichever is newer;
 * `version` is sent with the choice, so a change the device has not seen yet is never overwritten (the
 * server refuses it with the current values). `changed`: those values are not the ones recorded. */
export function conflictShown(r: Pick<Rec, "version" | "server" | "conflict">): { version: number | null; server: Record<string, any>; changed: boolean } {
  const c = r.conflict!;
  const copy = r.server && typeof r.version === "number" && !(typeof c.version === "number" && c.version >= r.version);
  const server: Record<string, any> = {};
  let changed = false;
  for (const [f, v] of Object.entries(c.fields)) {
    server[f] = copy && f in r.server ? r.server[f] : v.server;
    if (!sameValue(server[f], v.server)) changed = true;
  }
  return { version: copy ? r.version : typeof c.version === "number" ? c.version : r.version, server, changed: changed || !!c.moved };
}

/** A photo taken here that the server holds no copy of: waiting to be sent, or refused at the upload (a
 * refusal with no photo status: the server kept nothing). One the server stored, even refused afterwards
 * as no image, is the server's record. */
export function photoRemovable(p: { state: SyncState; server_status?: unknown }): boolean {
  return p.state === "pending" || (p.state === "rejected" && typeof p.server_status !== "string");
}
/** A settlement refused because the record changed on the server meanwhile: the conflict now shows the
 * current values, to be chosen again (SyncCore.resolve). */
export class ConflictMoved extends Error {}

export const uuid = (): string =>
  (globalThis.crypto as Crypto).randomUUID ? crypto.randomUUID()
    : "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (Number(c) ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (Number(c) / 4)))).toString(16));

export interface SyncOptions {
  deviceId: string;
  /** The signed-in user: conflicts on visits they are on are brought to this device (reconcileConflicts). */
  userId?: string;
  batchSize?: number;
  pageSize?: number;
  maxAttempts?: number;
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
  wholeLimit?: number; // bytes: a photo up to this goes in one request
  chunkSize?: number;
  onChange?: () => void;
}

const UPLOAD_TYPE = "application/offset+octet-stream";

/** The server's refusal (a problem document or a push result) as one reason: `{code} ` first when the server
 * gave the refusal's kind (what the app tells the user from: see reasonCode), then its English words and field
 * errors, kept to be shown as the server's detail. */
export function refusalText(payload: any, words = payload?.detail || payload?.title || "refused"): string {
  const errors = Object.entries(payload?.errors || {}).map(([k, v]) => `${k}: ${([] as any[]).concat(v).join(", ")}`).join("; ");
  const code = typeof payload?.code === "string" && /^[a-z_.]+$/.test(payload.code) ? `{${payload.code}} ` : "";
  return `${code}${words}` + (errors ? ` (${errors})` : "");
}

/** A reason's server code and the server's words after it ({code} as refusalText writes it), or no code. */
export function reasonCode(detail: string): { code: string | null; words: string } {
  const m = /^\{([a-z_.]+)\} (.*)$/s.exec(detail);
  return m ? { code: m[1], words: m[2] } : { code: null, words: detail };
}

const problem = (payload: any) => refusalText(payload);

function b64(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  bytes.forEach((b) => (bin += String.fromCharCode(b)));
  return btoa(bin);
}

/** sha256 of a blob as hex (SubtleCrypto). */
export async function sha256Hex(blob: Blob): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The version what the user sees of a record rests on (a record stored before `base` existed: its version). */
const baseOf = (r: Pick<Rec, "version" | "base">): number | null => (r.base === undefined ? r.version : r.base);

const conflictReason = (c: NonNullable<Rec["conflict"]>): string => `conflict ${c.id}: ` + Object.entries(c.fields)
  .map(([f, v]) => `${f}: server has ${JSON.stringify(v.server)}, you had ${JSON.stringify(v.client)}`).join("; ");

/** The base an edit shown on top of an answered mutation rests on: the version its answer gave (the server
 * then held the user's value), the refused one's own base (nothing was written), none after a conflict
 * or a merge into another record (the server kept values the user never saw). */
function baseAfter(row: OutboxRow): number | null {
  let res = row.result;
  if (res?.status === "duplicate") res = res.original;
  if (!res) return null;
  if (res.status === "rejected") return row.base_version;
  if (res.status === "conflict" || (res.id && res.id !== row.id)) return null;
  return res.version ?? null;
}

export class SyncCore {
  readonly opts: Required<SyncOptions>;
  private running: Promise<any> | null = null;

  constructor(readonly db: FieldDB, readonly transport: Transport, opts: SyncOptions) {
    this.opts = {
      batchSize: 500, pageSize: 500, maxAttempts: 5, backoffMs: 500, wholeLimit: 1 << 20, chunkSize: 1 << 20,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)), onChange: () => {}, ...opts,
    } as Required<SyncOptions>;
  }

  // --- local reads and edits ------------------------------------------------------------------

  async get(entity: string, id: string): Promise<any | null> {
    const r = await this.db.records.get(recKey(entity, id));
    return r && !r.deleted ? r.local : null;
  }

  async record(entity: string, id: string): Promise<Rec | undefined> {
    return this.db.records.get(recKey(entity, id));
  }

  async all(entity: string): Promise<any[]> {
    return (await this.db.records.where("entity").equals(entity).toArray()).filter((r) => !r.deleted).map((r) => r.local);
  }

  async answersOf(visitId: string): Promise<Rec[]> {
    return (await this.db.records.where("visit_id").equals(visitId).toArray()).filter((r) => r.entity === "response" && !r.deleted);
  }

  /** Records and photos whose latest state the server has not accepted, with the reason. */
  async unsynced(): Promise<{ entity: string; id: string; state: SyncState; reason: string | null }[]> {
    const recs = (await this.db.records.where("state").notEqual("synced").toArray())
      .map((r) => ({ entity: r.entity, id: r.id, state: r.state, reason: r.reason }));
    const photos = (await this.db.photos.where("state").notEqual("synced").toArray())
      .map((p) => ({ entity: "photo", id: p.id, state: p.state, reason: p.reason }));
    return [...recs, ...photos];
  }

  /** Mutations and photos not yet accepted by the server (the number always shown). */
  async unsentCount(): Promise<number> {
    const queued = await this.db.outbox.where("state").anyOf("pending", "syncing").count();
    const photos = await this.db.photos.where("state").anyOf("pending", "syncing").count();
    // Choices of conflicts still to send (made with no signal; a refused one is no longer kept as chosen).
    const settlements = await this.db.records.where("state").equals("conflict").filter((r) => !!r.conflict?.chosen).count();
    return queued + photos + settlements;
  }

  async create(entity: string, fields: Record<string, any>, id?: string): Promise<string> {
    const rid = id || uuid();
    await this.db.transaction("rw", this.db.records, this.db.outbox, async () => {
      await this.db.records.put({
        key: recKey(entity, rid), entity, id: rid, visit_id: fields.visit_id ?? (entity === "visit" ? rid : undefined),
        version: null, server: null, local: { id: rid, ...fields }, state: "pending", reason: "created on this device", deleted: 0,
      });
      const row = await this.queue(entity, rid, "create", null, fields);
      await this.db.records.update(recKey(entity, rid), { edit: row.mutation_id });
    });
    this.opts.onChange();
    return rid;
  }

  /** Change fields offline. `barrier`: a new mutation sent on its own after everything before it
   * (a visit's submission must follow its answers); it is never folded into. `seen`: the record as the
   * screen showed it when the user made the change. The change is based on what the user saw: the
   * server copy's version when it holds the very values the user saw in the fields changed (the
   * device's own edit came back, say), else the version what was shown rested on. So a version a pull
   * brought while the user typed over an older value never becomes the base of what they typed. An
   * edit behind one of the same record still unanswered takes its base from that answer. */
  async update(entity: string, id: string, fields: Record<string, any>,
               opts: { barrier?: boolean; seen?: Pick<Rec, "version" | "local" | "base" | "edit"> } = {}): Promise<void> {
    await this.db.transaction("rw", this.db.records, this.db.outbox, async () => {
      const key = recKey(entity, id);
      const r = await this.db.records.get(key);
      if (!r) throw new Error(`${entity} ${id} is not on this device`);
      const local = { ...r.local, ...fields };
      const live = await this.liveRows(entity, id);
      if (!live.length && r.version === null && r.server === null) {
        // The server never made it (its create was refused): a correction creates it.
        const { id: _drop, ...all } = local;
        const row = await this.queue(entity, id, "create", null, all);
        await this.db.records.update(key, { local, state: "pending", reason: "edited on this device", base: null, edit: row.mutation_id });
        return;
      }
      const seen = opts.seen ?? r;
      let base = baseOf(r);
      if (!live.length) {
        const saw = (copy: any) => Object.keys(fields).every((f) => JSON.stringify(seen.local?.[f] ?? null) === JSON.stringify(copy?.[f] ?? null));
        const shown = seen.edit ? await this.db.outbox.where("mutation_id").equals(seen.edit).first() : undefined;
        // The server copy as seen; else the screen showed an edit of the device: what its answer left it
        // resting on; else what the record shows now as seen (its own base); else the screen was older
        // than the record (a pull landed while the user typed): the base the screen rested on.
        base = saw(r.server) ? r.version : shown?.state === "done" ? baseAfter(shown) : saw(r.local) ? baseOf(r) : baseOf(seen);
      }
      const row = await this.queue(entity, id, "update", base, fields, opts.barrier);
      // An open conflict stays in view (settled only by the user) while the edit waits. A choice made on it
      // and not yet sent gives way to an edit of every contested field: that edit is what the user wants now
      // (once applied it answers the conflict, `superseded`), and "keep mine" would write the older value.
      const replaces = r.conflict?.chosen && Object.keys(r.conflict.fields).every((f) => f in fields);
      await this.db.records.update(key, { local, state: r.conflict ? "conflict" : "pending",
                                          reason: r.conflict ? r.reason : "edited on this device",
                                          base: row.base_prior ? null : row.base_version, edit: row.mutation_id,
                                          ...(replaces ? { conflict: withoutChoice(r.conflict!) } : {}) });
    });
    this.opts.onChange();
  }

  /** The record's mutations not answered yet (queued or sent), oldest first. */
  private async liveRows(entity: string, id: string): Promise<OutboxRow[]> {
    return (await this.db.outbox.where("[entity+id]").equals([entity, id]).toArray())
      .filter((r) => r.state !== "done").sort((a, b) => a.seq! - b.seq!);
  }

  /** Queue a change; returns the outbox row that carries it. */
  private async queue(entity: string, id: string, op: OutboxRow["op"], base: number | null, fields: Record<string, any>,
                      barrier = false): Promise<OutboxRow> {
    const live = await this.liveRows(entity, id);
    if (op === "update" && !barrier) {
      // Fold into the newest queued mutation of this record that was never sent (one base, no false
      // conflict); a mutation once sent is immutable, so a later edit becomes a new one.
      const last = live[live.length - 1];
      if (last && last.state === "pending" && last.attempts === 0 && !last.barrier && last.op !== "delete") {
        last.fields = { ...last.fields, ...fields };
        await this.db.outbox.update(last.seq!, { fields: last.fields });
        return last;
      }
    }
    // Behind a mutation of the same record not answered yet: its answer gives this one its base.
    const prior = op !== "create" && live.length > 0;
    const row: OutboxRow = { mutation_id: uuid(), entity, id, op, base_version: prior ? null : base, fields, state: "pending",
                             attempts: 0, barrier, base_prior: prior };
    row.seq = await this.db.outbox.add(row);
    return row;
  }

  /** The user has seen a rejection: show the server copy again (or drop a refused create). */
  async acknowledge(entity: string, id: string, opts: { conflict?: boolean } = {}): Promise<void> {
    const key = recKey(entity, id);
    const r = await this.db.records.get(key);
    if (!r) return;
    // An open conflict stays to be settled, unless the inspector closes it here (its settlement was refused:
    // the visit is frozen; it stays open on the server, where the office sees it).
    const conflict = opts.conflict ? null : r.conflict ?? null;
    if (r.server) await this.db.records.update(key, { state: conflict ? "conflict" : "synced", reason: conflict ? conflictReason(conflict) : null,
                                                      local: r.server, base: r.version, conflict });
    else await this.db.records.delete(key);
    this.opts.onChange();
  }

  // --- sync -----------------------------------------------------------------------------------

  /** Photos, choices made on conflicts, the outbox, photos again, then pull. One at a time: a second call
   * joins the first. */
  sync(): Promise<{ pushed: Record<string, number>; photos: Record<string, number>; pulled: number }> {
    if (!this.running) {
      this.running = (async () => {
        try {
          const photos = await this.pushPhotos();
          delete photos.waiting;
          // Choices made on conflicts first: a visit's submission queued after them finds them settled.
          await this.sendChoices();
          const pushed = await this.push();
          await this.settleSuperseded();
          await this.sendChoices(); // made meanwhile
          for (const [k, v] of Object.entries(await this.pushPhotos())) photos[k] = (photos[k] || 0) + v;
          const pulled = await this.pull();
          await this.reconcileConflicts();
          return { pushed, photos, pulled };
        } finally {
          this.running = null;
          this.opts.onChange();
        }
      })();
    }
    return this.running;
  }

  async push(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    // Anything left `syncing` by a crash or a lost answer is sent again with the same mutation id.
    await this.db.outbox.where("state").equals("syncing").modify({ state: "pending" });
    let sentBefore = false;
    for (;;) {
      let rows = (await this.db.outbox.where("state").equals("pending").sortBy("seq")).slice(0, this.opts.batchSize);
      // A mutation whose base is the answer to an earlier one of its record in this batch waits for the next.
      const keys = new Set<string>();
      const cut = rows.findIndex((r) => { const k = recKey(r.entity, r.id); const w = r.base_prior && keys.has(k); keys.add(k); return w; });
      if (cut >= 0) rows = rows.slice(0, cut);
      if (!rows.length) break;
      const at = rows.findIndex((r) => r.barrier);
      if (at > 0) rows = rows.slice(0, at);
      else if (at === 0) {
        rows = rows.slice(0, 1);
        const b = rows[0];
        if (sentBefore) await this.pull(); // learn the version the mutations before it left
        if (b.attempts === 0) {
          // Not sent yet, so still ours to rebase: on the version the earlier mutations produced.
          const r = await this.db.records.get(recKey(b.entity, b.id));
          if (r && r.version !== null) {
            b.base_version = r.version;
            await this.db.outbox.update(b.seq!, { base_version: r.version });
          }
        }
      }
      // Marked sent and read again in one transaction: an edit folded into a row after the read above (while
      // the pull before a barrier ran, say) goes with it. Sending the fields read above would send the row
      // without that edit while marking it sent: the edit lost (the sync core's model test found it).
      const marked: OutboxRow[] = [];
      await this.db.transaction("rw", this.db.outbox, this.db.records, async () => {
        for (const r of rows) {
          const now = await this.db.outbox.get(r.seq!);
          if (!now || now.state !== "pending") break; // answered or withdrawn meanwhile: the next round sees it
          await this.db.outbox.update(r.seq!, { state: "syncing", attempts: now.attempts + 1 });
          await this.db.records.update(recKey(r.entity, r.id), { state: "syncing", reason: "sent, waiting for the server" });
          marked.push({ ...now, state: "syncing", attempts: now.attempts + 1 });
        }
      });
      rows = marked;
      if (!rows.length) continue;
      this.opts.onChange();
      const batch = rows.map((r) => ({ mutation_id: r.mutation_id, entity: r.entity, id: r.id, op: r.op,
        base_version: r.base_version, fields: r.fields }));
      let answer: Answer;
      try {
        answer = await this.call("POST", "/api/v1/sync/push", { body: { device_id: this.opts.deviceId, mutations: batch } });
      } catch (e) {
        await this.unsend("server unreachable; will retry");
        throw e;
      }
      if (answer.status === 401) {
        await this.unsend("edited on this device");
        throw new SignInNeeded(`server refused the batch (401): ${problem(answer.payload)}`);
      }
      if (answer.status !== 200) {
        const reason = `server refused the batch (${answer.status}): ${problem(answer.payload)}`;
        await this.unsend(reason);
        throw new SyncUnavailable(reason);
      }
      sentBefore = true;
      await this.db.transaction("rw", this.db.outbox, this.db.records, this.db.photos, async () => {
        const results: any[] = answer.payload.results;
        for (let i = 0; i < rows.length; i++) {
          counts[results[i].status] = (counts[results[i].status] || 0) + 1;
          await this.applyResult(rows[i], results[i]);
        }
      });
      this.opts.onChange();
    }
    return counts;
  }

  private async unsend(reason: string): Promise<void> {
    await this.db.transaction("rw", this.db.outbox, this.db.records, async () => {
      await this.db.outbox.where("state").equals("syncing").modify({ state: "pending" });
      await this.db.records.where("state").equals("syncing").modify({ state: "pending", reason });
    });
  }

  private async applyResult(row: OutboxRow, result: any): Promise<void> {
    await this.db.outbox.update(row.seq!, { state: "done", result });
    if (result.status === "duplicate") result = result.original;
    let rid = row.id;
    const entity = row.entity;
    const key = recKey(entity, rid);
    // The record's next mutation was made on top of this one: this answer gives it its base.
    const next = (await this.liveRows(entity, rid)).find((r) => r.state === "pending");
    if (next && result.status === "rejected" && row.op === "create" && next.op === "update") {
      // The server never made the record: the next change creates it, with everything the device has.
      const created = { ...row.fields, ...next.fields };
      await this.db.outbox.update(next.seq!, { op: "create", fields: created, base_version: null, base_prior: false });
    } else if (next?.base_prior) {
      // A refused one wrote nothing: the next rests on what the refused one rested on (not on the record's
      // version, which a pull may have moved to a value the user never saw).
      let known: number | null = result.status === "rejected" ? row.base_version : result.version ?? null;
      // The server kept values the user never saw (a conflict, or another device's answer this one
      // merged into): the next change goes with no base, a conflict where it differs.
      if (result.status === "conflict" || (result.id && result.id !== rid)) known = null;
      await this.db.outbox.update(next.seq!, { base_version: known, base_prior: false });
    }
    if (result.status === "rejected") {
      // Nothing was written: what the user sees still rests on the version the refused edit was made on.
      // A move along the visit's lifecycle that was refused (a submit over open conflicts, or onto a visit
      // cancelled meanwhile) did not happen: the visit is shown as the server holds it, with the refusal's
      // reason, and can be moved again (submitted once its conflicts are settled). (Only then is the record
      // read first: an answer's refusal stays one write, as the sync core's model test interleaves it.)
      const rec = entity === "visit" && row.fields && "status" in row.fields ? await this.db.records.get(key) : undefined;
      const moved = rec?.server ? { local: { ...rec.local, status: rec.server.status } } : {};
      await this.db.records.update(key, { state: "rejected", reason: refusalText(result, result.reason), base: row.base_version,
                                          ...moved });
      return;
    }
    if (result.deleted) { await this.db.records.delete(key); return; }
    const serverId = result.id || rid;
    if (serverId !== rid) {
      // Another device created the same answer first: this record now lives under the server's id.
      await this.db.records.delete(key);
      await this.db.outbox.where("[entity+id]").equals([entity, rid]).and((r) => r.state === "pending").modify({ id: serverId });
      const k = `${entity}_id`;
      await this.db.photos.where("state").anyOf("pending", "syncing").modify((p) => {
        if (p.decl[k] === rid) p.decl = { ...p.decl, [k]: serverId };
      });
      rid = serverId;
    }
    let state: SyncState = "synced", reason: string | null = null, conflict: Rec["conflict"] = null;
    if (result.status === "conflict") {
      const c = result.conflict;
      conflict = c;
      state = "conflict";
      reason = conflictReason(c);
    } else {
      if (result.status === "merged") reason = "merged with changes made elsewhere";
      // A conflict of this record still open on the server stays in view until it is settled: a later
      // change of the device's applied after it does not settle it by itself. One that wrote every
      // contested field was made on the server's value (applied, not a conflict) and answers the conflict:
      // it is marked `superseded`, and the sync settles it for the server's side, which that change now is
      // (settleSuperseded). Else "keep mine" would write the conflict's older value over it.
      const prev = await this.db.records.get(recKey(entity, rid));
      if (prev?.conflict) {
        const covered = Object.keys(prev.conflict.fields).every((f) => row.fields && f in row.fields);
        // (A choice still waiting to be sent is dropped: the later change is what the user wants now.)
        conflict = covered ? { ...withoutChoice(prev.conflict), superseded: true } : prev.conflict;
        state = "conflict"; reason = conflictReason(conflict);
      }
    }
    await this.store(entity, rid, result.version ?? null, result.record, state, reason, conflict);
  }

  private async store(entity: string, rid: string, version: number | null, record: any, state: SyncState,
                      reason: string | null, conflict: Rec["conflict"] = null): Promise<void> {
    const pending = (await this.db.outbox.where("[entity+id]").equals([entity, rid]).toArray())
      .filter((r) => r.state === "pending").sort((a, b) => a.seq! - b.seq!);
    let local = { ...(record || {}) };
    for (const p of pending) local = { ...local, ...p.fields };
    if (pending.length && state === "synced") { state = "pending"; reason = "edited on this device"; }
    const prev = await this.db.records.get(recKey(entity, rid));
    await this.db.records.put({
      key: recKey(entity, rid), entity, id: rid,
      visit_id: entity === "response" ? local.visit_id : entity === "visit" ? rid : local.visit_id,
      version, server: record, local, state, reason, deleted: 0,
      base: pending.length ? (prev ? baseOf(prev) : null) : version, edit: pending.length ? prev?.edit ?? null : null,
      conflict: conflict ?? (state === "conflict" ? prev?.conflict ?? null : null),
    });
  }

  async pull(): Promise<number> {
    let applied = 0;
    for (;;) {
      const cursor = (await this.db.meta.get("cursor"))?.value ?? null;
      const page = await this.call("GET", "/api/v1/sync/pull", { params: { cursor, limit: this.opts.pageSize } });
      if (page.status === 410) {
        // Unknown or expired cursor: forget the synced cache (never the outbox) and start over.
        await this.db.transaction("rw", this.db.meta, this.db.records, async () => {
          await this.db.meta.delete("cursor");
          await this.db.records.where("state").equals("synced").delete();
        });
        continue;
      }
      if (page.status === 401) throw new SignInNeeded(`pull refused (401): ${problem(page.payload)}`);
      if (page.status !== 200) throw new SyncUnavailable(`pull refused (${page.status}): ${problem(page.payload)}`);
      await this.db.transaction("rw", [this.db.records, this.db.outbox, this.db.meta, this.db.photos], async () => {
        for (const ch of page.payload.changes) applied += await this.applyChange(ch);
        await this.db.meta.put({ key: "cursor", value: page.payload.cursor });
        for (const [vid, ev] of Object.entries(page.payload.evidence || {})) await this.db.meta.put({ key: `evidence:${vid}`, value: ev });
      });
      if (!page.payload.has_more) break;
    }
    await this.db.meta.put({ key: "pulled_at", value: new Date().toISOString() });
    this.opts.onChange();
    return applied;
  }

  private async applyChange(ch: any): Promise<number> {
    const { entity, id } = ch;
    if (entity === "photo" && ch.op === "upsert") {
      const p = await this.db.photos.where("id").equals(id).first();
      if (p) await this.db.photos.update(p.seq!, { server_status: ch.data?.status });
    }
    const key = recKey(entity, id);
    const row = await this.db.records.get(key);
    const queued = (await this.db.outbox.where("[entity+id]").equals([entity, id]).toArray())
      .some((r) => r.state === "pending" || r.state === "syncing");
    if (ch.op === "delete") {
      if (!row) return 0;
      if (queued || row.state === "rejected" || row.state === "conflict") {
        // The user's edit is queued, or was refused and not yet seen: keep the local copy (no longer a
        // server copy) with the reason until the user acknowledges it.
        await this.db.records.update(key, { state: queued ? "conflict" : row.state, version: null, server: null,
                                            reason: "deleted on the server while you edited it" });
      } else await this.db.records.delete(key);
      return 1;
    }
    if (row && row.version !== null && ch.version !== null && ch.version !== undefined && ch.version < row.version) return 0;
    let state: SyncState = "synced", reason: string | null = null;
    if (row && row.state === "rejected") { state = "rejected"; reason = row.reason; }
    // A conflict stays in view until the user settles it (it stays open on the server until then).
    if (row?.conflict) { state = "conflict"; reason = conflictReason(row.conflict); }
    else if (row && row.state === "conflict" && row.version !== null && (ch.version || 0) <= row.version) { state = "conflict"; reason = row.reason; }
    await this.store(entity, id, ch.version ?? null, ch.data, state, reason);
    return 1;
  }

  /** This device's conflicts made to agree with the server's, after a pull (which brought the versions
   * they rest on):
   * - a conflict held here that was settled elsewhere (by another device, through the API) is closed:
   *   the record shows the server's copy, or the edits of this device still waiting on it;
   * - an open conflict on a record of an open visit the user is on, made on another device (a lost phone,
   *   a colleague's), is shown here to be settled: the server refuses to submit a visit with one open, so
   *   it must not be out of sight (one on a frozen visit cannot be settled, and is not brought).
   * Reads the open conflicts in the user's scope (a page or two), then asks about each conflict held here
   * that is not among them. A record with edits of this device waiting takes no conflict until they are
   * answered (their answer may be that very conflict). */
  async reconcileConflicts(): Promise<number> {
    let changed = 0;
    const open = new Map<string, any>();
    let cursor: string | null = null;
    for (;;) {
      const answer = await this.call("GET", "/api/v1/sync/conflicts",
        { params: { status: "open", limit: 200, ...(cursor ? { cursor } : {}) } });
      if (answer.status === 401) throw new SignInNeeded(`conflicts refused (401): ${problem(answer.payload)}`);
      if (answer.status !== 200) return 0; // not a role that settles conflicts
      for (const c of answer.payload?.items ?? []) open.set(c.id, c);
      cursor = answer.payload?.next_cursor ?? null;
      if (!cursor) break;
    }
    const held = new Set<string>();
    for (const r of await this.db.records.where("state").equals("conflict").toArray()) {
      const c = r.conflict;
      if (!c) continue;
      held.add(c.id);
      // Open, or a settlement of the user's was refused (settled meanwhile by someone else, say): the card says
      // why until the user discards it, rather than the choice vanishing without a word.
      if (open.has(c.id) || c.refused) continue;
      const answer = await this.call("GET", "/api/v1/sync/conflicts", { params: { id: c.id, status: "all", limit: 1 } });
      if (answer.status === 401) throw new SignInNeeded(`conflicts refused (401): ${problem(answer.payload)}`);
      const found = answer.status === 200 ? answer.payload?.items?.[0] : undefined;
      if (!found || found.id !== c.id || found.status !== "resolved") continue;
      if (await this.closeConflict(r.key, c.id, "conflict settled elsewhere")) changed += 1;
    }
    for (const c of open.values()) {
      if (held.has(c.id) || (c.entity !== "response" && c.entity !== "visit")) continue;
      const visit = c.visit_id ? await this.get("visit", c.visit_id) : null;
      if (this.opts.userId && !(visit?.inspector_ids ?? []).includes(this.opts.userId)) continue;
      // A submitted or cancelled visit takes no settlement (refused: frozen); its conflicts stay with the office.
      if (!visit || visit.status === "submitted" || visit.status === "cancelled") continue;
      const key = recKey(c.entity, c.entity_id);
      await this.db.transaction("rw", this.db.records, this.db.outbox, async () => {
        const r = await this.db.records.get(key);
        if (!r || r.conflict || r.server === null || r.state === "rejected") return;
        if ((await this.liveRows(r.entity, r.id)).length) return;
        // Made by another user (a colleague on the visit): the contested value is theirs, not this user's.
        const by = this.opts.userId && c.created_by_id && c.created_by_id !== this.opts.userId ? c.created_by_id : null;
        const conflict = { id: c.id, fields: c.fields, ...(by ? { by } : {}) };
        await this.db.records.update(key, { conflict, state: "conflict", reason: conflictReason(conflict) });
        changed += 1;
      });
    }
    if (changed) this.opts.onChange();
    return changed;
  }

  /** A conflict settled on the server taken off its record here (still that conflict, and not deleted): the
   * record shows the server copy again, or stays pending under edits of this device still waiting. */
  private async closeConflict(key: string, conflictId: string, reason: string): Promise<boolean> {
    return this.db.transaction("rw", this.db.records, this.db.outbox, async () => {
      const now = await this.db.records.get(key);
      if (!now?.conflict || now.conflict.id !== conflictId || now.server === null) return false; // settled here meanwhile, or deleted
      const waiting = (await this.liveRows(now.entity, now.id)).length > 0;
      await this.db.records.update(key, waiting
        ? { conflict: null, state: "pending", reason: "edited on this device" }
        : { conflict: null, state: "synced", reason, local: now.server, base: now.version, edit: null });
      return true;
    });
  }

  /** Conflicts answered by a later change of this device to every contested field (`superseded`, see
   * applyResult): settled for the server's side, which is that change (or a change made after it). One the
   * server refuses to settle stays shown, for the user. */
  async settleSuperseded(): Promise<number> {
    let settled = 0;
    for (const r of await this.db.records.where("state").equals("conflict").toArray()) {
      const c = r.conflict;
      if (!c?.superseded) continue;
      const fields = Object.fromEntries(Object.keys(c.fields).map((f) => [f, { take: "server" }]));
      const answer = await this.call("POST", "/api/v1/sync/conflicts/resolve", { body: { conflict_id: c.id, fields } });
      if (answer.status === 401) throw new SignInNeeded(`conflicts refused (401): ${problem(answer.payload)}`);
      if (answer.status !== 200 && answer.payload?.code !== "conflict.already_resolved") continue;
      if (await this.closeConflict(r.key, c.id, "conflict settled")) settled += 1;
    }
    if (settled) this.opts.onChange();
    return settled;
  }

  /** Settle a conflict: per field, the server's value, mine, or a custom one.
   *
   * The choice is kept on the record first (`conflict.chosen`, with the version it was made against), then
   * sent once: "settled" when the server took it; "queued" when the server could not be reached (offline, no
   * answer, 5xx or 429), and the next sync sends it (`sendChoices`); a reload keeps it meanwhile.
   *
   * Refused because the record changed on the server since the conflict was recorded (409
   * `conflict.record_changed`, which carries `current`: the version and values now), the conflict stays
   * open with the server's side replaced by those current values and `moved` set, and `ConflictMoved` is
   * thrown: the user sees what the server holds now and chooses again, and that choice names the version
   * it was made against (so a later change is again never overwritten unseen). Refused otherwise (the visit
   * submitted meanwhile, ...), SyncUnavailable with the server's words, also kept on the record (`refused`). */
  async resolve(entity: string, id: string, choices: Record<string, { take: "server" | "client" | "custom"; value?: any }>): Promise<"settled" | "queued"> {
    const key = recKey(entity, id);
    const r = await this.db.records.get(key);
    if (!r?.conflict) throw new Error("no conflict to settle");
    const fields: Record<string, any> = {};
    for (const [f, c] of Object.entries(choices)) fields[f] = c.take === "custom" ? { take: "custom", value: c.value } : { take: c.take };
    const against = conflictShown(r);
    const chosen = { fields, ...(typeof against.version === "number" ? { version: against.version } : {}), shown: against.server };
    const { refused: _, ...open } = r.conflict;
    await this.db.records.update(key, { conflict: { ...open, chosen } });
    this.opts.onChange();
    return this.sendChoice(key, r.conflict.id, true);
  }

  /** Choices made on conflicts and not yet taken by the server (`resolve` while offline), sent in the order
   * the records come; a conflict a later change answered (`superseded`) is settled for that change instead
   * (settleSuperseded). Stops at the first that cannot reach the server. A refusal is kept on its record. */
  async sendChoices(): Promise<number> {
    let settled = 0;
    for (const r of await this.db.records.where("state").equals("conflict").toArray()) {
      if (!r.conflict?.chosen || r.conflict.superseded) continue;
      try {
        const outcome = await this.sendChoice(r.key, r.conflict.id, false);
        if (outcome === "queued") break;
        settled += 1;
      } catch (e) {
        if (e instanceof ConflictMoved || (e instanceof SyncUnavailable && !(e instanceof SignInNeeded))) continue;
        throw e;
      }
    }
    if (settled) this.opts.onChange();
    return settled;
  }

  /** Send the choice kept on a conflict (`once`: a single attempt, for a tap; else with the sync's retries). */
  private async sendChoice(key: string, conflictId: string, once: boolean, again = false): Promise<"settled" | "queued"> {
    const r = await this.db.records.get(key);
    const chosen = r?.conflict?.id === conflictId ? r.conflict.chosen : undefined;
    if (!chosen) return "settled"; // settled meanwhile (another tap, a sync)
    const body = { conflict_id: conflictId, fields: chosen.fields, ...(chosen.version !== undefined ? { version: chosen.version } : {}) };
    let answer: Answer;
    try {
      answer = once ? await this.transport.request("POST", "/api/v1/sync/conflicts/resolve", { body })
        : await this.call("POST", "/api/v1/sync/conflicts/resolve", { body });
    } catch (e) {
      if (e instanceof TransportError || e instanceof NoAnswer) return "queued";
      throw e;
    }
    if (answer.status >= 500 || answer.status === 429) return "queued";
    if (answer.status === 401) throw new SignInNeeded(`the settlement was refused (401): ${problem(answer.payload)}`);
    // Only the conflict this choice was made on, still holding it, is changed by its answer.
    const update = (change: (c: NonNullable<Rec["conflict"]>) => Partial<Rec>) =>
      this.db.transaction("rw", this.db.records, async () => {
        const now = await this.db.records.get(key);
        if (now?.conflict?.id !== conflictId || !now.conflict.chosen) return false;
        await this.db.records.update(key, change(now.conflict));
        return true;
      });
    const current = answer.payload?.current;
    if (answer.status === 409 && answer.payload?.code === "conflict.record_changed" && typeof current?.version === "number") {
      // The record moved on, but the contested values are the ones the choice was made on (a note or a flag
      // changed, or a value changed and back): the choice stands, sent again on the version now.
      const same = chosen.shown && Object.entries(current.fields ?? {}).every(([f, v]) => !(f in chosen.shown!) || sameValue(chosen.shown![f], v));
      if (same && !again) {
        if (!(await update((c) => ({ conflict: { ...c, chosen: { ...c.chosen!, version: current.version } } })))) return "settled";
        return this.sendChoice(key, conflictId, once, true);
      }
      const kept = await update((c) => {
        const moved = { ...withoutChoice(c), version: current.version, moved: true, fields: { ...c.fields } };
        for (const [f, v] of Object.entries(current.fields ?? {})) if (moved.fields[f]) moved.fields[f] = { ...moved.fields[f], server: v };
        return { conflict: moved };
      });
      if (!kept) return "settled";
      this.opts.onChange();
      throw new ConflictMoved(`the server refused the settlement (409): ${problem(answer.payload)}`);
    }
    if (answer.status !== 200) {
      // Refused (the visit submitted meanwhile, the conflict settled by someone else, ...): kept on the record
      // until the user chooses again or discards. Unless the same choice, sent by a sync while the tap's was
      // under way, was taken meanwhile: then this is only the server saying it is settled already.
      const why = `the server refused the settlement (${answer.status}): ${problem(answer.payload)}`;
      if (!(await update((c) => ({ conflict: { ...withoutChoice(c), refused: why } })))) return "settled";
      this.opts.onChange();
      throw new SyncUnavailable(why);
    }
    await update(() => ({ state: "synced", reason: "conflict settled", conflict: null }));
    await this.pull();
    return "settled";
  }

  // --- photos ---------------------------------------------------------------------------------

  /** Keep a photo for an item of a visit; hashed now, sent after the visit reaches the server. */
  async attachPhoto(blob: Blob, decl: { visit_id: string; item_code: string; captured_at?: string; latitude?: number; longitude?: number }): Promise<string> {
    const id = uuid();
    const sha256 = await sha256Hex(blob);
    const full: Record<string, any> = { id, sha256, size: blob.size, content_type: blob.type || "image/jpeg", ...decl };
    for (const k of Object.keys(full)) if (full[k] === undefined || full[k] === null) delete full[k];
    await this.db.photos.add({ id, visit_id: decl.visit_id, blob, size: blob.size, decl: full, state: "pending", reason: "taken on this device", progress: 0 });
    this.opts.onChange();
    return id;
  }

  /** Remove a photo taken on this device that the server holds no copy of (`photoRemovable`): a photo
   * taken by mistake never leaves the phone. False when it is being sent or was sent (it is the server's
   * then) or is not here. */
  async discardPhoto(id: string): Promise<boolean> {
    const gone = await this.db.transaction("rw", this.db.photos, async () => {
      const row = await this.db.photos.where("id").equals(id).first();
      if (!row || !photoRemovable(row)) return false;
      await this.db.photos.delete(row.seq!);
      return true;
    });
    if (gone) this.opts.onChange();
    return gone;
  }

  async pushPhotos(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const bump = (k: string) => (counts[k] = (counts[k] || 0) + 1);
    const rows = await this.db.photos.where("state").anyOf("pending", "syncing").sortBy("seq");
    for (const p of rows) {
      const target = await this.db.records.get(recKey("visit", p.decl.visit_id));
      if (target && target.version === null) {
        const refused = target.state === "rejected";
        await this.db.photos.update(p.seq!, { state: refused ? "rejected" : "pending",
          reason: refused ? "its visit was refused by the server" : "waiting for its visit to reach the server" });
        bump(refused ? "rejected" : "waiting");
        continue;
      }
      // Claimed for sending only while still waiting: a photo removed by the user since the read above
      // (discardPhoto) is not sent.
      const claimed = await this.db.transaction("rw", this.db.photos, async () => {
        const now = await this.db.photos.get(p.seq!);
        if (!now || (now.state !== "pending" && now.state !== "syncing")) return false;
        await this.db.photos.update(p.seq!, { state: "syncing", reason: "sending" });
        return true;
      });
      if (!claimed) continue;
      this.opts.onChange();
      let answer: Answer;
      try {
        answer = await this.upload(p);
      } catch (e) {
        if (!(e instanceof SyncUnavailable)) throw e;
        await this.db.photos.where("state").equals("syncing").modify({ state: "pending", reason: "server unreachable; will retry" });
        bump("unavailable");
        break;
      }
      const { status, payload } = answer;
      if (status === 401) {
        await this.db.photos.update(p.seq!, { state: "pending", reason: "taken on this device" });
        throw new SignInNeeded(`server refused the upload (401): ${problem(payload)}`);
      }
      if (status === 403) {
        await this.db.photos.update(p.seq!, { state: "pending", reason: `server refused the upload (${status}): ${problem(payload)}` });
        bump("unavailable");
        break;
      }
      if ((status === 200 || status === 201) && !["expired", "rejected"].includes(payload.status)) {
        await this.db.photos.update(p.seq!, { state: "synced", reason: null, progress: 1, server_status: payload.status });
        bump("sent");
      } else {
        const reason = status === 200 || status === 201
          ? payload.status === "expired" ? "the server dropped the unfinished upload (it expired); take the photo again"
            : `the server refused the image: ${payload.status_reason || "not an acceptable image"}`
          : `refused (${status}): ${problem(payload)}`;
        await this.db.photos.update(p.seq!, { state: "rejected", reason, server_status: payload.status });
        bump("rejected");
      }
      this.opts.onChange();
    }
    return counts;
  }

  private async upload(p: PhotoRow): Promise<Answer> {
    const decl = p.decl;
    if (p.size <= this.opts.wholeLimit) {
      const meta = Object.entries(decl).map(([k, v]) => `${k} ${b64(String(v))}`).join(",");
      const a = await this.retried(() => this.transport.send("POST", "/api/v1/photos/uploads/whole", p.blob,
        { "Content-Type": UPLOAD_TYPE, "Upload-Metadata": meta }));
      if (a.status !== 413) return a;
    }
    let a = await this.call("POST", "/api/v1/photos/uploads", { body: decl });
    if (!(a.status === 200 || a.status === 201) || !["uploading", undefined, null].includes(a.payload.status)) return a;
    let offset = Number(a.payload.offset || 0);
    const step = Math.min(this.opts.chunkSize, Number(a.payload.max_chunk_bytes || this.opts.chunkSize));
    while (offset < p.size) {
      const piece = p.blob.slice(offset, Math.min(p.size, offset + step));
      const headers: Record<string, string> = { "Content-Type": UPLOAD_TYPE, "Upload-Offset": String(offset) };
      if (offset + piece.size >= p.size) headers["Upload-Complete"] = "?1";
      a = await this.retried(() => this.transport.send("PATCH", `/api/v1/photos/uploads/${p.id}`, piece, headers));
      if (a.status === 204 || a.status === 409) {
        const at = a.headers?.["upload-offset"] ?? a.payload?.offset;
        if (at === undefined || at === null || (Number(at) === offset && a.status === 409)) return a;
        offset = Number(at);
        await this.db.photos.update(p.seq!, { progress: offset / p.size });
        this.opts.onChange();
        continue;
      }
      return a;
    }
    return this.call("POST", `/api/v1/photos/uploads/${p.id}/finalize`);
  }

  // --- transport with retries -----------------------------------------------------------------

  private call(method: string, path: string, opts: { params?: Record<string, any>; body?: any } = {}): Promise<Answer> {
    return this.retried(() => this.transport.request(method, path, opts));
  }

  /** attempt() until it answers below 500 and not 429: exponential backoff with jitter on network
   * errors, 429 and 5xx; SyncUnavailable when the attempts run out. */
  private async retried(attempt: () => Promise<Answer>): Promise<Answer> {
    for (let n = 0; n < this.opts.maxAttempts; n++) {
      try {
        const a = await attempt();
        if (a.status < 500 && a.status !== 429) return a;
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
      }
      if (n + 1 < this.opts.maxAttempts) await this.opts.sleep(this.opts.backoffMs * 2 ** n * (0.5 + Math.random()));
    }
    throw new NoAnswer(`no answer after ${this.opts.maxAttempts} attempts`);
  }
}
