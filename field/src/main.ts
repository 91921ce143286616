// The field app: sign in once, then visits, checklists, photos and the on-site verdict with no signal.
import "./styles.css";
import { type FieldDB, type PhotoRow, type Rec, openUserDB, recKey } from "./db";
import { FetchTransport } from "./api";
import { type Key, getLang, setLang, t } from "./i18n";
import { ConflictMoved, NoAnswer, SignInNeeded, SyncCore, conflictShown, photoRemovable, sameValue, SyncUnavailable, TransportError, uuid } from "./sync";
import { reasonText } from "./reasons";
import {
  D, type Definition, type Item, NA, factProblem, noteProblem, wireProblem, indicatorsFor, factsUsed, scoreVisit, sectionsOf, shortfallText,
  showTime,
} from "./scoring";

interface Session {
  token: string; user: { id: string; username: string; display_name?: string; role: string }; device_id: string;
  expired?: boolean; // the server refused the token (401): the user must sign in again
}

const root = document.getElementById("app")!;
let session: Session | null = JSON.parse(localStorage.getItem("field.session") || "null");
let db: FieldDB | null = null;
let core: SyncCore | null = null;
let syncing = false;
let lastError = "";
let autoTimer: number | undefined;
// Whether the server answered the last time the app tried (null: not tried yet). navigator.onLine is
// only a hint: Chromium reports false whenever the OS has no network interface but loopback (a server
// on this very machine, a network namespace) and then never fires "online", so nothing waits on it.
let reachable: boolean | null = null;
let retryMs = 0; // the next unattended retry's delay while the server does not answer

// --- tiny DOM helper ---------------------------------------------------------------------------

type Attrs = Record<string, any>;
function h(tag: string, attrs: Attrs = {}, ...children: (Node | string | null | undefined | false)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === "class") el.className = v;
    else if (k === "testid") el.setAttribute("data-testid", v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
/** Today's date (YYYY-MM-DD) on the device's calendar: an inspector's phone is in the business zone.
 * Not toISOString(), which is the UTC date: from 16:00 UTC it named yesterday in China. */
const todayISO = (): string => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};
const name = (x: any): string => (x && typeof x === "object" ? x[getLang()] ?? x.zh ?? "" : x ?? "");

// --- reasons in the UI language: ./reasons.ts ------------------------------------------------

/** A reason as a line: the translated words, the server's text folded away under them. */
function reasonEl(reason: string | null | undefined, attrs: Attrs = {}): HTMLElement {
  const { text, detail } = reasonText(reason);
  return h("p", { class: "muted", testid: "reason", ...attrs }, text,
    detail ? h("details", { class: "detail" }, h("summary", {}, t("details")), h("span", { testid: "reason-detail" }, detail)) : null);
}

/** An item's question from its template; a room-area list's "an empty list if there are none" is said as
 * the app's "none" tick, which is how it is answered here. */
function question(item: Item | undefined, code = ""): string {
  const q = name(item?.help) || item?.code || code;
  if (item?.kind !== "room_areas") return q;
  return q.replace(/\s*[；;][^；;]*(空列表|empty list)[^；;]*$/, "") + t("rooms_none_hint");
}

/** The scoring engine's exemption (its own words, for parity with the server) in the UI language. */
function exemptText(reason: string): string {
  if (reason.startsWith("special-education")) return t("exempt_special");
  const m = /^teaching point of (\S+) pupils \(< (\d+)\)/.exec(reason);
  return m ? t("exempt_teaching_point", { n: m[1], min: m[2] }) : reason;
}

/** An answer's value as its item reads: 是/否, lists joined, times, choices, "unanswered" for null. */
function valueText(item: Item | undefined, v: any): string {
  if (v === null || v === undefined) return t("unanswered");
  if (v === NA) return t("na");
  if (typeof v === "boolean") return v ? t("yes") : t("no");
  if (Array.isArray(v)) {
    if (!v.length && item?.kind === "room_areas") return t("none_rooms");
    return v.join(getLang() === "zh" ? "、" : ", ") + (item?.unit ? ` ${unitText(item.unit)}` : "");
  }
  if (item?.kind === "rating" && CHOICES[v]) return CHOICES[v][getLang() === "zh" ? 0 : 1];
  if (typeof v === "number" || (typeof v === "string" && item && (item.kind === "integer" || item.kind === "number")))
    return `${v}${item?.unit ? ` ${unitText(item.unit)}` : ""}`;
  if (typeof v === "string" || typeof v === "number") return String(v);
  return JSON.stringify(v);
}

// --- session -----------------------------------------------------------------------------------

function startCore(s: Session) {
  db = openUserDB(s.user.id);
  draftsPromoted = false;
  core = new SyncCore(db, new FetchTransport(() => session?.token ?? null), {
    deviceId: s.device_id, userId: s.user.id, maxAttempts: 4, backoffMs: 400, onChange: () => headerSoon(),
  });
}

function deviceIdFor(username: string): string {
  const map = JSON.parse(localStorage.getItem("field.devices") || "{}");
  if (!map[username]) { map[username] = uuid(); localStorage.setItem("field.devices", JSON.stringify(map)); }
  return map[username];
}

async function signIn(username: string, password: string): Promise<string | null> {
  const device_id = deviceIdFor(username);
  let resp: Response;
  try {
    resp = await fetch("/api/v1/auth/token", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password, device: { id: device_id, name: "field app", platform: navigator.platform || "web" } }),
    });
  } catch { return t("need_network"); }
  const body = await resp.json().catch(() => ({}));
  if (resp.status !== 201) {
    if (resp.status === 401) return t("wrong_login");
    if (resp.status === 429) return t("too_many_tries");
    return t("r_refused", { n: resp.status }); // the server's English text is no message for the inspector
  }
  if (body.user?.role !== "inspector") {
    // The app is the inspectors' checklist: anything a school or an office filled in it would be refused at
    // the next sync. The token just issued is given back; the web pages are theirs.
    fetch("/api/v1/auth/token", { method: "DELETE", headers: { Authorization: `Bearer ${body.access_token}` } }).catch(() => undefined);
    return t("inspectors_only");
  }
  session = { token: body.access_token, user: body.user, device_id };
  localStorage.setItem("field.session", JSON.stringify(session));
  db?.close(); // the database of the session that expired (the same one again for the same user)
  startCore(session);
  navigator.storage?.persist?.().catch(() => undefined);
  return null;
}

async function signOut() {
  await flushTyping?.(); // what was just typed counts as unsent too
  await saving;
  const n = core ? await core.unsentCount() : 0;
  if (n > 0 && !confirm(t("sign_out_unsent", { n }))) return;
  if (n === 0) {
    // No signal: the next sign-in (this inspector's or another's) will need one; say so before it is too late.
    // Asked with a time limit: a network that takes the request and never answers is no signal either.
    const up = await fetch("/healthz", { cache: "no-store", signal: AbortSignal.timeout(3000) }).then((r) => r.ok, () => false);
    if (!up && !confirm(t("sign_out_offline"))) return;
  }
  // The records stay in this user's own database for when they sign in again.
  fetch("/api/v1/auth/token", { method: "DELETE", headers: { Authorization: `Bearer ${session?.token}` } }).catch(() => undefined);
  session = null; core = null; db?.close(); db = null; flushTyping = null; refreshBadges = null;
  localStorage.removeItem("field.session");
  location.hash = "#/";
  render();
}

// --- sync --------------------------------------------------------------------------------------

/** The server refused the token: ask for the password again. Nothing unsent is touched: it stays in this
 * user's database and is sent once they are signed in again. */
function askSignIn() {
  if (!session) return;
  session = { ...session, expired: true };
  localStorage.setItem("field.session", JSON.stringify(session));
  window.clearTimeout(autoTimer);
  renderLogin();
}

/** The syncs started on this page are numbered on <body>: data-syncs-started holds the last one's number,
 * data-sync-reached the number of the last one that completed (pushed and pulled, its view drawn). What the
 * browser tests wait on (a sync started after an action has completed), which no screen shows. */
let syncsStarted = 0;

