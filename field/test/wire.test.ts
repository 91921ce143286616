// The app refuses at input what the server refuses on the wire: FIELD_WIRE_CASES names a JSON file of
// answer values judged by the server's schema (tests/browser/field/parity_cases.py write_wire).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { wireProblem } from "../src/scoring";

const path = process.env.FIELD_WIRE_CASES;

describe.skipIf(!path)("wire limits as the server's", () => {
  it("refuses exactly the values the server refuses", () => {
    const cases: { value: unknown; refused: boolean }[] = JSON.parse(readFileSync(path!, "utf-8")).cases;
    expect(cases.length).toBeGreaterThan(20);
    for (const c of cases) {
      const mine = wireProblem(c.value);
      expect(mine !== null, `${JSON.stringify(c.value).slice(0, 60)}: ${mine}`).toBe(c.refused);
      if (mine) expect(wireProblem(c.value, "zh")).not.toBe(mine); // said in the inspector's language too
    }
  });
});
