// The on-site verdict: a line-by-line mirror of inspections/scoring/expressions.py and engine.py
// (indicators, the school rule, shortfalls in real units), in exact decimal arithmetic with the
// engine's context (50 significant digits, half-even), so the phone and the server agree exactly.
import DecimalBase from "decimal.js";

export const D = DecimalBase.clone({ precision: 50, rounding: DecimalBase.ROUND_HALF_EVEN, toExpNeg: -60, toExpPos: 60 });
export type Dec = InstanceType<typeof D>;

export const ENROLMENT = "enrolment";
export const NA = "n/a";
const CLASSES = "class_sizes";

export interface Item {
  code: string; kind: string; unit?: string; section?: string; levels: string[]; photo_required?: boolean;
  help?: { zh: string; en: string }; enabled?: boolean; choices?: string[]; na_allowed?: boolean;
}
export interface Indicator {
  code: string; section: string; name: { zh: string; en: string }; levels: string[]; expr: any; applies_if?: any;
  comparator: "ge" | "le" | "lt" | "eq"; threshold: any; unit?: string; shortfall?: { unit: string; round: "whole" | "cent" } | null;
  severity: string; weight?: string; enabled?: boolean; school_rule?: boolean; every_school?: boolean; per_school?: boolean;
}
export interface Definition {
  code: string; name: any; items: Item[]; indicators: Indicator[];
  rules: { school: { max_not_met: number; min_ratio_not_met: string }; county?: any };
}

class Missing extends Error { constructor(public fact: string) { super(fact); } }
class Undefined extends Error {}
class Empty extends Undefined {}

/** The one grammar of a decimal written as text (inspections/numbers.py DECIMAL_TEXT): ASCII digits, an
 * optional leading minus, an optional fraction after a dot. Never spaces, "_", exponents, "+", ".5", "5.",
 * NaN/Infinity or digits of other scripts. [0-9], not \d; no "m" flag, so "4.3\n" does not match. */
export const DECIMAL_TEXT = /^-?[0-9]+(?:\.[0-9]+)?$/;

/** A finite decimal from a JSON number or a decimal string in the one grammar; null for anything else
 * (engine._number: a number is taken as JSON wrote it, text only in DECIMAL_TEXT). */
export function parseDecimal(value: unknown): Dec | null {
  if (typeof value === "boolean" || value === null || value === undefined) return null;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return null;
    return new D(String(value)); // str(float) in Python: the shortest round-trip form
  }
  if (value instanceof D) return value as Dec;
  if (typeof value !== "string" || !DECIMAL_TEXT.test(value)) return null;
  return new D(value);
}

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Minutes after midnight of an "HH:MM" (24-hour) string, "17:30" -> 1050; null for anything else (parse_time). */
export function parseTime(value: unknown): Dec | null {
  const m = typeof value === "string" ? TIME.exec(value) : null;
  return m ? new D(Number(m[1]) * 60 + Number(m[2])) : null;
}

/** A threshold: a decimal string, or a time of day "HH:MM" as minutes after midnight (parse_threshold). */
export function parseThreshold(value: unknown): Dec | null {
  return parseTime(value) ?? parseDecimal(value);
}

