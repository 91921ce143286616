// The sync core against a scripted server (fake-indexeddb stands in for the browser's IndexedDB).
import "fake-indexeddb/auto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FieldDB } from "../src/db";
import { type Answer, ConflictMoved, NoAnswer, SignInNeeded, SyncCore, SyncUnavailable, type Transport, TransportError, sha256Hex } from "../src/sync";

interface Call { method: string; path: string; params?: any; body?: any; headers?: Record<string, string>; size?: number }

/** A server that answers each call with the next scripted answer for its path (or a default). */
class Scripted implements Transport {
  calls: Call[] = [];
  script: Record<string, (Answer | Error | ((c: Call) => Answer))[]> = {};
  version = 1;
  constructor(public fallback: (c: Call) => Answer) {}
  private answer(c: Call): Answer {
    this.calls.push(c);
    const queue = this.script[`${c.method} ${c.path}`];
    const next = queue && queue.length ? queue.shift()! : this.fallback;
    if (next instanceof Error) throw next;
    return typeof next === "function" ? next(c) : next;
  }
  async request(method: string, path: string, opts: { params?: any; body?: any } = {}) {
    return this.answer({ method, path, params: opts.params, body: opts.body });
  }
  async send(method: string, path: string, data: Blob, headers: Record<string, string>) {
    return this.answer({ method, path, headers, size: data.size });
  }
}

/** Applies every mutation: records come back with increasing versions. */
function applyAll(server: Scripted) {
  return (c: Call): Answer => {
    if (c.path === "/api/v1/sync/push")
      return { status: 200, payload: { results: c.body.mutations.map((m: any) => ({
        mutation_id: m.mutation_id, status: "applied", id: m.id, version: ++server.version, record: { id: m.id, ...m.fields } })) } };
    if (c.path === "/api/v1/sync/pull") return { status: 200, payload: { changes: [], has_more: false, cursor: "c" } };
    return { status: 404, payload: {} };
  };
}

let n = 0;
function setup() {
  const server = new Scripted(() => ({ status: 500, payload: {} }));
  server.fallback = applyAll(server);
  const slept: number[] = [];
  const db = new FieldDB(`test-${++n}`);
  const core = new SyncCore(db, server, { deviceId: "dev-1", sleep: async (ms) => { slept.push(ms); }, maxAttempts: 4, backoffMs: 100 });
  return { server, db, core, slept };
}
const pushes = (s: Scripted) => s.calls.filter((c) => c.path === "/api/v1/sync/push");

