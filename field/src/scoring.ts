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
  comparator: "ge" | "le" | "eq"; threshold: any; unit?: string; shortfall?: { unit: string; round: "whole" | "cent" } | null;
  severity: string; weight?: string; enabled?: boolean; school_rule?: boolean;
}
export interface Definition {
  code: string; name: any; items: Item[]; indicators: Indicator[];
  rules: { school: { max_not_met: number; min_ratio_not_met: string }; county?: any };
}

class Missing extends Error { constructor(public fact: string) { super(fact); } }
class Undefined extends Error {}
class Empty extends Undefined {}

/** A finite decimal from an integer, a decimal string or a number; null for anything else (as parse_decimal). */
export function parseDecimal(value: unknown): Dec | null {
  if (typeof value === "boolean" || value === null || value === undefined) return null;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return null;
    return new D(String(value)); // str(float) in Python: the shortest round-trip form
  }
  if (value instanceof D) return value as Dec;
  if (typeof value !== "string") return null;
  const s = value.trim();
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) return null;
  try { return new D(s); } catch { return null; }
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
  return parseDecimal(raw);
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
  if (value === NA) return null;
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
  if (kind === "integer" || kind === "number") {
    const n = parseDecimal(value);
    if (kind === "integer" && (n === null || n.lt(0) || !n.isInteger())) return zh ? "须为不小于 0 的整数" : 'must be a whole number >= 0 (or "n/a")';
    if (n === null || n.lt(0)) return zh ? "须为不小于 0 的数" : 'must be a number >= 0 (or "n/a")';
  } else if (kind === "boolean" && typeof value !== "boolean") {
    return zh ? "须为是或否" : 'must be true or false (or "n/a")';
  } else if (kind === "rating" && !(item.choices || []).includes(value as string)) {
    return zh ? "须为给定选项之一" : `must be one of ${(item.choices || []).join(", ")} (or "n/a")`;
  } else if (kind === "text" && typeof value !== "string") {
    return zh ? "须为文字" : "must be text";
  } else if (kind === "class_sizes") {
    const sizes = Array.isArray(value) ? value.map(parseDecimal) : null;
    if (!sizes || !sizes.length || sizes.some((n) => n === null || n.lt(1) || !n.isInteger()))
      return zh ? "每班一个不小于 1 的整数，至少一个班" : 'must be a non-empty list of class sizes, whole numbers >= 1 (or "n/a")';
  } else if (kind === "room_areas") {
    const areas = Array.isArray(value) ? value.map(parseDecimal) : null;
    if (!areas || areas.some((n) => n === null || n.lte(0)))
      return zh ? "每间一个大于 0 的面积；没有则留空" : 'must be a list of room areas > 0, one per room; [] when there are none (or "n/a")';
  }
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
    r.met = comparator === "ge" ? v.gte(t) : v.lte(t);
    r.value = towardFailing(v, comparator === "ge" ? D.ROUND_FLOOR : D.ROUND_CEIL);
    if (comparator === "ge" && !t.isZero()) r.exact_ratio = v.div(t);
    else if (comparator === "le" && !v.isZero()) r.exact_ratio = t.div(v);
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
  template: string; level: string; verdict: "pass" | "fail" | "incomplete"; reasons: string[];
  results: IndicatorResult[]; enrolment: Dec | null; errors?: Record<string, string[]>;
}

function percent(ratio: Dec | null): string {
  if (ratio === null) return "an unknown share";
  return `${ratio.mul(100).toFixed(2, D.ROUND_FLOOR)}%`;
}

function schoolVerdict(rule: IndicatorResult[], cfg: Definition["rules"]["school"]): [SchoolResult["verdict"], string[]] {
  const allowed = cfg.max_not_met, minRatio = parseDecimal(cfg.min_ratio_not_met) as Dec;
  const counted = rule.filter((r) => r.status !== "not_applicable");
  const notMet = counted.filter((r) => r.status === "not_met");
  const unknown = counted.filter((r) => r.status === "not_assessed");
  if (!counted.length) return ["incomplete", ["no school-rule indicator applies to this school"]];
  const failures: string[] = [];
  if (notMet.length > allowed)
    failures.push(`${notMet.length} of ${counted.length} indicators not met (${notMet.map((r) => r.code).join(", ")}); at most ${allowed} may be`);
  for (const r of notMet)
    if (r.exact_ratio === null || r.exact_ratio.lt(minRatio))
      failures.push(`${r.code} at ${percent(r.exact_ratio)} of its threshold, below the ${percent(minRatio)} allowed for a missed indicator`);
  if (failures.length) return ["fail", failures];
  const worstFails = notMet.length + unknown.length > allowed || (unknown.length > 0 && minRatio.gt(0));
  if (worstFails) return ["incomplete", unknown.map((r) => `${r.code} not assessed (${r.reason})`)];
  return ["pass", notMet.map((r) => `${r.code} missed at ${percent(r.exact_ratio)} of its threshold (allowed)`)];
}

/** Score one school (or one section) against a definition at a level (engine.score_school); invalid
 * facts give verdict "incomplete" with `errors` instead of raising, so the page can show them. */
export function scoreSchool(defn: Definition, level: string, facts: Record<string, unknown>): SchoolResult {
  const errors = validateFacts(defn, level, facts);
  const items = itemsByCode(defn);
  if (Object.keys(errors).length)
    return { template: defn.code, level, verdict: "incomplete", reasons: [], results: [], enrolment: null, errors };
  const normal = normalise(facts, items);
  const results = indicatorsFor(defn, level).map((ind) => scoreIndicator(ind, level, normal, items));
  const [verdict, reasons] = schoolVerdict(results.filter((r) => r.school_rule), defn.rules.school);
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
export interface SchoolInfo { kind: string; enrolment_primary?: number; enrolment_junior?: number }

/** A section's facts from a visit's answers (scoring.service.facts_for_section). */
export function factsForSection(answers: Answer[], school: SchoolInfo, section: string, level: string): Record<string, unknown> {
  const facts: Record<string, unknown> = {};
  for (const a of answers) if (a.section === "" && a.value !== null && a.value !== undefined) facts[a.item_code] = a.value;
  if (section) for (const a of answers) if (a.section === section && a.value !== null && a.value !== undefined) facts[a.item_code] = a.value;
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