async function syncNow() {
  if (!core || syncing || session?.expired) return;
  window.clearTimeout(autoTimer);
  syncing = true; lastError = "";
  const number = ++syncsStarted;
  document.body.dataset.syncsStarted = String(number);
  renderHeader();
  let unanswered = false, reached = false;
  try {
    await core.sync();
    reachable = true;
    reached = true;
    await refreshExtras();
  } catch (e) {
    if (e instanceof SignInNeeded) { syncing = false; askSignIn(); return; }
    unanswered = e instanceof NoAnswer || e instanceof TransportError;
    reachable = !unanswered;
    lastError = e instanceof SyncUnavailable || e instanceof TransportError ? t("offline") : reasonText(String(e)).text;
    if (e instanceof SyncUnavailable && /\(\d{3}\)/.test(e.message)) lastError = reasonText(e.message).text;
  } finally {
    if (unanswered) retryLater(); else retryMs = 0;
    // The view first, then the header says the sync is over: what the user sees once the button is back
    // is the synced view, not one that a render still under way will replace.
    if (!document.activeElement || !(document.activeElement as HTMLElement).closest?.(".item")) await renderView();
    else await refreshBadges?.().catch(() => undefined); // typing in the view: only its badges move
    syncing = false;
    await renderHeader();
    if (reached) document.body.dataset.syncReached = String(number);
  }
}

/** After a sync: the templates' owners (to pin the version in force) and scores of submitted visits. */
async function refreshExtras() {
  if (!core || !db) return;
  const tr = core.transport;
  const tpl = await tr.request("GET", "/api/v1/templates", { params: { limit: 500 } });
  if (tpl.status === 200) await db.meta.put({ key: "templates", value: tpl.payload.items || tpl.payload.data || tpl.payload });
  for (const v of await core.all("visit")) {
    if (v.status !== "submitted") continue;
    const have = (await db.meta.get(`score:${v.id}`))?.value;
    if (have?.state === "scored") continue;
    const s = await tr.request("GET", `/api/v1/visits/${v.id}/score`);
    if (s.status === 200) await db.meta.put({ key: `score:${v.id}`, value: s.payload });
  }
}

/** A sync soon after local edits (one for a burst of them). */
function scheduleSync() {
  window.clearTimeout(autoTimer);
  autoTimer = window.setTimeout(() => void attempt(), 4000);
}

/** The server did not answer: try again later, 2 s doubling to 10 s, while records wait to be sent. */
function retryLater() {
  retryMs = Math.min(Math.max(2000, retryMs * 2), 10000);
  window.clearTimeout(autoTimer);
  autoTimer = window.setTimeout(() => void attempt(), retryMs);
}

/** An unattended sync. When the server did not answer last time (or the browser says offline), one
 * cheap request asks first, so that no signal costs one failed fetch and no "syncing" flicker. */
async function attempt() {
  if (!core || syncing || session?.expired) return;
  if (reachable !== true || !navigator.onLine) {
    let up = false;
    try { up = (await fetch("/healthz", { cache: "no-store" })).ok; } catch { up = false; }
    if (!up) {
      if (reachable !== false) { reachable = false; void renderHeader(); }
      if ((await core.unsentCount()) > 0) retryLater();
      return;
    }
  }
  await syncNow();
}

// --- header ------------------------------------------------------------------------------------

let headerQueued = false;
/** Coalesce the header's refresh (unsent count) to one per frame, however many records change. */
function headerSoon() {
  if (headerQueued) return;
  headerQueued = true;
  requestAnimationFrame(() => { headerQueued = false; void renderHeader(); });
}

async function renderHeader() {
  const bar = document.getElementById("bar");
  if (!bar || !core || !db || session?.expired) return;
  const n = await core.unsentCount();
  // Refused or conflicting records are sent, but not done: their own count, so "0 unsent" never reads as all well.
  const attention = await db.records.where("state").anyOf("rejected", "conflict").count()
    + await db.photos.where("state").equals("rejected").count();
  const pulled = (await db.meta.get("pulled_at"))?.value;
  const count = bar.querySelector('[data-testid="unsent-count"]');
  const online = navigator.onLine && reachable !== false;
  const shown = `${n}|${attention}|${online}|${syncing}|${getLang()}`;
  if (count && bar.dataset.shown === shown) return; // nothing changed: leave the header's DOM alone
  bar.dataset.shown = shown;
  bar.replaceChildren(...[
    h("a", { href: "#/", class: "title" }, t("app")),
    h("a", { href: "#/sync", class: `badge ${n ? "warn" : "ok"}`, testid: "unsent", "aria-label": `${t("unsent")}: ${n}` },
      `${t("unsent")} `, h("b", { testid: "unsent-count" }, String(n))),
    attention ? h("a", { href: "#/sync", class: "badge warn", testid: "attention", "aria-label": `${t("attention")}: ${attention}` },
      `${t("attention")} `, h("b", { testid: "attention-count" }, String(attention))) : null,
    h("span", { class: `net ${online ? "on" : "off"}`, testid: "net" }, online ? t("online") : t("offline")),
    h("button", { class: "btn small", testid: "sync-now", onclick: () => void syncNow(), disabled: syncing },
      syncing ? t("syncing") : t("sync_now")),
  ].filter((el): el is HTMLElement => el !== null));
  const info = document.getElementById("syncinfo");
  if (info) info.textContent = `${t("last_sync")}: ${pulled ? new Date(pulled).toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB") : t("never")}${lastError ? ` · ${lastError}` : ""}`;
}

// --- views -------------------------------------------------------------------------------------

async function render() {
  document.documentElement.lang = getLang() === "zh" ? "zh-CN" : "en";
  if (!session || session.expired) return renderLogin();
  if (!core) startCore(session);
  root.replaceChildren(
    h("header", { id: "bar", role: "banner" }),
    h("main", { id: "view" }),
    h("footer", {},
      h("p", { id: "syncinfo", class: "muted" }),
      h("div", { class: "row" },
        h("button", { class: "btn small", testid: "lang", onclick: () => { setLang(getLang() === "zh" ? "en" : "zh"); void render(); } }, t("language")),
        h("button", { class: "btn small", testid: "sign-out", onclick: () => void signOut() }, `${t("sign_out")} (${session.user.username})`))),
  );
  await promoteDrafts();
  await renderHeader();
  await renderView();
}

function renderLogin() {
  const err = h("p", { class: "error", role: "alert", testid: "login-error" });
  const again = session?.expired ? session.user.username : null;
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true, value: again }) as HTMLInputElement;
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }) as HTMLInputElement;
  const form = h("form", {
    class: "card login", onsubmit: async (e: Event) => {
      e.preventDefault();
      const msg = await signIn(user.value.trim(), pass.value);
      if (msg) err.textContent = msg;
      else { await render(); void syncNow(); }
    },
  },
  h("h1", {}, t("app")),
  again ? h("p", { class: "notice", role: "status", testid: "sign-in-again" }, t("signin_again")) : null,
  h("label", { for: "username" }, t("username")), user,
  h("label", { for: "password" }, t("password")), pass,
  h("button", { class: "btn primary", type: "submit", testid: "sign-in" }, t("sign_in")), err,
  h("button", { class: "btn small", type: "button", onclick: () => { setLang(getLang() === "zh" ? "en" : "zh"); renderLogin(); } }, t("language")));
  root.replaceChildren(h("main", { id: "view" }, form));
}

let renders = 0;