describe("outbox", () => {
  afterEach(() => { vi.restoreAllMocks(); });

  it("folds edits into an unsent mutation; once sent a mutation is immutable and a later edit is a new one", async () => {
    const { core, db, server } = setup();
    const v = await core.create("visit", { school_id: "s1", status: "in_progress" });
    const a = await core.create("response", { visit_id: v, item_code: "enrolment", section: "", value: 6 });
    await core.update("response", a, { value: 60 });
    await core.update("response", a, { value: 600 });
    expect(await db.outbox.count()).toBe(2);
    expect((await db.outbox.toArray())[1].fields.value).toBe(600);
    expect(await core.unsentCount()).toBe(2);
    await core.push();
    const sent = pushes(server)[0].body.mutations;
    expect(sent.map((m: any) => [m.entity, m.op])).toEqual([["visit", "create"], ["response", "create"]]);
    expect(await core.unsentCount()).toBe(0);
    expect((await core.record("response", a))!.state).toBe("synced");
    await core.update("response", a, { value: 601 });
    const rows = await db.outbox.toArray();
    expect(rows).toHaveLength(3);
    expect(rows[1].fields.value).toBe(600); // the sent one never changes
    expect(rows[2]).toMatchObject({ op: "update", base_version: (await core.record("response", a))!.version, fields: { value: 601 } });
    expect(new Set(rows.map((r) => r.mutation_id)).size).toBe(3);
  });

  it("retries a failed push with backoff and the same mutation ids, and survives a lost answer", async () => {
    // The jitter is 0.5-1.5 of the step, so a second wait can be shorter than the first: pin the draws
    // where it is (the first at the top of its range, the second at the bottom) and check each wait.
    vi.spyOn(Math, "random").mockReturnValueOnce(0.999).mockReturnValueOnce(0).mockReturnValueOnce(0.5);
    const { core, server, slept } = setup();
    await core.create("visit", { school_id: "s1" });
    const ok = applyAll(server);
    server.script["POST /api/v1/sync/push"] = [new TransportError("offline"), { status: 503, payload: {} },
      (c) => { ok(c); throw new TransportError("answer lost"); }, // applied on the server, answer lost
      (c) => ({ status: 200, payload: { results: c.body.mutations.map((m: any) => ({ mutation_id: m.mutation_id, status: "duplicate",
        id: m.id, original: { status: "applied", id: m.id, version: 7, record: { id: m.id, school_id: "s1" } } })) } })];
    const counts = await core.push();
    expect(counts).toEqual({ duplicate: 1 });
    const ids = pushes(server).map((c) => c.body.mutations[0].mutation_id);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(1);
    expect(slept).toHaveLength(3);
    expect(slept).toEqual([100 * 1.499, 200 * 0.5, 400 * 1]); // backoff x 2^attempt x jitter
    expect(await core.unsentCount()).toBe(0);
  });

  it("keeps everything queued when the server never answers", async () => {
    const { core, server } = setup();
    const v = await core.create("visit", { school_id: "s1" });
    server.script["POST /api/v1/sync/push"] = Array(4).fill(new TransportError("offline"));
    await expect(core.push()).rejects.toBeInstanceOf(NoAnswer); // the app then probes the server until it answers
    expect(await core.unsentCount()).toBe(1);
    expect((await core.record("visit", v))!.state).toBe("pending");
  });

  it("tells a server that answered and refused (kept queued, not retried at once) from one that never answered", async () => {
    const { core, server } = setup();
    await core.create("visit", { school_id: "s1" });
    server.script["POST /api/v1/sync/push"] = [{ status: 403, payload: { title: "Forbidden" } }];
    const refused = await core.push().catch((e) => e);
    expect(refused).toBeInstanceOf(SyncUnavailable);
    expect(refused).not.toBeInstanceOf(NoAnswer); // the app probes for the server only after no answer
    expect(await core.unsentCount()).toBe(1);
    server.script["POST /api/v1/sync/push"] = Array(4).fill({ status: 503, payload: {} });
    await expect(core.push()).rejects.toBeInstanceOf(NoAnswer);
  });

  it("a refused token (401) asks for a new sign-in and keeps everything queued, with no server words on the records", async () => {
    const { core, server } = setup();
    const v = await core.create("visit", { school_id: "s1" });
    server.script["POST /api/v1/sync/push"] = [{ status: 401, payload: { title: "Unauthorized", detail: "token revoked" } }];
    await expect(core.sync()).rejects.toBeInstanceOf(SignInNeeded);
    expect(await core.unsentCount()).toBe(1);
    expect(await core.record("visit", v)).toMatchObject({ state: "pending", reason: "edited on this device" });
    server.script["GET /api/v1/sync/pull"] = [{ status: 401, payload: {} }];
    await core.push();
    await expect(core.pull()).rejects.toBeInstanceOf(SignInNeeded);
  });

  it("shows rejected and conflict results with their reasons; settling a conflict resolves it on the server", async () => {
    const { core, server } = setup();
    const a = await core.create("response", { visit_id: "v", item_code: "x", section: "", value: 1 });
    const b = await core.create("response", { visit_id: "v", item_code: "y", section: "", value: 2 });
    server.script["POST /api/v1/sync/push"] = [(c) => ({ status: 200, payload: { results: [
      { mutation_id: c.body.mutations[0].mutation_id, status: "rejected", id: a, reason: "invalid fields", errors: { "fields.value": ["bad"] } },
      { mutation_id: c.body.mutations[1].mutation_id, status: "conflict", id: b, version: 3, record: { id: b, value: 5 },
        conflict: { id: "c-1", fields: { value: { base: 1, server: 5, client: 2 } } } }] } })];
    await core.push();
    expect(await core.record("response", a)).toMatchObject({ state: "rejected", reason: "invalid fields (fields.value: bad)" });
    const rec = (await core.record("response", b))!;
    expect(rec.state).toBe("conflict");
    expect(rec.conflict!.fields.value).toEqual({ base: 1, server: 5, client: 2 });
    server.script["POST /api/v1/sync/conflicts/resolve"] = [{ status: 200, payload: { id: "c-1", status: "resolved" } }];
    await core.resolve("response", b, { value: { take: "client" } });
    const call = server.calls.find((c) => c.path === "/api/v1/sync/conflicts/resolve")!;
    // Chosen against the server copy the device shows (version 3): a later change it has not seen is refused.
    expect(call.body).toEqual({ conflict_id: "c-1", fields: { value: { take: "client" } }, version: 3 });
    expect((await core.record("response", b))!.state).toBe("synced");
  });

  /** An answer pushed into a conflict (server 5 at version 3 against the device's 2): its id. */
  async function conflicted(core: SyncCore, server: Scripted): Promise<string> {
    const b = await core.create("response", { visit_id: "v", item_code: "y", section: "", value: 2 });
    server.script["POST /api/v1/sync/push"] = [(c) => ({ status: 200, payload: { results: [
      { mutation_id: c.body.mutations[0].mutation_id, status: "conflict", id: b, version: 3, record: { id: b, value: 5 },
        conflict: { id: "c-1", fields: { value: { base: 1, server: 5, client: 2 } } } }] } })];
    await core.push();
    return b;
  }

  it("a choice made with no signal is kept on the phone, through a reload, and the next sync sends it as it was made", async () => {
    const { core, server, db } = setup();
    const b = await conflicted(core, server);
    server.script["POST /api/v1/sync/conflicts/resolve"] = [new TransportError("offline")];
    expect(await core.resolve("response", b, { value: { take: "client" } })).toBe("queued");
    // One try for a tap (no retries to wait through), and the choice is on the record, not only on the screen.
    expect(server.calls.filter((c) => c.path === "/api/v1/sync/conflicts/resolve")).toHaveLength(1);
    let rec = (await core.record("response", b))!;
    expect(rec.state).toBe("conflict");
    expect(rec.conflict!.chosen).toEqual({ fields: { value: { take: "client" } }, version: 3, shown: { value: 5 } });
    expect(await core.unsentCount()).toBe(1); // something to send: the app syncs for it when it can
    // The app opened again: a new core on the same database.
    const again = new SyncCore(db, server, { deviceId: "dev-1", sleep: async () => {}, maxAttempts: 4, backoffMs: 100 });
    server.script["POST /api/v1/sync/conflicts/resolve"] = [{ status: 200, payload: { id: "c-1", status: "resolved" } }];
    await again.sync();
    const sent = server.calls.filter((c) => c.path === "/api/v1/sync/conflicts/resolve");
    expect(sent).toHaveLength(2);
    expect(sent[1].body).toEqual({ conflict_id: "c-1", fields: { value: { take: "client" } }, version: 3 });
    rec = (await again.record("response", b))!;
    expect(rec.state).toBe("synced");
    expect(rec.conflict).toBeNull();
    expect(await again.unsentCount()).toBe(0);
  });

  it("a choice refused only because the record moved on with the contested values as shown is sent again on the version now", async () => {
    const { core, server } = setup();
    const b = await conflicted(core, server);
    // A colleague changed the answer's note (version 4), the value is still the 5 the user saw.
    server.script["POST /api/v1/sync/conflicts/resolve"] = [{ status: 409, payload: { code: "conflict.record_changed",
      detail: "changed", current: { version: 4, fields: { value: 5 } } } },
      { status: 200, payload: { id: "c-1", status: "resolved" } }];
    expect(await core.resolve("response", b, { value: { take: "client" } })).toBe("settled");
    const sent = server.calls.filter((c) => c.path === "/api/v1/sync/conflicts/resolve");
    expect(sent.map((c) => c.body.version)).toEqual([3, 4]);
    expect((await core.record("response", b))!.state).toBe("synced");
    // Moved on again between the two: shown the values now (no loop of retries).
    const c2 = await conflicted(core, server);
    server.script["POST /api/v1/sync/conflicts/resolve"] = [
      { status: 409, payload: { code: "conflict.record_changed", current: { version: 4, fields: { value: 5 } } } },
      { status: 409, payload: { code: "conflict.record_changed", current: { version: 5, fields: { value: 5 } } } }];
    await expect(core.resolve("response", c2, { value: { take: "client" } })).rejects.toBeInstanceOf(ConflictMoved);
    expect(server.calls.filter((c) => c.path === "/api/v1/sync/conflicts/resolve")).toHaveLength(4);
    expect((await core.record("response", c2))!.conflict).toMatchObject({ version: 5, moved: true });
  });

  it("a choice kept with no signal goes before the visit's submission queued after it, in one sync", async () => {
    const { core, server } = setup();
    const v = await core.create("visit", { school_id: "s1", status: "in_progress" });
    await core.push();
    const b = await conflicted(core, server);
    server.script["POST /api/v1/sync/conflicts/resolve"] = [new TransportError("offline")];
    expect(await core.resolve("response", b, { value: { take: "client" } })).toBe("queued");
    await core.update("visit", v, { status: "submitted" }, { barrier: true });
    server.script["POST /api/v1/sync/conflicts/resolve"] = [{ status: 200, payload: { id: "c-1", status: "resolved" } }];
    await core.sync();
    const order = server.calls.map((c) => c.path).filter((p) => p.endsWith("/resolve") || p.endsWith("/push"));
    expect(order.slice(-2)).toEqual(["/api/v1/sync/conflicts/resolve", "/api/v1/sync/push"]);
    expect(pushes(server).at(-1)!.body.mutations[0].fields).toEqual({ status: "submitted" });
  });

  it("a kept choice that meets a conflict settled meanwhile by someone else stays on the card with why", async () => {
    const { core, server } = setup();
    const b = await conflicted(core, server);
    server.script["POST /api/v1/sync/conflicts/resolve"] = [new TransportError("offline"),
      { status: 409, payload: { code: "conflict.already_resolved", detail: "this conflict is already resolved" } }];
    await core.resolve("response", b, { value: { take: "client" } });
    // The sync then reads the conflicts: none open, this one resolved (it would close it, "settled elsewhere").
    server.script["GET /api/v1/sync/conflicts"] = [{ status: 200, payload: { items: [], next_cursor: null } },
      { status: 200, payload: { items: [{ id: "c-1", status: "resolved" }] } }];
    await core.sync();
    const rec = (await core.record("response", b))!;
    expect(rec.state).toBe("conflict");
    expect(rec.conflict!.refused).toMatch(/already resolved/);
    await core.acknowledge("response", b, { conflict: true }); // read, and discarded
    expect((await core.record("response", b))!.conflict).toBeNull();
  });

  it("a choice kept with no signal gives way to the value typed over the conflict afterwards", async () => {
    const { core, server } = setup();
    const b = await conflicted(core, server);
    server.script["POST /api/v1/sync/conflicts/resolve"] = [new TransportError("offline")];
    expect(await core.resolve("response", b, { value: { take: "client" } })).toBe("queued");
    await core.update("response", b, { value: 9 }); // typed again: what the user wants now
    expect((await core.record("response", b))!.conflict!.chosen).toBeUndefined(); // the card no longer says it waits
    expect(await core.unsentCount()).toBe(1); // the edit alone
    // The settlement for the later change refused (the visit submitted meanwhile, say): nothing else is sent.
    server.script["POST /api/v1/sync/conflicts/resolve"] = [{ status: 409, payload: { code: "visit.frozen", detail: "submitted" } }];
    await core.sync();
    const sent = server.calls.filter((c) => c.path === "/api/v1/sync/conflicts/resolve");
    expect(sent.map((c) => c.body.fields.value.take)).toEqual(["client", "server"]); // the tap's, then the later change's
    expect((await core.record("response", b))!.conflict).toMatchObject({ superseded: true });
    expect((await core.record("response", b))!.conflict!.chosen).toBeUndefined();
    expect(await core.unsentCount()).toBe(0);
  });

  it("a kept choice the server refuses when it is sent stays on the card with why; one made on a value since changed is to be made again", async () => {
    const { core, server } = setup();
    const b = await conflicted(core, server);
    server.script["POST /api/v1/sync/conflicts/resolve"] = [{ status: 503, payload: {} }];
    expect(await core.resolve("response", b, { value: { take: "client" } })).toBe("queued");
    server.script["POST /api/v1/sync/conflicts/resolve"] = [{ status: 409, payload: { code: "conflict.record_changed",
      detail: "changed", current: { version: 4, fields: { value: 7 } } } }];
    await core.sync();
    let rec = (await core.record("response", b))!;
    expect(rec.state).toBe("conflict");
    expect(rec.conflict).toMatchObject({ version: 4, moved: true, fields: { value: { server: 7, client: 2 } } });
    expect(rec.conflict!.chosen).toBeUndefined(); // shown the value now, to be chosen again, not sent again
    await core.sync();
    expect(server.calls.filter((c) => c.path === "/api/v1/sync/conflicts/resolve")).toHaveLength(2);

    server.script["POST /api/v1/sync/conflicts/resolve"] = [new TransportError("offline"),
      { status: 409, payload: { code: "visit.frozen", detail: "the visit was submitted" } }];
    expect(await core.resolve("response", b, { value: { take: "client" } })).toBe("queued");
    expect((await core.record("response", b))!.conflict!.chosen!.version).toBe(4);
    await core.sync();
    rec = (await core.record("response", b))!;
    expect(rec.state).toBe("conflict");
    expect(rec.conflict!.chosen).toBeUndefined();
    expect(rec.conflict!.refused).toMatch(/409.*the visit was submitted/);
    // Chosen again: the refusal goes with the new choice.
    server.script["POST /api/v1/sync/conflicts/resolve"] = [new TransportError("offline")];
    await core.resolve("response", b, { value: { take: "server" } });
    expect((await core.record("response", b))!.conflict).toMatchObject({ chosen: { fields: { value: { take: "server" } } } });
    expect((await core.record("response", b))!.conflict!.refused).toBeUndefined();
  });

  it("sends a visit's submission on its own, after its answers, on the version they left", async () => {
    const { core, server } = setup();
    const v = await core.create("visit", { school_id: "s1", status: "in_progress" });
    await core.create("response", { visit_id: v, item_code: "enrolment", section: "", value: 600 });
    await core.update("visit", v, { status: "submitted" }, { barrier: true });
    server.script["GET /api/v1/sync/pull"] = [{ status: 200, payload: { has_more: false, cursor: "c1",
      changes: [{ entity: "visit", id: v, op: "upsert", version: 42, data: { id: v, school_id: "s1", status: "in_progress" } }] } }];
    await core.push();
    const batches = pushes(server).map((c) => c.body.mutations);
    expect(batches.map((b) => b.length)).toEqual([2, 1]);
    expect(batches[1][0]).toMatchObject({ entity: "visit", op: "update", base_version: 42, fields: { status: "submitted" } });
    expect(server.calls.map((c) => c.path)).toEqual(["/api/v1/sync/push", "/api/v1/sync/pull", "/api/v1/sync/push"]);
  });
});