/** 1050 -> "17:30" (show_time). */
export function showTime(minutes: Dec): string {
  const whole = minutes.trunc().toNumber();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(Math.floor(whole / 60))}:${pad(whole % 60)}`;
}

/** Python's str(Decimal(x)) for an int or a decimal string (exponent kept: "38.0" stays "38.0"). */
export function pyDecimalString(raw: unknown): string {
  if (typeof raw === "number") raw = Number.isInteger(raw) ? BigInt(raw).toString() : String(raw);
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(String(raw).trim());
  if (!m) return String(raw);
  const sign = m[1] === "-" ? "-" : "";
  let digits = ((m[2] || "") + (m[3] || "")).replace(/^0+/, "") || "0";
  const exp = Number(m[4] || 0) - (m[3] || "").length;
  const adjusted = exp + digits.length - 1;
  if (exp <= 0 && adjusted >= -6) {
    if (exp === 0) return sign + digits;
    if (digits.length > -exp) return sign + digits.slice(0, digits.length + exp) + "." + digits.slice(digits.length + exp);
    return sign + "0." + "0".repeat(-exp - digits.length) + digits;
  }
  digits = digits.length > 1 ? digits[0] + "." + digits.slice(1) : digits;
  return `${sign}${digits}E${adjusted >= 0 ? "+" : "-"}${Math.abs(adjusted)}`;
}

export function itemsByCode(defn: Definition): Record<string, Item> {
  const out: Record<string, Item> = {};
  for (const i of defn.items || []) if (i && typeof i === "object" && "code" in i) out[i.code] = i;
  return out;
}

export function indicatorsFor(defn: Definition, level: string): Indicator[] {
  return (defn.indicators || []).filter((i) => (i.enabled ?? true) && (i.levels || []).includes(level));
}

export function thresholdFor(ind: Indicator, level: string): Dec | boolean | null {
  let raw = ind.threshold;
  if (raw !== null && typeof raw === "object") raw = raw[level];
  if (typeof raw === "boolean" || raw === null || raw === undefined) return raw ?? null;
  return parseThreshold(raw);
}

/** Every fact an expression reads, with whether it has a default (expressions.facts_used). */
export function factsUsed(expr: any): [string, boolean][] {
  const out: [string, boolean][] = [];
  if (!expr || typeof expr !== "object") return out;
  const op = expr.op;
  if (op === "per_100" || op === "per_student") out.push([ENROLMENT, false]);
  if (op === "rooms_per_12_classes") out.push([expr.classes ?? CLASSES, false]);
  if ("fact" in expr) out.push([expr.fact, op === "fact" && "default" in expr]);
  for (const k of ["num", "den", "arg"]) out.push(...factsUsed(expr[k]));
  if (Array.isArray(expr.args)) for (const e of expr.args) out.push(...factsUsed(e));
  return out;
}

type Fact = Dec | boolean | string | Dec[];
type Facts = Record<string, Fact>;

function fact(expr: any, facts: Facts): any {
  const code = expr.fact;
  const value = facts[code];
  if (value === undefined || value === null) {
    if ("default" in expr) {
      const n = parseDecimal(expr.default);
      return n === null ? expr.default : n;
    }
    throw new Missing(code);
  }
  return value;
}

function divide(num: Dec, den: Dec, what: string): Dec {
  if (den.isZero()) throw new Undefined(`${what} is 0`);
  return num.div(den);
}

export function blocksOf12(expr: any, facts: Facts): Dec {
  const classes = (fact({ fact: expr.classes ?? CLASSES }, facts) as Dec[]).length;
  return new D(classes).div(12).toDecimalPlaces(0, D.ROUND_CEIL);
}

/** The value of an expression over normalised facts (expressions.evaluate). */
export function evaluate(expr: any, facts: Facts, items: Record<string, Item>): any {
  const op = expr.op;
  switch (op) {
    case "fact": return fact(expr, facts);
    case "const": return typeof expr.value === "boolean" ? expr.value : parseDecimal(expr.value);
    case "per_100": return divide((fact(expr, facts) as Dec).mul(100), fact({ fact: ENROLMENT }, facts), ENROLMENT);
    case "per_student": return divide(fact(expr, facts) as Dec, fact({ fact: ENROLMENT }, facts), ENROLMENT);
    case "ratio": case "percent": {
      const num = evaluate(expr.num, facts, items) as Dec, den = evaluate(expr.den, facts, items) as Dec;
      return divide(op === "percent" ? num.mul(100) : num, den, "denominator");
    }
    case "sum": return (expr.args as any[]).reduce((acc: Dec, e) => acc.add(evaluate(e, facts, items)), new D(0));
    case "max_of": case "min_of": {
      const values = fact(expr, facts) as Dec[];
      if (!values.length) throw new Empty(`${expr.fact} is empty`);
      return values.reduce((a, b) => (op === "max_of" ? (b.gt(a) ? b : a) : (b.lt(a) ? b : a)));
    }
    case "count": return new D((fact(expr, facts) as Dec[]).length);
    case "rooms_per_12_classes":
      return divide(new D((fact(expr, facts) as Dec[]).length), blocksOf12(expr, facts), CLASSES);
    case "rating_at_least": {
      const choices = items[expr.fact].choices || [];
      const at = choices.indexOf(fact(expr, facts) as string);
      if (at < 0) throw new Error(`not a choice of ${expr.fact}`);
      return at <= choices.indexOf(expr.value);
    }
    case "all": { const vals = (expr.args as any[]).map((e) => evaluate(e, facts, items)); return vals.every(Boolean); }
    case "any": { const vals = (expr.args as any[]).map((e) => evaluate(e, facts, items)); return vals.some(Boolean); }
    case "not": return !evaluate(expr.arg, facts, items);
  }
  throw new Error(`unknown op ${op}`);
}

// --- facts -----------------------------------------------------------------------------------

const MAX_MAGNITUDE = new D("1e13");

/** The engine's field problems for one answer value (validate_facts); null when it is fine. */
export function factProblem(item: Item | undefined, level: string, code: string, value: unknown, lang: "zh" | "en" = "en"): string | null {
  const zh = lang === "zh";
  if (!item) return zh ? "不是本模板的条目" : "unknown fact: not an item of this template";
  if (!(item.enabled ?? true)) return zh ? "本模板已停用该条目" : "this item is switched off in this template";
  if (!(item.levels || []).includes(level)) return zh ? `该条目不适用于${level}学段` : `this item is not asked for ${level} schools`;
  if (value === null || value === undefined) return null;
  if (beyond(value)) return zh ? "超出合理范围" : "is beyond any real value (at most 10,000,000,000,000 in size)";
  if (code === ENROLMENT) {
    const n = parseDecimal(value);
    return n !== null && n.isInteger() && n.gt(0) ? null
      : zh ? "须为正整数（不能为 0 或不适用）" : "must be a positive whole number of students (never 0 or n/a)";
  }
  if (value === NA) {
    if (item.na_allowed === true) return null;
    return zh ? "本模板不允许该条目填“不适用”：每所受评学校都须作答"
      : "\"n/a\" is not allowed: this template does not let this item not apply, so every assessed school answers it";
  }
  return kindProblem(item, value, zh);
}

function beyond(value: unknown): boolean {
  for (const v of Array.isArray(value) ? value : [value]) {
    if (typeof v === "boolean" || !(typeof v === "number" || typeof v === "string")) continue;
    const n = parseDecimal(v);
    if (n !== null && n.abs().gt(MAX_MAGNITUDE)) return true;
    if (typeof v === "number" && !Number.isFinite(v)) return true;
  }
  return false;
}

function kindProblem(item: Item, value: unknown, zh: boolean): string | null {
  const kind = item.kind;
  const orNa = item.na_allowed === true ? ' (or "n/a")' : "";
  if (kind === "integer" || kind === "number") {
    const n = parseDecimal(value);
    if (kind === "integer" && (n === null || n.lt(0) || !n.isInteger())) return zh ? "须为不小于 0 的整数" : `must be a whole number >= 0${orNa}`;
    if (n === null || n.lt(0)) return zh ? "须为不小于 0 的数" : `must be a number >= 0${orNa}`;
  } else if (kind === "boolean" && typeof value !== "boolean") {
    return zh ? "须为是或否" : `must be true or false${orNa}`;
  } else if (kind === "rating" && !(item.choices || []).includes(value as string)) {
    return zh ? "须为给定选项之一" : `must be one of ${(item.choices || []).join(", ")}${orNa}`;
  } else if (kind === "text" && typeof value !== "string") {
    return zh ? "须为文字" : "must be text";
  } else if (kind === "class_sizes") {
    const sizes = Array.isArray(value) ? value.map(parseDecimal) : null;
    if (!sizes || !sizes.length || sizes.some((n) => n === null || n.lt(1) || !n.isInteger()))
      return zh ? "每班一个不小于 1 的整数，至少一个班" : "must be a non-empty list of class sizes, whole numbers >= 1";
  } else if (kind === "time_of_day") {
    if (parseTime(value) === null) return zh ? "须为 24 小时制时刻“时:分”，如 17:30" : 'must be a time of day "HH:MM" (24-hour), e.g. "17:30"';
  } else if (kind === "room_areas") {
    const areas = Array.isArray(value) ? value.map(parseDecimal) : null;
    if (!areas || areas.some((n) => n === null || n.lte(0)))
      return zh ? "每间一个大于 0 的面积；没有这类教室则勾选“没有（0 间）”" : "one area > 0 per room; tick “None (0 rooms)” when there are none";
  }
  return null;
}

/** What the wire takes as an answer's value (schemas/visits.py AnswerValue, schemas/text.py): text of at
 * most 2000 characters (code points, as Python counts them) with no NUL character or unpaired surrogate,
 * a list of at most 500 numbers. The server refuses anything else whatever the item's kind, so the app
 * refuses it at input (tests/browser/field/parity_cases.py write_wire checks both sides agree). */
export const TEXT_MAX = 2000;
export const LIST_MAX = 500;
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unstorableText = (zh: boolean): string =>
  zh ? "文字不能含有空字符（U+0000）或不成对的代理字符" : "may not contain a NUL character (U+0000) or an unpaired surrogate";

/** What the wire takes as a note (an answer's `note`, a visit's `notes`: sync/fields.py, Length(max=4000)):
 * text of at most 4000 characters with no NUL character or unpaired surrogate. */
export const NOTE_MAX = 4000;

export function noteProblem(value: string, lang: "zh" | "en" = "en"): string | null {
  const zh = lang === "zh";
  if (UNSTORABLE.test(value)) return unstorableText(zh);
  if ([...value].length > NOTE_MAX) return zh ? `备注最多 ${NOTE_MAX} 个字符` : `a note may be at most ${NOTE_MAX} characters`;
  return null;
}

export function wireProblem(value: unknown, lang: "zh" | "en" = "en"): string | null {
  const zh = lang === "zh";
  if (typeof value === "string") {
    if (UNSTORABLE.test(value)) return unstorableText(zh);
    if ([...value].length > TEXT_MAX) return zh ? `文字最多 ${TEXT_MAX} 个字符` : `text may be at most ${TEXT_MAX} characters`;
  } else if (Array.isArray(value)) {
    if (value.length > LIST_MAX) return zh ? `最多 ${LIST_MAX} 个数` : `a list may hold at most ${LIST_MAX} numbers`;
    if (value.some((v) => typeof v !== "number" || !Number.isFinite(v))) return zh ? "须全部为数" : "must be a list of numbers";
  } else if (typeof value === "number" && !Number.isFinite(value)) return zh ? "须为数" : "must be a finite number";
  return null;
}

/** Field problems of a set of facts (engine.validate_facts). */
export function validateFacts(defn: Definition, level: string, facts: Record<string, unknown>): Record<string, string[]> {
  const items = itemsByCode(defn);
  const errors: Record<string, string[]> = {};
  for (const [code, value] of Object.entries(facts)) {
    const msg = factProblem(items[code], level, code, value);
    if (msg) (errors[code] ||= []).push(msg);
  }
  return errors;
}

function normalise(facts: Record<string, unknown>, items: Record<string, Item>): Facts {
  const out: Facts = {};
  for (const [code, value] of Object.entries(facts)) {
    const kind = items[code].kind;
    if (value === null || value === undefined) continue;
    if (value === NA) out[code] = value;
    else if (kind === "integer" || kind === "number") out[code] = parseDecimal(value) as Dec;
    else if (kind === "class_sizes" || kind === "room_areas") out[code] = (value as unknown[]).map((v) => parseDecimal(v) as Dec);
    else if (kind === "time_of_day") out[code] = parseTime(value) as Dec;
    else out[code] = value as Fact;
  }
  return out;
}

// --- one indicator -----------------------------------------------------------------------------

export interface IndicatorResult {
  code: string; section: string; name: { zh: string; en: string }; status: "met" | "not_met" | "not_assessed" | "not_applicable";
  comparator: string; threshold: Dec | boolean | null; unit: string; severity: string; school_rule: boolean;
  value: Dec | boolean | null; met: boolean | null; ratio: Dec | null; shortfall: Dec | null; shortfall_unit: string | null;
  reason: string | null; detail: { failing: number; gap: Dec; gap_unit: string } | null;
  exact_value: Dec | boolean | null; exact_ratio: Dec | null;
}

const unique = (codes: string[]) => Array.from(new Set(codes));

function blocked(expr: any, facts: Facts): [IndicatorResult["status"], string] | null {
  const used = factsUsed(expr);
  const na = unique(used.filter(([c]) => facts[c] === NA).map(([c]) => c));
  if (na.length) return ["not_applicable", `${na.join(", ")} answered n/a`];
  const missing = unique(used.filter(([c, hasDefault]) => !hasDefault && !(c in facts)).map(([c]) => c));
  if (missing.length) return ["not_assessed", `missing fact${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}`];
  return null;
}

function towardFailing(value: Dec, rounding: DecimalBase.Rounding): Dec {
  return value.decimalPlaces() <= 4 ? value : value.toDecimalPlaces(4, rounding);
}

function shortfall(expr: any, comparator: string, t: Dec, spec: { unit: string; round: string }, facts: Facts,
                   items: Record<string, Item>): [Dec, IndicatorResult["detail"]] {
  const op = expr.op;
  if (op === "min_of" || op === "max_of") {
    const values = facts[expr.fact] as Dec[];
    const gaps = values.map((v) => (comparator === "ge" ? t.sub(v) : v.sub(t))).filter((g) => g.gt(0));
    return [new D(gaps.length), { failing: gaps.length, gap: gaps.reduce((a, b) => a.add(b), new D(0)), gap_unit: items[expr.fact].unit ?? "" }];
  }
  let target: Dec, present: Dec;
  if (op === "per_100") { target = t.mul(facts[ENROLMENT] as Dec).div(100); present = facts[expr.fact] as Dec; }
  else if (op === "per_student") { target = t.mul(facts[ENROLMENT] as Dec); present = facts[expr.fact] as Dec; }
  else if (op === "ratio" || op === "percent") {
    const den = facts[expr.den.fact] as Dec;
    target = t.mul(den).div(op === "percent" ? 100 : 1);
    present = facts[expr.num.fact] as Dec;
  } else if (op === "rooms_per_12_classes") {
    target = t.mul(blocksOf12(expr, facts)); present = new D((facts[expr.fact] as Dec[]).length);
  } else { target = t; present = evaluate(expr, facts, items) as Dec; }
  const gap = comparator === "ge" ? target.sub(present) : present.sub(target);
  const step = spec.round === "cent" ? 2 : 0;
  return [D.max(gap, 0).toDecimalPlaces(step, D.ROUND_CEIL), null];
}

function scoreIndicator(ind: Indicator, level: string, facts: Facts, items: Record<string, Item>): IndicatorResult {
  const threshold = thresholdFor(ind, level);
  const comparator = ind.comparator;
  const spec = ind.shortfall || null;
  const r: IndicatorResult = {
    code: ind.code, section: ind.section, name: ind.name, status: "not_assessed", comparator, threshold,
    unit: ind.unit ?? "", severity: ind.severity, school_rule: !!ind.school_rule, value: null, met: null, ratio: null,
    shortfall: null, shortfall_unit: spec ? spec.unit : null, reason: null, detail: null, exact_value: null, exact_ratio: null,
  };
  let value: any;
  try {
    const condition = ind.applies_if;
    if (condition !== undefined && condition !== null) {
      const b = blocked(condition, facts);
      if (b) { [r.status, r.reason] = b; return r; }
      if (!evaluate(condition, facts, items)) {
        const used = unique(factsUsed(condition).map(([c]) => c));
        r.status = "not_applicable";
        r.reason = "does not apply: " + used.map((c) => `${c}=${showFact(facts[c])}`).join(", ");
        return r;
      }
    }
    const b = blocked(ind.expr, facts);
    if (b) { [r.status, r.reason] = b; return r; }
    value = evaluate(ind.expr, facts, items);
  } catch (e) {
    if (e instanceof Empty) { r.status = "not_applicable"; r.reason = `nothing to check: ${e.message}`; return r; }
    if (e instanceof Undefined) { r.reason = `cannot be computed: ${e.message}`; return r; }
    throw e;
  }
  r.exact_value = value;
  if (comparator === "eq") {
    r.met = typeof value === "boolean" || typeof threshold === "boolean" ? value === threshold
      : (value as Dec).eq(threshold as Dec);
    r.value = value;
  } else {
    const v = value as Dec, t = threshold as Dec;
    r.met = comparator === "ge" ? v.gte(t) : comparator === "lt" ? v.lt(t) : v.lte(t);
    r.value = towardFailing(v, comparator === "ge" ? D.ROUND_FLOOR : D.ROUND_CEIL);
    if (comparator === "ge" && !t.isZero()) r.exact_ratio = v.div(t);
    else if ((comparator === "le" || comparator === "lt") && !v.isZero()) r.exact_ratio = t.div(v);
    if (r.exact_ratio !== null) r.ratio = towardFailing(r.exact_ratio, D.ROUND_FLOOR);
    if (!r.met && spec) [r.shortfall, r.detail] = shortfall(ind.expr, comparator, t, spec, facts, items);
    else if (spec) r.shortfall = new D(0);
  }
  r.status = r.met ? "met" : "not_met";
  return r;
}

function showFact(value: Fact | undefined): string {
  if (typeof value === "boolean") return String(value);
  if (value === undefined || value === null) return "unanswered";
  if (Array.isArray(value)) return "[" + value.map((v) => `Decimal('${v.toString()}')`).join(", ") + "]";
  return value.toString();
}

// --- one school --------------------------------------------------------------------------------

export interface SchoolResult {
  template: string; level: string; verdict: "pass" | "fail" | "incomplete" | "exempt"; reasons: string[];
  results: IndicatorResult[]; enrolment: Dec | null; errors?: Record<string, string[]>;
}

function percent(ratio: Dec | null): string {
  if (ratio === null) return "an unknown share";
  const shown = ratio.mul(100).toFixed(2, D.ROUND_FLOOR);
  // Python keeps the sign of a negative zero ("-0" is a decimal of the grammar): Decimal("-0.00"), not 0.00.
  return `${ratio.isZero() && ratio.isNeg() && !shown.startsWith("-") ? "-" : ""}${shown}%`;
}

function schoolVerdict(rule: IndicatorResult[], cfg: Definition["rules"]["school"]): [SchoolResult["verdict"], string[]] {
  const allowed = cfg.max_not_met, minRatio = parseDecimal(cfg.min_ratio_not_met) as Dec;
  // Every school-rule indicator counts (每所学校至少6项): one without a value (missing, or n/a where a
  // template allows it) is unknown, never left out.
  const notMet = rule.filter((r) => r.status === "not_met");
  const unknown = rule.filter((r) => r.status === "not_assessed" || r.status === "not_applicable");
  if (!rule.length) return ["incomplete", ["no school-rule indicator applies to this school"]];
  const failures: string[] = [];
  if (notMet.length > allowed)
    failures.push(`${notMet.length} of ${rule.length} indicators not met (${notMet.map((r) => r.code).join(", ")}); at most ${allowed} may be`);
  for (const r of notMet)
    if (r.exact_ratio === null || r.exact_ratio.lt(minRatio))
      failures.push(`${r.code} at ${percent(r.exact_ratio)} of its threshold, below the ${percent(minRatio)} allowed for a missed indicator`);
  if (failures.length) return ["fail", failures];
  const worstFails = notMet.length + unknown.length > allowed || (unknown.length > 0 && minRatio.gt(0));
  if (worstFails) return ["incomplete", unknown.map((r) => `${r.code} not assessed (${r.reason})`)];
  return ["pass", notMet.map((r) => `${r.code} missed at ${percent(r.exact_ratio)} of its threshold (allowed)`)];
}

export const TEACHING_POINT_MIN = 50;

/** Why a school is left out of R1-R7 and the CV, or null when it is judged on them (engine.exemption). */
export function exemption(schoolType: string, enrolment: unknown): string | null {
  if (schoolType === "special_education")
    return "special-education school: equipped as needed, not judged on R1-R7 (特殊教育学校根据实际配备)";
  if (schoolType === "teaching_point") {
    const n = enrolment === null || enrolment === undefined || enrolment === NA ? null : parseDecimal(enrolment);
    if (n !== null && n.lt(TEACHING_POINT_MIN))
      return `teaching point of ${pyDecimalString(enrolment)} pupils (< ${TEACHING_POINT_MIN}): equipped as needed, not judged on R1-R7 `
        + "(不足50人的教学点根据实际配备)";
  }
  return null;
}

/** How a section is judged (engine.score_school's keywords): the register's school type; for a combined
 * school, the whole school's facts (both sections' classes and rooms) in its first section, and in the
 * other the section per-school indicators were judged in. */
export interface ScoreContext { school_type?: string; whole_school?: Record<string, unknown> | null; judged_in?: string | null }

function skipped(ind: Indicator, level: string, status: IndicatorResult["status"], reason: string): IndicatorResult {
  const spec = ind.shortfall || null;
  return {
    code: ind.code, section: ind.section, name: ind.name, status, comparator: ind.comparator, threshold: thresholdFor(ind, level),
    unit: ind.unit ?? "", severity: ind.severity, school_rule: !!ind.school_rule, value: null, met: null, ratio: null,
    shortfall: null, shortfall_unit: spec ? spec.unit : null, reason, detail: null, exact_value: null, exact_ratio: null,
  };
}

const NUMBER_KINDS = ["number", "integer", "time_of_day"];

/** The constants of an expression, and the defaults of the number facts it reads, outside the decimal grammar
 * (engine._unreadable_literals). */
function unreadableLiterals(expr: any, items: Record<string, Item>): string[] {
  if (!expr || typeof expr !== "object") return [];
  const out: string[] = [];
  if (expr.op === "const" && typeof expr.value !== "boolean" && parseDecimalText(expr.value) === null) out.push(`the constant ${JSON.stringify(expr.value)}`);
  if (expr.op === "fact" && "default" in expr && NUMBER_KINDS.includes(items[expr.fact]?.kind) && parseDecimalText(expr.default) === null)
    out.push(`the default ${JSON.stringify(expr.default)} of ${expr.fact}`);
  for (const k of ["num", "den", "arg"]) out.push(...unreadableLiterals(expr[k], items));
  if (Array.isArray(expr.args)) for (const e of expr.args) out.push(...unreadableLiterals(e, items));
  return out;
}

/** parse_decimal as a definition's literals are read: an integer or text in the grammar; no fractional JSON number. */
function parseDecimalText(value: unknown): Dec | null {
  return typeof value === "number" && !Number.isInteger(value) ? null : parseDecimal(value);
}

/** The numbers of a definition scoring at `level` needs and cannot read, under "template" (engine.template_problems):
 * a number indicator's threshold or the school rule's ratio outside the decimal grammar (e.g. "4_3"). */
export function templateProblems(defn: Definition, level: string): Record<string, string[]> {
  const out: string[] = [];
  const items = itemsByCode(defn);
  for (const ind of indicatorsFor(defn, level)) {
    for (const expr of [ind.expr, ind.applies_if])
      for (const what of unreadableLiterals(expr, items)) out.push(`${ind.code}: ${what} is not a decimal; this template version cannot be scored`);
    if (ind.comparator !== "eq" && !(thresholdFor(ind, level) instanceof D)) {
      const raw = ind.threshold !== null && typeof ind.threshold === "object" ? ind.threshold[level] : ind.threshold;
      out.push(`${ind.code}: the threshold ${JSON.stringify(raw)} for ${level} is not a decimal; this template version cannot be scored`);
    }
  }
  const ratio = defn.rules?.school?.min_ratio_not_met;
  if (parseDecimal(ratio) === null)
    out.push(`rules.school.min_ratio_not_met ${JSON.stringify(ratio)} is not a decimal; this template version cannot be scored`);
  return out.length ? { template: out } : {};
}

/** Score one school (or one section) against a definition at a level (engine.score_school); invalid
 * facts give verdict "incomplete" with `errors` instead of raising, so the page can show them. Special-
 * education schools and teaching points under 50 pupils get verdict "exempt" (not judged on R1-R7). */
export function scoreSchool(defn: Definition, level: string, facts: Record<string, unknown>, ctx: ScoreContext = {}): SchoolResult {
  const errors = { ...templateProblems(defn, level), ...validateFacts(defn, level, facts) };
  const whole = ctx.whole_school ?? null;
  if (whole) for (const [k, v] of Object.entries(validateFacts(defn, level, whole))) errors[`whole_school.${k}`] = v;
  const items = itemsByCode(defn);
  if (Object.keys(errors).length)
    return { template: defn.code, level, verdict: "incomplete", reasons: [], results: [], enrolment: null, errors };
  const normal = normalise(facts, items);
  const wholeNormal = whole ? normalise(whole, items) : normal;
  const exempt = exemption(ctx.school_type ?? "ordinary", facts[ENROLMENT]);
  const judgedIn = ctx.judged_in ?? null;
  const results = indicatorsFor(defn, level).map((ind) =>
    ind.per_school && judgedIn !== null ? skipped(ind, level, "not_applicable", `judged once for the whole school, in the ${judgedIn} section`)
      : ind.school_rule && exempt ? skipped(ind, level, "not_applicable", exempt)
      : scoreIndicator(ind, level, ind.per_school ? wholeNormal : normal, items));
  const [verdict, reasons]: [SchoolResult["verdict"], string[]] = exempt ? ["exempt", [exempt]]
    : schoolVerdict(results.filter((r) => r.school_rule), defn.rules.school);
  const enrolment = normal[ENROLMENT];
  return { template: defn.code, level, verdict, reasons, results, enrolment: enrolment instanceof D ? (enrolment as Dec) : null };
}

// --- a visit's sections ------------------------------------------------------------------------

export const SECTIONS: Record<string, string[]> = {
  primary: ["primary"], junior: ["junior"], nine_year: ["primary", "junior"], twelve_year: ["primary", "junior"],
};
const COMBINED = ["nine_year", "twelve_year"];

/** (response section, level) pairs a school is scored in (scoring.service.sections_of). */
export function sectionsOf(kind: string): [string, string][] {
  const levels = SECTIONS[kind] || ["primary"];
  return COMBINED.includes(kind) ? levels.map((l) => [l, l] as [string, string]) : [["", levels[0]]];
}

export interface Answer { item_code: string; section: string; value: unknown }
export interface SchoolInfo { kind: string; enrolment_primary?: number; enrolment_junior?: number; school_type?: string }

/** A visit's answers as facts, a section's overriding whole-school ones (visits.service.facts_for). */
export function factsFor(answers: Answer[], section: string): Record<string, unknown> {
  const facts: Record<string, unknown> = {};
  for (const a of answers) if (a.section === "" && a.value !== null && a.value !== undefined) facts[a.item_code] = a.value;
  if (section) for (const a of answers) if (a.section === section && a.value !== null && a.value !== undefined) facts[a.item_code] = a.value;
  return facts;
}

/** A section's facts from a visit's answers (scoring.service.facts_for_section). */
export function factsForSection(answers: Answer[], school: SchoolInfo, section: string, level: string): Record<string, unknown> {
  const facts = factsFor(answers, section);
  if (section && !(ENROLMENT in facts)) {
    const enrol = level === "primary" ? school.enrolment_primary : school.enrolment_junior;
    if (enrol) facts[ENROLMENT] = enrol;
  }
  if (COMBINED.includes(school.kind)) {
    if (!("combined_school" in facts)) facts.combined_school = true;
    if (!("compulsory_enrolment" in facts)) facts.compulsory_enrolment = (school.enrolment_primary || 0) + (school.enrolment_junior || 0);
  }
  return facts;
}

/** A combined school's facts for the per-school indicators (B3 rooms, B4.2 size), judged once for the whole
 * school (scoring.service.whole_school_facts): the first section's facts with every section's classes and
 * rooms together; lists answered for the whole school (section "") are taken as they are, otherwise classes
 * only when every section answered them, rooms from the sections that did. Null for a one-section school. */
export function wholeSchoolFacts(answers: Answer[], school: SchoolInfo, sections: [string, string][], defn: Definition): Record<string, unknown> | null {
  if (!sections.length || !sections[0][0]) return null;
  const items = itemsByCode(defn);
  const codes = new Set<string>();
  for (const ind of defn.indicators || [])
    if (ind.per_school && (ind.enabled ?? true)) for (const [c] of [...factsUsed(ind.expr), ...factsUsed(ind.applies_if)]) codes.add(c);
  const [firstSection, firstLevel] = sections[0];
  const whole = factsForSection(answers, school, firstSection, firstLevel);
  const shared = factsFor(answers, "");
  for (const code of codes) {
    const kind = items[code]?.kind;
    if (kind !== "class_sizes" && kind !== "room_areas") continue;
    if (code in shared) { whole[code] = shared[code]; continue; }
    const parts = sections.map(([section]) => factsFor(answers, section)[code]);
    const answered = parts.filter((x) => Array.isArray(x)) as unknown[][];
    if (kind === "class_sizes" && answered.length < parts.length) delete whole[code];
    else if (answered.length) whole[code] = answered.flat();
    else delete whole[code];
  }
  return whole;
}

export interface SectionScore { section: string; level: string; facts: Record<string, unknown>; context: ScoreContext; result: SchoolResult }

/** Every section of a visit scored as the server does (scoring.service.score_visit): each section's facts,
 * the school's type from the register and, for a combined school, per-school indicators judged once. */
export function scoreVisit(defn: Definition, answers: Answer[], school: SchoolInfo): SectionScore[] {
  const sections = sectionsOf(school.kind);
  const whole = wholeSchoolFacts(answers, school, sections, defn);
  return sections.map(([section, level], i) => {
    const facts = factsForSection(answers, school, section, level);
    const context: ScoreContext = { school_type: school.school_type || "ordinary" };
    if (whole !== null) { if (i === 0) context.whole_school = whole; else context.judged_in = sections[0][1]; }
    return { section, level, facts, context, result: scoreSchool(defn, level, facts, context) };
  });
}

const UNIT_ZH: Record<string, string> = { teachers: "名教师", rooms: "间", classes: "个班", students: "名学生", m2: "平方米", yuan: "元" };
const UNIT_EN: Record<string, string> = { teachers: "teachers", rooms: "rooms", classes: "classes", students: "students", m2: "m²", yuan: "yuan" };

/** A shortfall as people read it: '2 名教师', '850.00 平方米' (scoring.service.shortfall_text). */
export function shortfallText(amount: Dec, unit: string | null, lang: "zh" | "en"): string {
  const cents = unit === "m2" || unit === "yuan";
  const shown = Number(amount.toFixed(cents ? 2 : 0, D.ROUND_HALF_EVEN)).toLocaleString("en-US",
    { minimumFractionDigits: cents ? 2 : 0, maximumFractionDigits: cents ? 2 : 0 });
  const words = lang === "en" ? UNIT_EN : UNIT_ZH;
  return `${shown} ${words[unit || ""] ?? unit ?? ""}`.trim();
}