async function renderView() {
  const view = document.getElementById("view");
  if (!view || !core || session?.expired) return;
  const mine = ++renders; // a render started later (a tap, a sync ending) wins over this one
  const hash = location.hash || "#/";
  let node: HTMLElement;
  const m = hash.match(/^#\/visit\/([0-9a-f-]+)/);
  try {
    if (m) node = await visitView(m[1]);
    else if (hash.startsWith("#/sync")) node = await syncView();
    else if (hash.startsWith("#/new")) node = await newVisitView();
    else node = await visitsView();
  } catch (e) {
    // One record the app cannot show (bad data from the server) leaves the way back to the list open.
    node = h("div", { class: "card", testid: "view-failed" }, h("a", { href: "#/", class: "btn small" }, `← ${t("back")}`),
      h("p", { class: "error", role: "alert" }, t("view_failed")), h("p", { class: "muted" }, String((e as Error)?.message ?? e)));
  }
  if (mine !== renders) return; // a later render replaced (or will replace) the view: never put an older one back
  // The scroll position as it is now, not as it was when this render began: the user may have scrolled
  // while it was built (to the submit button, say), and a jump back would put their tap on another control.
  const y = window.scrollY;
  view.replaceChildren(node);
  window.scrollTo(0, y);
  performance.mark(`field:view:${hash.split("/")[1] || "visits"}`); // read by bench/field_app.py
}

async function schoolsById(): Promise<Record<string, any>> {
  const out: Record<string, any> = {};
  for (const s of await core!.all("school")) out[s.id] = s;
  return out;
}

async function visitsView(): Promise<HTMLElement> {
  const visits = await core!.all("visit");
  const schools = await schoolsById();
  const today = todayISO();
  const mine = visits.filter((v) => !session || (v.inspector_ids || [session.user.id]).includes(session.user.id) || v.created_by_id === session.user.id);
  const open = mine.filter((v) => v.status === "planned" || v.status === "in_progress");
  const groups: [Key, any[]][] = [
    ["late", open.filter((v) => v.planned_for && v.planned_for < today)],
    ["today", open.filter((v) => v.planned_for === today || (!v.planned_for && v.status === "in_progress"))],
    ["upcoming", open.filter((v) => v.planned_for && v.planned_for > today)],
    ["done", mine.filter((v) => v.status === "submitted").slice(0, 20)],
  ];
  const card = async (v: any, late: boolean) => {
    const rec = await core!.record("visit", v.id);
    const school = schools[v.school_id];
    return h("li", { class: `card visit ${late ? "late" : ""}`, testid: "visit-card", "data-visit": v.id, "data-status": v.status },
      h("div", { class: "row spread" },
        h("strong", {}, school?.name ?? v.school_id),
        late ? h("span", { class: "tag bad", testid: "late" }, t("late")) : null),
      h("div", { class: "muted" }, `${v.planned_for ?? ""} · ${t(`status_${v.status}` as Key)}`, rec && rec.state !== "synced" ? ` · ${t(`state_${rec.state}` as Key)}` : ""),
      h("div", { class: "row" },
        v.status === "planned"
          ? h("button", { class: "btn primary", testid: "start-visit", onclick: async () => {
            await core!.update("visit", v.id, { status: "in_progress" });
            location.hash = `#/visit/${v.id}`;
          } }, t("start"))
          : h("a", { class: "btn", href: `#/visit/${v.id}`, testid: "open-visit" }, t("open"))));
  };
  const sections: HTMLElement[] = [];
  for (const [key, list] of groups) {
    if (!list.length) continue;
    sections.push(h("section", { testid: `group-${key}` }, h("h2", {}, `${t(key)} (${list.length})`),
      h("ul", { class: "list" }, ...(await Promise.all(list.map((v) => card(v, key === "late")))))));
  }
  return h("div", {},
    h("div", { class: "row spread" }, h("h1", {}, t("visits")),
      h("a", { class: "btn", href: "#/new", testid: "new-visit" }, t("unannounced"))),
    ...(sections.length ? sections : [h("p", { class: "muted" }, t("no_visits"))]));
}

/** The published version a school's visit would pin today (templates.effective_version). */
async function effectiveVersion(school: any): Promise<any | null> {
  const versions = (await core!.all("template_version")).filter((v) => v.status === "published");
  const templates: any[] = (await db!.meta.get("templates"))?.value || [];
  const owner: Record<string, string | null> = {};
  for (const tp of templates) owner[tp.id] = tp.jurisdiction_id ?? null;
  const ids = (school.jurisdiction_path || "").split("/").filter(Boolean);
  const rank = (v: any) => {
    const j = owner[v.template_id];
    if (j === undefined || j === null) return ids.length;
    const i = ids.indexOf(j);
    return i < 0 ? Infinity : ids.length - 1 - i;
  };
  const today = todayISO();
  const ok = versions.filter((v) => rank(v) !== Infinity && (!v.effective_from || v.effective_from <= today));
  ok.sort((a, b) => rank(a) - rank(b) || (b.effective_from ?? "").localeCompare(a.effective_from ?? "") || b.number - a.number);
  return ok[0] ?? null;
}

async function newVisitView(): Promise<HTMLElement> {
  const schools = Object.values(await schoolsById()).filter((s: any) => s.active !== false)
    .sort((a: any, b: any) => a.name.localeCompare(b.name));
  const select = h("select", { id: "school", testid: "school-select" },
    ...schools.map((s: any) => h("option", { value: s.id }, s.name))) as HTMLSelectElement;
  const err = h("p", { class: "error", role: "alert" });
  return h("div", { class: "card" },
    h("h1", {}, t("unannounced")),
    h("label", { for: "school" }, t("choose_school")), select,
    h("div", { class: "row" },
      h("a", { class: "btn", href: "#/" }, t("back")),
      h("button", { class: "btn primary", testid: "create-visit", onclick: async () => {
        const school = schools.find((s: any) => s.id === select.value);
        if (!school) return;
        const version = await effectiveVersion(school);
        if (!version) { err.textContent = t("no_template_school"); return; }
        const id = await core!.create("visit", {
          school_id: school.id, template_version_id: version.id, planned_for: todayISO(), status: "in_progress",
          inspector_ids: [session!.user.id],
        });
        scheduleSync();
        location.hash = `#/visit/${id}`;
      } }, t("create"))), err);
}

// --- answers: every keystroke kept at once, the answer saved when typing pauses ------------------

/** What an item's field holds as typed: kept as its draft until the answer it parses to is saved. */
interface Typed { raw: string; ok: boolean; value: any; visit_id: string; item_code: string; section: string }
const draftKey = (visitId: string, section: string, code: string) => `draft:${visitId}:${section}:${code}`;
const draftText = (v: any): string | undefined => (typeof v === "string" ? v : v?.raw);

/** One keystroke, kept before the input handler returns: written ahead to localStorage (synchronous,
 * so a reload or a closed tab right after the key cannot cut it off), and one put of the item's draft
 * on the open IndexedDB connection, committed at once (no read, no other store); once that put has
 * committed the written-ahead copy is dropped. Nothing else happens per key. */
function keepKeystroke(t: Typed): void {
  const key = draftKey(t.visit_id, t.section, t.item_code);
  const ahead = writeAhead();
  ahead[key] = t;
  localStorage.setItem(aheadKey(), JSON.stringify(ahead));
  const row = { key, value: t };
  let idb: IDBDatabase | null = null;
  try { idb = db!.isOpen() ? db!.backendDB() : null; } catch { idb = null; }
  if (!idb) { void db!.meta.put(row).then(() => dropAhead(key, t.raw)); return; }
  const tx = idb.transaction("meta", "readwrite");
  tx.objectStore("meta").put(row);
  tx.oncomplete = () => dropAhead(key, t.raw);
  (tx as IDBTransaction & { commit?: () => void }).commit?.();
}
const aheadKey = () => `field.typing.${session?.user.id ?? ""}`;
const writeAhead = (): Record<string, Typed> => JSON.parse(localStorage.getItem(aheadKey()) || "{}");
function dropAhead(key: string, raw: string): void {
  const ahead = writeAhead();
  if (ahead[key]?.raw !== raw) return; // typed on since: that later key drops it
  delete ahead[key];
  if (Object.keys(ahead).length) localStorage.setItem(aheadKey(), JSON.stringify(ahead));
  else localStorage.removeItem(aheadKey());
}

/** The visit's answer to an item (of a school section), if this device has one. */
async function answerOf(visitId: string, code: string, section: string): Promise<Rec | undefined> {
  return (await core!.answersOf(visitId)).find((r) => r.local.item_code === code && (r.local.section ?? "") === section);
}

let saving: Promise<unknown> = Promise.resolve();
/** Run a save after the ones before it (two saves of one item must not each create its answer); a
 * failure is kept for the header and does not stop the saves after it. */
function queued<T>(work: () => Promise<T>): Promise<T> {
  const run = saving.then(work);
  saving = run.catch((e) => { lastError = String(e); });
  return run;
}
/** Save an answer (the response record and its outbox entry, in one transaction) and drop the draft it
 * came from unless more was typed since. Saves run one after another: two saves of one item must not
 * each create its answer. An unchanged value writes nothing (no mutation to send). */
function saveAnswer(visitId: string, code: string, section: string, value: any, raw?: string, seen?: Rec): Promise<Rec | undefined> {
  return queued(async () => {
    if (!core || !db) return undefined;
    const existing = await answerOf(visitId, code, section);
    let id = existing?.id;
    if (!existing) id = await core.create("response", { visit_id: visitId, item_code: code, section, value });
    else if (JSON.stringify(existing.local.value ?? null) !== JSON.stringify(value ?? null))
      // Made on the answer as the screen showed it, not on a copy a pull brought meanwhile.
      await core.update("response", existing.id, { value }, { seen: seen?.id === existing.id ? seen : undefined });
    if (raw !== undefined) {
      const key = draftKey(visitId, section, code);
      await db.transaction("rw", db.meta, async () => {
        if (draftText((await db!.meta.get(key))?.value) === raw) await db!.meta.delete(key);
      });
    }
    if (!existing || existing.local.value !== value) scheduleSync();
    return core.record("response", id!);
  });
}

/** An answer's note and flag as the app keeps them when unset: no note, not flagged. */
const EXTRA_UNSET: Record<string, any> = { note: null, flagged: false };

/** Save an item's note or flag ("flag for follow-up"), in the same queue as its value: on its answer when
 * there is one, or on a new answer with no value yet (the value may come later, or never). Only what
 * changed is sent; nothing changed writes nothing. */
function saveExtras(visitId: string, code: string, section: string, extras: { note?: string | null; flagged?: boolean },
  seen?: Rec): Promise<Rec | undefined> {
  return queued(async () => {
    if (!core || !db) return undefined;
    const existing = await answerOf(visitId, code, section);
    const changed: Record<string, any> = {};
    for (const [k, v] of Object.entries(extras))
      if (JSON.stringify(existing?.local[k] ?? EXTRA_UNSET[k]) !== JSON.stringify(v ?? EXTRA_UNSET[k])) changed[k] = v;
    if (!Object.keys(changed).length) return existing;
    let id = existing?.id;
    if (!existing) id = await core.create("response", { visit_id: visitId, item_code: code, section, value: null, ...changed });
    else await core.update("response", existing.id, changed, { seen: seen?.id === existing.id ? seen : undefined });
    scheduleSync();
    return core.record("response", id!);
  });
}

/** The visit's own notes (the weather, who was met, what to check next time): only when changed. */
function saveVisitNotes(visitId: string, notes: string | null): Promise<void> {
  return queued(async () => {
    if (!core) return;
    const visit = await core.get("visit", visitId);
    if (!visit || (visit.notes ?? null) === notes) return;
    await core.update("visit", visitId, { notes });
    scheduleSync();
  });
}

/** A note as typed, kept in localStorage at each keystroke (synchronous: a reload right after the key
 * cannot cut it off) until the note is saved; one still there when the app opens is saved then. */
interface TypedNote { visit_id: string; item_code: string | null; section: string; note: string | null }
const notesKey = () => `field.notes.${session?.user.id ?? ""}`;
const typedNotes = (): Record<string, TypedNote> => JSON.parse(localStorage.getItem(notesKey()) || "{}");
function keepNote(job: string, n: TypedNote): void {
  localStorage.setItem(notesKey(), JSON.stringify({ ...typedNotes(), [job]: n }));
}
function dropNote(job: string, note: string | null): void {
  const all = typedNotes();
  if (!(job in all) || all[job].note !== note) return; // typed on since: that later save drops it
  delete all[job];
  if (Object.keys(all).length) localStorage.setItem(notesKey(), JSON.stringify(all));
  else localStorage.removeItem(notesKey());
}
function saveTypedNote(n: TypedNote): Promise<unknown> {
  return n.item_code === null ? saveVisitNotes(n.visit_id, n.note)
    : saveExtras(n.visit_id, n.item_code, n.section, { note: n.note });
}

/** Keystrokes whose answer was not saved before the app closed: saved now (once per sign-in). A draft
 * that is no valid answer stays a draft, shown in its field as it was typed. */
let draftsPromoted = false;
async function promoteDrafts(): Promise<void> {
  if (draftsPromoted || !db) return;
  draftsPromoted = true;
  // Keystrokes whose IndexedDB write the last page did not live to commit: their drafts first.
  for (const [key, t] of Object.entries(writeAhead())) await db.meta.put({ key, value: t });
  localStorage.removeItem(aheadKey());
  // Notes typed that the last page did not live to save.
  for (const [job, n] of Object.entries(typedNotes())) {
    await saveTypedNote(n).catch(() => undefined);
    dropNote(job, n.note);
  }
  for (const d of await db.meta.where("key").startsWith("draft:").toArray()) {
    const t = d.value as Typed;
    if (t && typeof t === "object" && t.ok) await saveAnswer(t.visit_id, t.item_code, t.section, t.value, t.raw).catch(() => undefined);
  }
}

/** The open checklist's answers not saved yet (typing has not paused): saved at once. */
let flushTyping: (() => Promise<void>) | null = null;
/** The visit page's answer badges brought up to date with the records (a sync that left the view as it
 * was, because the user is typing in it, still shows what it settled: pending -> synced, a conflict). */
let refreshBadges: (() => Promise<void>) | null = null;

// --- the checklist -----------------------------------------------------------------------------

/** A field taking focus low on the screen (where a phone's keyboard opens) or under the header is
 * brought up once, its item just below the header with the next ones under it, instead of the browser
 * scrolling it a little with each keystroke to keep the caret in view (each such scroll made that
 * keystroke's frame wait for a repaint). */
function keepInView(e: Event): void {
  const el = e.target as HTMLElement;
  const r = el.getBoundingClientRect();
  const h = window.visualViewport?.height ?? window.innerHeight;
  if (r.top < 72 || r.bottom > h * 0.6) (el.closest(".item") ?? el).scrollIntoView({ block: "start" });
}

function requiredCodes(defn: Definition, level: string): Set<string> {
  const out = new Set<string>();
  for (const i of defn.items) if ((i as any).required) out.add(i.code);
  for (const ind of indicatorsFor(defn, level)) if (ind.school_rule) for (const [c, d] of factsUsed(ind.expr)) if (!d) out.add(c);
  return out;
}

function parseInput(item: Item, raw: string): { value: any; ok: boolean } {
  const s = raw.trim();
  if (s === "") return { value: null, ok: true };
  if (item.kind === "integer" || item.kind === "number") {
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(s)) return { value: s, ok: false };
    return { value: Number(s), ok: true };
  }
  if (item.kind === "class_sizes" || item.kind === "room_areas") {
    const parts = s.split(/[\s,，、;；]+/).filter(Boolean);
    if (parts.some((p) => !/^(\d+(\.\d*)?|\.\d+)$/.test(p))) return { value: s, ok: false };
    return { value: parts.map(Number), ok: true };
  }
  if (item.kind === "time_of_day") {
    // "17:30" as the engine takes it; "7:30" is read as "07:30".
    const m = /^(\d{1,2}):(\d{2})$/.exec(s);
    return m ? { value: `${m[1].padStart(2, "0")}:${m[2]}`, ok: true } : { value: s, ok: false };
  }
  return { value: raw, ok: true };
}