describe("pull", () => {
  it("pages until has_more is false; local edits stay on top; a 410 drops the cache but never the outbox", async () => {
    const { core, server } = setup();
    server.script["GET /api/v1/sync/pull"] = [
      { status: 200, payload: { has_more: true, cursor: "p1", changes: [{ entity: "school", id: "s1", op: "upsert", version: 1, data: { id: "s1", name: "一小" } }] } },
      { status: 200, payload: { has_more: false, cursor: "p2", changes: [
        { entity: "response", id: "r1", op: "upsert", version: 2, data: { id: "r1", visit_id: "v1", item_code: "x", value: 1 } }] } }];
    expect(await core.pull()).toBe(2);
    expect(server.calls.map((c) => c.params.cursor)).toEqual([null, "p1"]);
    await core.update("response", "r1", { value: 9 });
    server.script["GET /api/v1/sync/pull"] = [{ status: 410, payload: {} },
      { status: 200, payload: { has_more: false, cursor: "p3", changes: [
        { entity: "response", id: "r1", op: "upsert", version: 3, data: { id: "r1", visit_id: "v1", item_code: "x", value: 2 } }] } }];
    await core.pull();
    expect(server.calls.slice(-2).map((c) => c.params.cursor)).toEqual(["p2", null]);
    expect(await core.get("school", "s1")).toBeNull(); // synced cache dropped
    expect(await core.get("response", "r1")).toMatchObject({ value: 9 }); // my edit on top of the new copy
    expect(await core.unsentCount()).toBe(1);
  });
});

