// The browser's evaluator against the server's engine: FIELD_PARITY_CASES names a JSON file of schools
// scored by inspections/scoring/engine.py (tests/browser/field/parity_cases.py writes it).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { D, type Definition, scoreSchool, scoreVisit, sectionsOf } from "../src/scoring";

const path = process.env.FIELD_PARITY_CASES;

function same(mine: any, theirs: any): boolean {
  if (theirs === null || theirs === undefined) return mine === null || mine === undefined;
  if (typeof theirs === "boolean") return mine === theirs;
  if (typeof theirs === "string") return mine !== null && typeof mine === "object" ? new D(theirs).eq(mine) : String(mine) === theirs;
  return mine === theirs;
}

describe.skipIf(!path)("evaluator parity with the server engine", () => {
  const data = path ? JSON.parse(readFileSync(path, "utf-8")) : { cases: [], definitions: {} };
  it(`matches every value, status, shortfall and verdict of ${data.cases.length} generated schools`, () => {
    const problems: string[] = [];
    let compared = 0;
    data.cases.forEach((c: any, i: number) => {
      const defn: Definition = data.definitions[c.template];
      const ctx = c.context || {};
      if (c.errors) {
        const mine = Object.keys(scoreSchool(defn, c.level, c.facts, ctx).errors || {}).sort();
        if (JSON.stringify(mine) !== JSON.stringify(c.errors)) problems.push(`case ${i}: errors ${mine} != ${c.errors}`);
        return;
      }
      const r = scoreSchool(defn, c.level, c.facts, ctx);
      if (r.results.length !== c.results.length) problems.push(`case ${i}: ${r.results.length} results != ${c.results.length}`);
      if (r.verdict !== c.verdict) problems.push(`case ${i}: verdict ${r.verdict} != ${c.verdict}`);
      if (JSON.stringify(r.reasons) !== JSON.stringify(c.reasons)) problems.push(`case ${i}: reasons ${JSON.stringify(r.reasons)} != ${JSON.stringify(c.reasons)}`);
      c.results.forEach((want: any, k: number) => {
        const got: any = r.results[k];
        if (!got || got.code !== want.code) { problems.push(`case ${i}: indicator ${k} is ${got?.code}, not ${want.code}`); return; }
        for (const f of ["status", "value", "met", "ratio", "shortfall", "shortfall_unit", "reason", "exact_value", "exact_ratio"]) {
          compared++;
          if (!same(got[f], want[f])) problems.push(`case ${i} ${want.code}.${f}: ${String(got[f])} != ${JSON.stringify(want[f])}`);
        }
        if (want.detail) {
          compared++;
          const d = got.detail;
          if (!d || d.failing !== want.detail.failing || !new D(want.detail.gap).eq(d.gap) || d.gap_unit !== want.detail.gap_unit)
            problems.push(`case ${i} ${want.code}.detail: ${JSON.stringify(d)} != ${JSON.stringify(want.detail)}`);
        } else if (got.detail) problems.push(`case ${i} ${want.code}.detail: ${JSON.stringify(got.detail)} != null`);
      });
    });
    expect(problems.slice(0, 20)).toEqual([]);
    expect(compared).toBeGreaterThan(1000);
  });

  it(`turns visits' answers into each section's facts and verdict as the server does (${(data.visits || []).length} visits, every kind of school)`, () => {
    const problems: string[] = [];
    const defn: Definition = data.definitions["national-2017"];
    (data.visits || []).forEach((v: any, i: number) => {
      const mine = sectionsOf(v.school.kind);
      const theirs = v.sections.map((s: any) => [s.section, s.level]);
      if (JSON.stringify(mine) !== JSON.stringify(theirs)) { problems.push(`visit ${i}: sections ${JSON.stringify(mine)} != ${JSON.stringify(theirs)}`); return; }
      const scored = scoreVisit(defn, v.answers, v.school);
      v.sections.forEach((s: any, j: number) => {
        const { facts, context, result: r } = scored[j];
        const sorted = (o: any) => JSON.stringify(Object.keys(o || {}).sort().map((k) => [k, o[k]]));
        if (sorted(facts) !== sorted(s.facts)) problems.push(`visit ${i} ${s.section}: facts ${sorted(facts)} != ${sorted(s.facts)}`);
        if (sorted(context.whole_school) !== sorted(s.context.whole_school)) problems.push(`visit ${i} ${s.section}: whole-school facts ${sorted(context.whole_school)} != ${sorted(s.context.whole_school)}`);
        if ((context.judged_in ?? null) !== (s.context.judged_in ?? null) || context.school_type !== s.context.school_type)
          problems.push(`visit ${i} ${s.section}: context ${JSON.stringify(context)} != ${JSON.stringify(s.context)}`);
        if (s.errors) {
          const errs = Object.keys(r.errors || {}).sort();
          if (JSON.stringify(errs) !== JSON.stringify(s.errors)) problems.push(`visit ${i} ${s.section}: errors ${errs} != ${s.errors}`);
          return;
        }
        if (r.verdict !== s.verdict) problems.push(`visit ${i} ${s.section}: verdict ${r.verdict} != ${s.verdict}`);
        if (JSON.stringify(r.reasons) !== JSON.stringify(s.reasons)) problems.push(`visit ${i} ${s.section}: reasons ${JSON.stringify(r.reasons)} != ${JSON.stringify(s.reasons)}`);
        const statuses = r.results.map((x) => x.status);
        if (JSON.stringify(statuses) !== JSON.stringify(s.statuses)) problems.push(`visit ${i} ${s.section}: statuses ${statuses} != ${s.statuses}`);
        const why = r.results.map((x) => x.reason);
        if (JSON.stringify(why) !== JSON.stringify(s.reasons_by_indicator)) problems.push(`visit ${i} ${s.section}: indicator reasons ${JSON.stringify(why)} != ${JSON.stringify(s.reasons_by_indicator)}`);
        r.results.forEach((x, k) => { if (!same(x.shortfall, s.shortfalls[k])) problems.push(`visit ${i} ${s.section} ${x.code}: shortfall ${x.shortfall} != ${s.shortfalls[k]}`); });
      });
    });
    expect(problems.slice(0, 20)).toEqual([]);
    expect((data.visits || []).length).toBeGreaterThan(50);
  });
});