const UNITS: Record<string, [string, string]> = { students: ["名学生", "students"], teachers: ["名教师", "teachers"],
  rooms: ["间", "rooms"], m2: ["平方米", "m²"], yuan: ["元", "yuan"], classes: ["个班", "classes"] };
const CHOICES: Record<string, [string, string]> = { excellent: ["优秀", "excellent"], good: ["良好", "good"],
  fair: ["一般", "fair"], poor: ["较差", "poor"] };
const unitText = (u: string) => UNITS[u]?.[getLang() === "zh" ? 0 : 1] ?? u;

function shownValue(item: Item, value: any): string {
  if (value === null || value === undefined || value === NA) return "";
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

async function visitView(visitId: string): Promise<HTMLElement> {
  const visit = await core!.get("visit", visitId);
  if (!visit) return h("p", {}, h("a", { href: "#/" }, t("back")));
  const school = (await core!.get("school", visit.school_id)) || { kind: "primary", name: visit.school_id };
  const version = await core!.get("template_version", visit.template_version_id);
  if (!version) return h("p", { class: "muted" }, t("no_template"));
  const defn: Definition = version.definition;
  const frozen = visit.status === "submitted" || visit.status === "cancelled";
  const sections = sectionsOf(school.kind);
  // The visit's photos: those taken on this device (with their upload state) and those the server has from
  // elsewhere (the inspector's other phone, a colleague on the visit), which pulls bring as photo records.
  const photos: ShownPhoto[] = await db!.photos.where("visit_id").equals(visitId).toArray();
  const taken = new Set(photos.map((p) => p.id));
  for (const r of await db!.records.where("visit_id").equals(visitId).toArray()) {
    if (r.entity !== "photo" || r.deleted || taken.has(r.id) || !r.local?.item_code) continue;
    const failed = r.local.status === "rejected" || r.local.status === "expired";
    photos.push({ id: r.id, decl: { item_code: r.local.item_code }, state: failed ? "rejected" : "synced", progress: 1,
                  reason: failed ? r.local.status_reason ?? r.local.status : null, server_status: r.local.status });
  }
  /** Photo-required items of this visit with no photo that is or may become evidence (as the server's
   * completeness counts them: one per item code, a refused or expired photo is none). */
  const lackingPhoto = (): Item[] => {
    const have = new Set(photos.filter((p) => !photoFailed(p)).map((p) => p.decl.item_code));
    const need = new Map<string, Item>();
    for (const [, level] of sections)
      for (const item of defn.items.filter((i) => (i.enabled ?? true) && i.levels.includes(level) && i.photo_required))
        if (!have.has(item.code)) need.set(item.code, item);
    return Array.from(need.values());
  };
  const answers = new Map<string, Rec>();
  for (const r of await core!.answersOf(visitId)) answers.set(`${r.local.item_code}|${r.local.section ?? ""}`, r);
  const valueOf = (code: string, section: string) => answers.get(`${code}|${section}`)?.local.value ?? null;

  const progressEl = h("p", { class: "progress", testid: "progress", "aria-live": "polite" });
  const verdictEl = h("section", { class: "card verdict", testid: "verdict", "aria-live": "polite" });
  const submitErr = h("p", { class: "error", role: "alert", testid: "submit-error" });

  const currentAnswers = () => Array.from(answers.values()).map((r) => ({ item_code: r.local.item_code, section: r.local.section ?? "", value: r.local.value }));

  let summaryTimer: number | undefined;
  /** The verdict and progress are recomputed once typing pauses, not on every keystroke. */
  function summarySoon() {
    window.clearTimeout(summaryTimer);
    summaryTimer = window.setTimeout(() => {
      const idle = (window as any).requestIdleCallback as ((cb: () => void, o?: any) => void) | undefined;
      if (idle) idle(refreshSummary, { timeout: 1000 }); else refreshSummary();
    }, 400);
  }

  function refreshSummary() {
    let total = 0, answered = 0;
    for (const [section, level] of sections) {
      for (const item of defn.items.filter((i) => (i.enabled ?? true) && i.levels.includes(level))) {
        total++;
        const v = valueOf(item.code, section);
        if (v !== null && v !== undefined) answered++;
      }
    }
    const missingPhotos = lackingPhoto().length;
    const progress = t("answered", { a: answered, t: total }) + (missingPhotos ? ` · ${t("photos_missing", { n: missingPhotos })}` : "");
    if (progressEl.textContent !== progress) progressEl.textContent = progress;
    // As the server scores it: the register's school type, a combined school's rooms and size judged once.
    // Bad template data (a threshold the grammar does not read, or anything the evaluator trips on) costs
    // this visit its on-site verdict, said as such; never the page, the visit list or another visit.
    let scored: ReturnType<typeof scoreVisit>[number]["result"][];
    try {
      scored = scoreVisit(defn, currentAnswers(), school).map((s) => s.result);
      if (scored.some((r) => r.errors?.template)) throw new Error(scored.flatMap((r) => r.errors?.template ?? []).join("; "));
    } catch (e) {
      const why = String((e as Error)?.message ?? e);
      const signature = `unavailable|${getLang()}|${why}`;
      if (verdictEl.dataset.signature === signature) return;
      verdictEl.dataset.signature = signature;
      verdictEl.replaceChildren(h("h2", {}, t("verdict")),
        h("div", { testid: "verdict-unavailable", "data-verdict": "unavailable" },
          h("p", { class: "verdict-line incomplete" }, t("verdict_unavailable")),
          h("p", { class: "muted", testid: "verdict-unavailable-why" }, why)));
      return;
    }
    const signature = JSON.stringify(scored.map((r) => [r.verdict, r.results.map((x) => [x.status, String(x.value), String(x.shortfall)])]));
    if (verdictEl.dataset.signature === signature) return; // the same verdict: leave the page's layout alone
    verdictEl.dataset.signature = signature;
    verdictEl.replaceChildren(h("h2", {}, t("verdict")), ...sections.map(([section], i) => {
      const res = scored[i];
      const label = sections.length > 1 ? `${t(`section_${section}` as Key)}: ` : "";
      const rule = res.results.filter((r) => r.school_rule || r.status === "not_met");
      return h("div", { testid: `verdict-${section || "school"}`, "data-verdict": res.verdict },
        h("p", { class: `verdict-line ${res.verdict}` }, label, t(`verdict_${res.verdict}` as Key)),
        res.verdict === "exempt" ? h("p", { class: "muted", testid: "exempt-reason" }, res.reasons.map(exemptText).join("; ")) : null,
        h("ul", { class: "ind" }, ...rule.map((r) => h("li", { "data-code": r.code, "data-status": r.status, class: r.status },
          `${r.code} ${name(r.name)}: `, r.value !== null ? `${r.unit === "time_of_day" && r.value instanceof D ? showTime(r.value) : r.value.toString()} ` : "", `(${t(r.status as Key)})`,
          r.status === "not_met" && r.shortfall && r.shortfall.gt(0)
            ? h("span", { class: "short", testid: `short-${r.code}` }, ` ${t("short", { s: shortfallText(r.shortfall, r.shortfall_unit, getLang()) })}`)
            : null))));
    }));
  }

  /** Save one answer, then show its state on its own badge (nothing else on the page is touched). */
  async function save(item: Item, section: string, value: any, raw?: string): Promise<void> {
    const key = `${item.code}|${section}`;
    const rec = await saveAnswer(visitId, item.code, section, value, raw, answers.get(key));
    if (!rec) return;
    shown(key, rec);
    summarySoon();
  }

  /** Save an item's note or flag, then show the answer's state on its badge. */
  async function saveExtra(item: Item, section: string, extras: { note?: string | null; flagged?: boolean }): Promise<void> {
    const key = `${item.code}|${section}`;
    const rec = await saveExtras(visitId, item.code, section, extras, answers.get(key));
    if (rec) shown(key, rec);
  }

  function shown(key: string, rec: Rec): void {
    answers.set(key, rec);
    badgeShows(key, rec);
  }
  function badgeShows(key: string, rec: Rec): void {
    const badge = badges.get(key);
    const cls = `state ${rec.state}`;
    if (badge && badge.className !== cls) { badge.className = cls; badge.textContent = t(`state_${rec.state}` as Key); badge.title = reasonText(rec.reason).text; }
  }
  // Only the badges: `answers` keeps the records as the fields show them, which an edit is made on (a value a
  // pull brought while the user typed over the older one must still be told apart: SyncCore.update's `seen`).
  refreshBadges = async () => {
    for (const r of await core!.answersOf(visitId)) badgeShows(`${r.local.item_code}|${r.local.section ?? ""}`, r);
  };

  /** A note field (an item's or the visit's): kept as typed, saved when typing pauses or the field is
   * left, as answers are; text the server would refuse says why here and is not sent. */
  function noteField(attrs: Attrs, text: string, errEl: HTMLElement, job: string, target: Omit<TypedNote, "note">,
    store: (v: string | null) => Promise<unknown>): HTMLElement {
    const box = h("textarea", { rows: 2, disabled: frozen, ...attrs, onfocus: keepInView, onchange: flushSoon,
      oninput: (e: Event) => {
        const raw = (e.target as HTMLTextAreaElement).value;
        const v = raw.trim() ? raw : null;
        const msg = v === null ? null : noteProblem(v, getLang());
        if (errEl.textContent !== (msg ?? "")) errEl.textContent = msg ?? "";
        if (!msg) keepNote(job, { ...target, note: v });
        typed.set(job, msg ? async () => undefined : async () => { await store(v); dropNote(job, v); });
        window.clearTimeout(typedTimer);
        typedTimer = window.setTimeout(() => void flush(), 300);
      } }) as HTMLTextAreaElement;
    box.value = text;
    return box;
  }

  // Typing: each keystroke is kept at once as the item's draft (keepKeystroke); the answers typed are
  // saved when typing pauses, when the field is left, before submitting and when the page is hidden.
  const typed = new Map<string, () => Promise<void>>();
  let typedTimer: number | undefined;
  async function flush(): Promise<void> {
    window.clearTimeout(typedTimer);
    const jobs = Array.from(typed.values());
    typed.clear();
    for (const job of jobs) await job();
  }
  flushTyping = flush;
  /** Leaving a field: its answer is saved when the browser is idle (its keystrokes are kept already),
   * not in the frame where the next field takes focus and the first key arrives. */
  const flushSoon = () => {
    window.clearTimeout(typedTimer);
    const idle = (window as any).requestIdleCallback as ((cb: () => void, o?: any) => void) | undefined;
    if (idle) idle(() => void flush(), { timeout: 1500 }); else typedTimer = window.setTimeout(() => void flush(), 50);
  };

  const badges = new Map<string, HTMLElement>();
  const stateBadge = (item: Item, section: string) => {
    const r = answers.get(`${item.code}|${section}`);
    const el = h("span", { class: `state ${r?.state ?? ""}`, testid: "answer-state", title: reasonText(r?.reason).text }, r ? t(`state_${r.state}` as Key) : "");
    badges.set(`${item.code}|${section}`, el);
    return el;
  };

  async function itemEl(item: Item, section: string, level: string, required: Set<string>): Promise<HTMLElement> {
    const id = `f-${section || "s"}-${item.code}`;
    const err = h("p", { class: "error", id: `${id}-err`, "aria-live": "polite" });
    const value = valueOf(item.code, section);
    // A submitted or cancelled visit shows what the server recorded, never text typed and left unsaved.
    let draft = frozen ? undefined : draftText(drafts.get(draftKey(visitId, section, item.code)));
    const check = (v: any) => {
      // What the server refuses on the wire (text too long, a NUL, too many numbers) is refused here too.
      const msg = v === null ? null : wireProblem(v, getLang()) ?? factProblem(item, level, item.code, v, getLang());
      if (err.textContent !== (msg ?? "")) err.textContent = msg ?? ""; // no DOM write (and layout) when unchanged
      return !msg;
    };
    // "n/a" only where the template lets this item not apply (never enrolment): the engine refuses it elsewhere.
    const naAllowed = item.na_allowed === true && item.code !== "enrolment";
    const noneAllowed = item.kind === "room_areas";
    const isNone = (v: any) => Array.isArray(v) && v.length === 0;
    let control: HTMLElement;
    const onText = (input: HTMLInputElement | HTMLTextAreaElement) => {
      const raw = input.value;
      const { value: v, ok } = parseInput(item, raw);
      const none = input.closest(".item")?.querySelector<HTMLInputElement>(`[data-testid="none-${item.code}"]`);
      if (none && raw.trim()) none.checked = false; // rooms typed: no longer "none"
      const valid = ok && check(v);
      const nan = getLang() === "zh" ? "请输入数字" : "enter a number";
      if (!ok && err.textContent !== nan) err.textContent = nan;
      keepKeystroke({ raw, ok: valid, value: v, visit_id: visitId, item_code: item.code, section });
      // Half-typed or invalid text stays a draft only (a reload shows it as it was typed).
      typed.set(`${item.code}|${section}`, valid ? () => save(item, section, v, raw) : async () => undefined);
      window.clearTimeout(typedTimer);
      typedTimer = window.setTimeout(() => void flush(), 300);
    };
    if (item.kind === "boolean" || item.kind === "rating") {
      const choices: [any, string][] = item.kind === "boolean" ? [[true, t("yes")], [false, t("no")]]
        : (item.choices || []).map((c) => [c, CHOICES[c]?.[getLang() === "zh" ? 0 : 1] ?? c]);
      control = h("div", { class: "choices", role: "radiogroup", "aria-labelledby": `${id}-label` },
        ...choices.map(([v, label], i) => h("label", { class: "choice" },
          h("input", { type: "radio", name: id, value: String(v), id: `${id}-${i}`, checked: value === v, disabled: frozen,
            onchange: () => void save(item, section, v) }), ` ${label}`)));
    } else if (item.kind === "text") {
      control = h("textarea", { id, rows: 3, disabled: frozen, "aria-describedby": `${id}-err`, oninput: (e: Event) => onText(e.target as HTMLTextAreaElement),
        onchange: flushSoon, onfocus: keepInView });
      (control as HTMLTextAreaElement).value = draft ?? shownValue(item, value);
    } else {
      const numeric = item.kind === "integer" || item.kind === "number";
      const time = item.kind === "time_of_day";
      control = h("div", { class: "row" },
        h("input", { id, type: time ? "time" : "text", step: time ? 60 : undefined,
          inputmode: numeric ? (item.kind === "integer" ? "numeric" : "decimal") : time ? undefined : "text",
          disabled: frozen, "aria-describedby": `${id}-err`, testid: `input-${item.code}`, title: time ? t("time_hint") : undefined,
          placeholder: numeric ? "" : time ? "HH:MM" : t("add_value"), oninput: (e: Event) => onText(e.target as HTMLInputElement),
          onchange: flushSoon, onfocus: keepInView }),
        item.unit ? h("span", { class: "unit" }, unitText(item.unit)) : null);
      (control.querySelector("input") as HTMLInputElement).value = draft ?? shownValue(item, value);
    }
    const photoList = h("ul", { class: "photos" }, ...photos.filter((p) => p.decl.item_code === item.code)
      .map((p) => photoLi(p, !frozen)));
    const fileInput = h("input", { type: "file", accept: "image/*", capture: "environment", class: "visually-hidden", id: `${id}-photo`,
      testid: `photo-${item.code}`, disabled: frozen,
      onchange: async (e: Event) => {
        const file = (e.target as HTMLInputElement).files?.[0];
        if (!file) return;
        const pos = await position();
        const pid = await core!.attachPhoto(file, { visit_id: visitId, item_code: item.code, captured_at: new Date().toISOString(), ...pos });
        const row = await db!.photos.where("id").equals(pid).first();
        if (row) { photos.push(row); photoList.append(photoLi(row, !frozen)); }
        refreshSummary();
        scheduleSync();
      } });
    const ans = answers.get(`${item.code}|${section}`)?.local;
    const note: string = ans?.note ?? "";
    const flagged = ans?.flagged === true;
    const noteErr = h("p", { class: "note-error", "aria-live": "polite", testid: `note-err-${item.code}` });
    const noteEl = frozen && !note ? null : h("details", { class: "note", open: note ? true : undefined },
      h("summary", { testid: `note-open-${item.code}` }, `📝 ${t("note")}`),
      noteField({ id: `${id}-note`, testid: `note-${item.code}`, "aria-label": `${t("note")}: ${question(item)}` }, note, noteErr,
        `note|${visitId}|${item.code}|${section}`, { visit_id: visitId, item_code: item.code, section },
        (v) => saveExtra(item, section, { note: v })),
      noteErr);
    return h("div", { class: `item ${value === NA ? "na" : ""} ${flagged ? "flagged" : ""}`, "data-item": item.code, "data-section": section, testid: `item-${item.code}` },
      h("label", { id: `${id}-label`, for: id, class: "q" },
        question(item),
        required.has(item.code) ? h("span", { class: "tag req", title: t("required") }, ` *${t("required")}`) : null,
        item.photo_required ? h("span", { class: "tag photo" }, ` 📷${t("photo_required")}`) : null),
      control,
      h("div", { class: "row" },
        naAllowed && !frozen ? h("label", { class: "choice" }, h("input", { type: "checkbox", checked: value === NA, testid: `na-${item.code}`,
          onchange: (e: Event) => {
            const on = (e.target as HTMLInputElement).checked;
            const box = (e.target as HTMLElement).closest(".item");
            box?.classList.toggle("na", on);
            const field = on ? box?.querySelector<HTMLInputElement>(`#${id}`) : null;
            if (field) field.value = ""; // n/a replaces what was typed
            typed.delete(`${item.code}|${section}`); // n/a replaces what was typed, as a keystroke would
            keepKeystroke({ raw: "", ok: true, value: on ? NA : null, visit_id: visitId, item_code: item.code, section });
            void save(item, section, on ? NA : null, "");
          } }), ` ${t("na")}`) : null,
        // A room-area list with no such room is answered by an empty list ("no rooms"), not left empty.
        noneAllowed && !frozen ? h("label", { class: "choice" }, h("input", { type: "checkbox", checked: isNone(value), testid: `none-${item.code}`,
          onchange: (e: Event) => {
            const on = (e.target as HTMLInputElement).checked;
            const field = (e.target as HTMLElement).closest(".item")?.querySelector<HTMLInputElement>(`#${id}`);
            if (field && on) field.value = ""; // "none" replaces what was typed
            err.textContent = "";
            typed.delete(`${item.code}|${section}`);
            keepKeystroke({ raw: "", ok: true, value: on ? [] : null, visit_id: visitId, item_code: item.code, section });
            void save(item, section, on ? [] : null, "");
          } }), ` ${t("none_rooms")}`) : null,
        h("label", { class: "btn small", for: `${id}-photo` }, `📷 ${t("take_photo")}`), fileInput,
        // Flagged for follow-up: the office sees the item picked out, whatever its value.
        h("label", { class: "choice flag" }, h("input", { type: "checkbox", checked: flagged, disabled: frozen, testid: `flag-${item.code}`,
          onchange: (e: Event) => {
            const on = (e.target as HTMLInputElement).checked;
            (e.target as HTMLElement).closest(".item")?.classList.toggle("flagged", on);
            void saveExtra(item, section, { flagged: on });
          } }), ` ⚑ ${t("flag")}`),
        stateBadge(item, section)),
      err, noteEl, photoList);
  }

  const body: HTMLElement[] = [];
  const drafts = new Map<string, unknown>();
  for (const d of await db!.meta.where("key").startsWith(`draft:${visitId}:`).toArray()) drafts.set(d.key, d.value);
  for (const [section, level] of sections) {
    const required = requiredCodes(defn, level);
    const items = defn.items.filter((i) => (i.enabled ?? true) && i.levels.includes(level));
    const els = [];
    for (const item of items) els.push(await itemEl(item, section, level, required));
    body.push(h("section", { class: "sheet", testid: `section-${section || "school"}` },
      h("h2", {}, sections.length > 1 ? t(`section_${section}` as Key) : t("section_whole")), ...els));
  }
  refreshSummary();
  const rec = await core!.record("visit", visitId);
  const scoreBox = frozen ? await scoreView(visit) : null;
  const visitNotesErr = h("p", { class: "note-error", "aria-live": "polite", testid: "visit-notes-err" });
  const visitNotes = frozen && !visit.notes ? null : h("details", { class: "card note", open: visit.notes ? true : undefined },
    h("summary", { testid: "visit-notes-open" }, `📝 ${t("visit_notes")}`),
    noteField({ id: "visit-notes", testid: "visit-notes", "aria-label": t("visit_notes") }, visit.notes ?? "", visitNotesErr,
      `notes|${visitId}`, { visit_id: visitId, item_code: null, section: "" }, (v) => saveVisitNotes(visitId, v)),
    visitNotesErr);
  return h("div", { class: "visit-page", "data-status": visit.status },
    h("a", { href: "#/", class: "btn small" }, `← ${t("back")}`),
    h("h1", {}, school.name ?? ""),
    h("p", { class: "muted", testid: "visit-status" }, `${t(`status_${visit.status}` as Key)}`,
      rec && rec.state !== "synced" ? ` · ${t(`state_${rec.state}` as Key)}${rec.reason ? `: ${reasonText(rec.reason).text}` : ""}` : ""),
    progressEl, visitNotes, scoreBox, verdictEl, ...body,
    frozen ? null : h("div", { class: "card" },
      h("button", { class: "btn primary", testid: "submit-visit", onclick: async () => {
        await flush(); // the last answers typed go before the submission
        await saving;
        // The server submits no visit with open conflicts: those this phone knows of are settled first.
        let open = 0;
        for (const u of await core!.unsynced()) {
          if (u.entity !== "visit" && u.entity !== "response") continue;
          const r = await core!.record(u.entity, u.id);
          const of = u.entity === "visit" ? u.id : (r?.local?.visit_id ?? r?.server?.visit_id);
          if (r?.conflict && !r.conflict.chosen && of === visitId) open += 1; // a choice waiting goes first
        }
        if (open) { submitErr.textContent = t("submit_conflicts", { n: open }); console.warn("submit held back: open conflicts", open); return; }
        const missing: string[] = [];
        for (const [section, level] of sections)
          for (const code of requiredCodes(defn, level)) {
            const v = valueOf(code, section);
            if (v !== null && v !== undefined) continue;
            const item = defn.items.find((i) => i.code === code);
            missing.push((sections.length > 1 ? `${t(`section_${section}` as Key)}: ` : "") + question(item, code));
          }
        if (missing.length) { submitErr.textContent = t("submit_blocked", { n: missing.join(getLang() === "zh" ? "；" : "; ") }); console.warn("submit held back: unanswered", missing.length); return; }
        // Text typed that is no valid answer ("4O") stays a draft, and the answer saved before it would be
        // submitted (and frozen) in its place: the inspector corrects or clears it first.
        const invalid: string[] = [];
        for (const d of await db!.meta.where("key").startsWith(`draft:${visitId}:`).toArray()) {
          const v = d.value as { ok?: boolean; item_code?: string; section?: string } | undefined;
          if (!v || v.ok !== false || !v.item_code) continue;
          const item = defn.items.find((i) => i.code === v.item_code);
          invalid.push((sections.length > 1 && v.section ? `${t(`section_${v.section}` as Key)}: ` : "") + question(item, v.item_code));
        }
        if (invalid.length) { submitErr.textContent = t("submit_invalid", { n: invalid.join(getLang() === "zh" ? "；" : "; ") }); console.warn("submit held back: invalid drafts", invalid.length); return; }
        // The server submits a visit whatever photos it lacks (its evidence is then recorded incomplete):
        // the inspector is told which items still need one before deciding.
        const noPhoto = lackingPhoto().map((i) => question(i));
        if (!confirm(noPhoto.length ? t("submit_confirm_photos", { n: noPhoto.join(getLang() === "zh" ? "；" : "; ") })
          : t("submit_confirm"))) return;
        await core!.update("visit", visitId, { status: "submitted" }, { barrier: true });
        scheduleSync();
        await renderView();
      } }, t("submit")), submitErr));
}

async function scoreView(visit: any): Promise<HTMLElement> {
  const score = (await db!.meta.get(`score:${visit.id}`))?.value;
  // The tickets this visit's failed indicators raised (or joined): the school's, for those items.
  const failed = new Set<string>();
  for (const s of score?.sections || []) for (const f of s.result?.failed_items || []) failed.add(f.code);
  const tickets = (await core!.all("ticket")).filter((tk) => tk.school_id === visit.school_id && failed.has(tk.item_code));
  const box = h("section", { class: "card score", testid: "score", "data-state": score?.state ?? "none" }, h("h2", {}, t("score")));
  if (!score || score.state !== "scored") box.append(h("p", { class: "muted" }, visit.status === "submitted" ? t("score_pending") : t("submitted_wait")));
  else for (const s of score.sections || []) {
    const r = s.result || {};
    box.append(h("p", { class: `verdict-line ${s.verdict}`, testid: "server-verdict", "data-verdict": s.verdict },
      `${s.section ? t(`section_${s.section}` as Key) + ": " : ""}${r.errors?.template ? t("verdict_unavailable") // the template, not the answers
        : `${t(`verdict_${s.verdict}` as Key)} · R ${r.met_count ?? "?"}/${r.applicable_count ?? "?"}`}`));
  }
  box.append(h("h3", {}, t("tickets")), tickets.length
    ? h("ul", { class: "list", testid: "tickets" }, ...tickets.map((tk) => h("li", { "data-item": tk.item_code, testid: "ticket" }, `${tk.item_code}: ${tk.title} (${t(`ticket_${tk.status}` as Key)})`)))
    : h("p", { class: "muted" }, t("no_tickets")));
  return box;
}

/** A photo as the visit page shows it: one taken here (a PhotoRow) or one pulled from the server. */
type ShownPhoto = Pick<PhotoRow, "id" | "decl" | "state" | "progress" | "reason" | "server_status">;

/** Refused by the server (or by this device's upload): no evidence, as the server's completeness judges it. */
const photoFailed = (p: ShownPhoto) => p.state === "rejected" || p.server_status === "rejected" || p.server_status === "expired";

/** A photo's line; on a visit still open (`open`), a photo taken here and not sent yet (waiting or refused)
 * offers to be removed (taken by mistake: it never leaves the phone). */
function photoLi(p: ShownPhoto, open = false): HTMLElement {
  const label = p.state === "synced" ? (p.server_status === "processed" ? t("photo_processed") : t("photo_sent"))
    : p.state === "syncing" ? t("photo_uploading", { p: Math.round(p.progress * 100) })
    : p.state === "rejected" ? `${t("photo_refused")}: ${reasonText(p.reason).text}` : t("photo_queued");
  const removable = open && "seq" in p && photoRemovable(p);
  return h("li", { class: `photo ${p.state}`, testid: "photo-status", "data-state": p.state, "data-photo": p.id }, `📷 ${label}`,
    removable ? h("button", { class: "btn small", type: "button", testid: "photo-remove", onclick: async () => {
      if (!confirm(t("photo_remove_confirm"))) return;
      if (!(await core!.discardPhoto(p.id))) alert(t("photo_remove_late"));
      await renderView(); await renderHeader();
    } }, t("photo_remove")) : null);
}

function position(): Promise<{ latitude?: number; longitude?: number }> {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve({});
    const timer = setTimeout(() => resolve({}), 3000);
    navigator.geolocation.getCurrentPosition(
      (p) => { clearTimeout(timer); resolve({ latitude: +p.coords.latitude.toFixed(6), longitude: +p.coords.longitude.toFixed(6) }); },
      () => { clearTimeout(timer); resolve({}); }, { maximumAge: 60000, timeout: 2500 });
  });
}