describe("a record deleted on the server", () => {
  it("keeps an edit it refused on the device, with the reason, until the user has seen it", async () => {
    const { core, server } = setup();
    server.script["GET /api/v1/sync/pull"] = [{ status: 200, payload: { has_more: false, cursor: "p1", changes: [
      { entity: "visit", id: "v1", op: "upsert", version: 1, data: { id: "v1", school_id: "s1", status: "planned" } }] } }];
    await core.pull();
    await core.update("visit", "v1", { notes: "随访" });
    server.script["POST /api/v1/sync/push"] = [(c) => ({ status: 200, payload: { results: [
      { mutation_id: c.body.mutations[0].mutation_id, status: "rejected", id: "v1",
        reason: "this visit was deleted on the server; your copy is kept on the device" }] } })];
    await core.push();
    server.script["GET /api/v1/sync/pull"] = [{ status: 200, payload: { has_more: false, cursor: "p2", changes: [
      { entity: "visit", id: "v1", op: "delete", version: null, data: null }] } }];
    await core.pull();
    const rec = (await core.record("visit", "v1"))!;
    expect(rec).toMatchObject({ state: "rejected", version: null, server: null });
    expect(rec.local.notes).toBe("随访");
    await core.acknowledge("visit", "v1");
    expect(await core.record("visit", "v1")).toBeFalsy();
  });
});