// --- sync status and conflicts ----------------------------------------------------------------

/** Settlements the server refused, by record (entity:id): why, shown on the conflict's card until it goes. */
const settleRefusals = new Map<string, { text: string; detail: string }>();
/** Why the last settlement of a conflict was refused: said on this page, or kept on the record (a choice
 * sent by a sync, or before a reload) until the user chooses again or discards. */
const refusalOf = (key: string, conflict: NonNullable<Rec["conflict"]>) =>
  settleRefusals.get(key) ?? (conflict.refused ? reasonText(conflict.refused) : undefined);

/** Which item and which visit a record is, in words: its item's name from the visit's template version. */
async function describe(entity: string, rec: Rec | undefined): Promise<{ title: string; visit: string; item?: Item }> {
  const local = rec?.local ?? {};
  const visitId = entity === "visit" ? rec?.id : local.visit_id;
  const visit = visitId ? await core!.get("visit", visitId) : null;
  const school = visit ? await core!.get("school", visit.school_id) : null;
  const where = visit ? t("visit_of", { school: school?.name ?? "", date: visit.planned_for ?? "" }) : "";
  if (entity === "response") {
    const version = visit ? await core!.get("template_version", visit.template_version_id) : null;
    let item: Item | undefined = (version?.definition as Definition | undefined)?.items.find((i) => i.code === local.item_code);
    if (!item && local.item_code) {
      // Its visit is gone from this phone (deleted on the server meanwhile): any checklist here names the item.
      for (const v of await core!.all("template_version")) {
        item = (v.definition as Definition | undefined)?.items.find((i) => i.code === local.item_code);
        if (item) break;
      }
    }
    const section = local.section ? `${t(`section_${local.section}` as Key)}: ` : "";
    return { title: section + question(item, local.item_code ?? ""), visit: where, item };
  }
  const label = ({ visit: "entity_visit", photo: "entity_photo", ticket: "entity_ticket" } as Record<string, Key>)[entity];
  return { title: label ? t(label) : entity, visit: where };
}

/** The fields of a record a device changes (sync/push.py RESPONSE_FIELDS, VISIT_FIELDS). */
const EDITABLE: Record<string, string[]> = { response: ["value", "note", "flagged"], visit: ["planned_for", "notes", "status"] };


/** A contested field's value as the item (or the visit) reads. */
function fieldValue(entity: string, field: string, item: Item | undefined, v: any): string {
  if (entity === "visit" && field === "status" && typeof v === "string") return t(`status_${v}` as Key);
  if (entity === "response" && field === "value") return valueText(item, v);
  return valueText(undefined, v);
}

async function syncView(): Promise<HTMLElement> {
  const rows = await core!.unsynced();
  const list = h("ul", { class: "list" });
  for (const u of rows) {
    const rec = u.entity === "photo" ? undefined : await core!.record(u.entity, u.id);
    const what = await describe(u.entity, rec);
    const li = h("li", { class: `card state-${u.state}`, testid: "unsynced", "data-entity": u.entity, "data-state": u.state, "data-id": u.id },
      h("div", {}, h("strong", { testid: "record-title" }, what.title), " ", h("span", { class: `state ${u.state}` }, t(`state_${u.state}` as Key))),
      what.visit ? h("p", { class: "muted", testid: "record-visit" }, what.visit) : null,
      rec?.state === "conflict" && rec.conflict ? null : reasonEl(u.reason)); // a conflict's card says it all
    const fieldName = (f: string) => { const k = `field_${f.replace(/^_/, "")}` as Key; try { return t(k); } catch { return f; } };
    if (rec && u.state === "rejected") {
      // What the refused change held, shown before it can be discarded (a note typed at length, a value
      // counted on site): the user can copy it, or enter it again elsewhere (a new visit).
      const changed = (EDITABLE[u.entity] ?? []).filter((f) => f in (rec.local ?? {}) && !sameValue(rec.local[f], rec.server?.[f]));
      if (changed.length) li.append(h("table", { class: "conflict", testid: "your-change" },
        h("caption", {}, t("your_change")),
        ...changed.map((f) => h("tr", {}, h("th", {}, fieldName(f)),
          h("td", { testid: "yours", "data-field": f }, fieldValue(u.entity, f, what.item, rec.local[f]))))));
    }
    if (rec?.conflict) { // shown until settled, also when a later edit of it was refused
      const conflict = rec.conflict;
      // A colleague's conflict brought here (sync.reconcileConflicts): the contested value is theirs.
      const colleague = !!conflict.by && conflict.by !== session?.user.id;
      const shown = conflictShown(rec); // the server's side as this device last saw it
      const table = h("table", { class: "conflict", testid: "conflict" },
        h("caption", {}, u.entity === "response" ? t("conflict_item", { item: what.title }) : t("conflict_visit"),
          what.visit ? ` · ${what.visit}` : "", h("br", {}), t("conflict_title")),
        h("tr", {}, h("th", {}, ""), h("th", {}, t("was")), h("th", {}, t(colleague ? "on_server" : "theirs")),
          h("th", {}, t(colleague ? "colleagues" : "mine"))),
        ...Object.entries(conflict.fields).map(([f, v]) => h("tr", {}, h("th", {}, fieldName(f)),
          h("td", {}, fieldValue(u.entity, f, what.item, v.base)), h("td", { testid: "theirs" }, fieldValue(u.entity, f, what.item, shown.server[f])),
          h("td", { testid: "mine" }, fieldValue(u.entity, f, what.item, v.client)))));
      const key = `${u.entity}:${u.id}`;
      const settle = (take: "server" | "client") => async () => {
        const choices: Record<string, { take: "server" | "client" }> = {};
        for (const f of Object.keys(conflict.fields)) choices[f] = { take };
        try {
          await core!.resolve(u.entity, u.id, choices);
          settleRefusals.delete(key);
        } catch (e) {
          // Changed on the server meanwhile: the card shows the values now, to be chosen again (not refused).
          if (e instanceof ConflictMoved) { settleRefusals.delete(key); await renderView(); await renderHeader(); return; }
          if (e instanceof SignInNeeded) { askSignIn(); return; } // the choice is kept, and sent after signing in
          // Refused (e.g. the visit was submitted meanwhile): say why, on the card itself. (With no signal
          // the choice is kept on the phone and the card says it will be sent: `conflict.chosen`.)
          settleRefusals.set(key, reasonText(e instanceof Error ? e.message : String(e)));
        }
        await renderView(); await renderHeader();
      };
      const refused = refusalOf(key, conflict);
      const chosen = conflict.chosen ? Object.values(conflict.chosen.fields)[0]?.take : undefined;
      li.append(table, ...(shown.changed && !chosen ? [h("p", { class: "notice", role: "status", testid: "conflict-moved" }, t("conflict_moved"))] : []),
        ...(chosen ? [h("p", { class: "notice", role: "status", testid: "choice-queued" }, t("choice_queued", {
          choice: t(chosen === "client" ? (colleague ? "keep_colleagues" : "keep_mine") : (colleague ? "keep_server" : "keep_theirs")) }))] : []),
        h("div", {},
        refused ? h("div", { class: "error", role: "alert", testid: "settle-error" }, t("settle_refused", { why: refused.text }),
          refused.detail ? h("details", { class: "detail" }, h("summary", {}, t("details")), h("span", { testid: "reason-detail" }, refused.detail)) : null) : null),
        h("div", { class: "row" },
          h("button", { class: "btn", testid: "keep-theirs", onclick: settle("server") }, t(colleague ? "keep_server" : "keep_theirs")),
          refused ? h("button", { class: "btn", testid: "dismiss", onclick: async () => {
            await core!.acknowledge(u.entity, u.id, { conflict: true }); settleRefusals.delete(key); await renderView(); await renderHeader();
          } }, t("dismiss"))
            : h("button", { class: "btn primary", testid: "keep-mine", onclick: settle("client") }, t(colleague ? "keep_colleagues" : "keep_mine"))));
    }
    if ((u.state === "rejected" || (u.state === "conflict" && !rec?.conflict)) && u.entity !== "photo"
        && !(rec?.conflict && refusalOf(`${u.entity}:${u.id}`, rec.conflict))) { // refused, or deleted on the server
      li.append(h("button", { class: "btn", testid: "dismiss", onclick: async () => { await core!.acknowledge(u.entity, u.id); await renderView(); } }, t("dismiss")));
    }
    list.append(li);
  }
  return h("div", {}, h("a", { href: "#/", class: "btn small" }, `← ${t("back")}`), h("h1", {}, t("sync_panel")),
    rows.length ? list : h("p", { class: "muted", testid: "all-sent" }, t("all_sent")));
}

// --- start -------------------------------------------------------------------------------------

window.addEventListener("hashchange", () => void renderView());
// The page hidden (another app, the tab closed): the answers typed are saved now; their keystrokes
// are kept already, and any left unsaved are saved when the app opens next.
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") void flushTyping?.(); });
window.addEventListener("online", () => { retryMs = 0; void renderHeader(); void syncNow(); });
window.addEventListener("offline", () => { reachable = false; void renderHeader(); });
// Records waiting and nothing scheduled (e.g. the app reopened with unsent records): try now and then.
setInterval(() => { if (core && !syncing) void core.unsentCount().then((n) => { if (n) void attempt(); }); }, 60000);
if ("serviceWorker" in navigator && location.protocol !== "file:") {
  navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" }).catch(() => undefined);
}
void render().then(async () => { if (core && (await core.unsentCount()) > 0) await attempt(); });