describe("photos", () => {
  it("hashes a photo, waits for its visit to reach the server, then uploads it in resumable chunks", async () => {
    const { core, server, db } = setup();
    (core.opts as any).wholeLimit = 10; (core.opts as any).chunkSize = 40;
    const v = await core.create("visit", { school_id: "s1" });
    const blob = new Blob([new Uint8Array(100).fill(7)], { type: "image/jpeg" });
    const pid = await core.attachPhoto(blob, { visit_id: v, item_code: "sports_area_m2" });
    const row = (await db.photos.where("id").equals(pid).first())!;
    expect(row.decl.sha256).toBe(await sha256Hex(blob));
    expect(row.decl).toMatchObject({ size: 100, visit_id: v, item_code: "sports_area_m2", content_type: "image/jpeg" });
    expect(await core.pushPhotos()).toEqual({ waiting: 1 });
    expect((await db.photos.get(row.seq!))!.reason).toMatch(/waiting for its visit/);
    await core.push();
    server.script["POST /api/v1/photos/uploads"] = [{ status: 201, payload: { status: "uploading", offset: 0, max_chunk_bytes: 40 } }];
    server.script[`PATCH /api/v1/photos/uploads/${pid}`] = [new TransportError("dropped"),
      { status: 204, payload: {}, headers: { "upload-offset": "40" } },
      { status: 409, payload: {}, headers: { "upload-offset": "80" } }, // the server already had more: resume there
      (c) => ({ status: 200, payload: { status: "received", offset: 100, seen: c.headers } })];
    expect(await core.pushPhotos()).toEqual({ sent: 1 });
    const patches = server.calls.filter((c) => c.method === "PATCH");
    expect(patches.map((c) => [c.headers!["Upload-Offset"], c.size])).toEqual([["0", 40], ["0", 40], ["40", 40], ["80", 20]]);
    expect(patches[3].headers!["Upload-Complete"]).toBe("?1");
    expect((await db.photos.get(row.seq!))).toMatchObject({ state: "synced", progress: 1 });
  });

  it("a photo removed while an earlier one is being sent is never sent; one sent can no longer be removed", async () => {
    const { core, server, db } = setup();
    const first = await core.attachPhoto(new Blob([new Uint8Array(5).fill(1)]), { visit_id: "known", item_code: "x" });
    const second = await core.attachPhoto(new Blob([new Uint8Array(5).fill(2)]), { visit_id: "known", item_code: "x" });
    let removed: Promise<boolean> | undefined;
    server.script["POST /api/v1/photos/uploads/whole"] = [(c) => {
      removed = core.discardPhoto(second); // the user removes the second while the first is on its way
      return { status: 201, payload: { status: "received", seen: c.path } };
    }];
    expect(await core.pushPhotos()).toEqual({ sent: 1 });
    expect(await removed).toBe(true);
    expect(server.calls.filter((c) => c.path === "/api/v1/photos/uploads/whole")).toHaveLength(1);
    expect(await db.photos.where("id").equals(second).count()).toBe(0);
    expect(await core.discardPhoto(first)).toBe(false); // sent: the server's now
    expect(await db.photos.where("id").equals(first).first()).toMatchObject({ state: "synced" });
  });

  it("only a photo the server holds no copy of can be removed", async () => {
    const { core, server, db } = setup();
    const stored = await core.attachPhoto(new Blob([new Uint8Array(5).fill(3)]), { visit_id: "known", item_code: "x" });
    server.script["POST /api/v1/photos/uploads/whole"] = [{ status: 201, payload: { status: "rejected", status_reason: "no image" } }];
    expect(await core.pushPhotos()).toEqual({ rejected: 1 });
    expect(await core.discardPhoto(stored)).toBe(false); // stored, then refused as no image: the server's record
    const refused = await core.attachPhoto(new Blob([new Uint8Array(5).fill(4)]), { visit_id: "known", item_code: "x" });
    server.script["POST /api/v1/photos/uploads/whole"] = [{ status: 422, payload: { status: 422, detail: "not a JPEG" } }];
    expect(await core.pushPhotos()).toEqual({ rejected: 1 });
    expect(await core.discardPhoto(refused)).toBe(true); // refused at the upload: nothing kept there
    expect(await db.photos.where("id").anyOf(stored, refused).count()).toBe(1);
  });

  it("a refused image is final for that photo, with the server's reason", async () => {
    const { core, server, db } = setup();
    const pid = await core.attachPhoto(new Blob([new Uint8Array(5)]), { visit_id: "known", item_code: "x" });
    server.script["POST /api/v1/photos/uploads/whole"] = [{ status: 422, payload: { detail: "not an image" } }];
    expect(await core.pushPhotos()).toEqual({ rejected: 1 });
    expect((await db.photos.where("id").equals(pid).first())).toMatchObject({ state: "rejected", reason: "refused (422): not an image" });
  });
});
