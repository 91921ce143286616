// The app tells a refusal by the code the server gives it, never by the server's English: a sentence reworded
// on the server keeps its words on the phone, and English that merely mentions a kind is not taken for it.
import { beforeAll, describe, expect, it } from "vitest";

const stored = new Map<string, string>([["field.lang", "en"]]);
(globalThis as any).localStorage ??= { getItem: (k: string) => stored.get(k) ?? null, setItem: (k: string, v: string) => stored.set(k, v) };

let reasonText: (r: string | null | undefined) => { text: string; detail: string };
let refusalText: (payload: any, words?: string) => string;
let t: (k: any, v?: any) => string;

beforeAll(async () => {
  ({ reasonText } = await import("../src/reasons"));
  ({ refusalText } = await import("../src/sync"));
  ({ t } = await import("../src/i18n"));
});

describe("server refusals in the app's words", () => {
  it("a push result's code decides the words; its English is kept apart as the detail", () => {
    const reason = refusalText({ code: "visit.frozen", reason: "x", errors: {} }, "late edits are closed (reworded)");
    expect(reasonText(reason)).toEqual({ text: t("r_frozen"), detail: "late edits are closed (reworded)" });
    const conflicts = refusalText({ code: "visit.open_conflicts", errors: { status: ["2 to settle"] } }, "wording changed");
    expect(reasonText(conflicts).text).toBe(t("r_open_conflicts"));
    expect(reasonText(conflicts).detail).toBe("wording changed (status: 2 to settle)");
  });

  it("a conflict whose answer was deleted on the server says so, not that the value was refused", () => {
    const gone = `the server refused the settlement (409): ${refusalText({ code: "conflict.record_gone", detail: "deleted",
      errors: { "fields.value": ["was deleted on the server"] } })}`;
    expect(reasonText(gone).text).toBe(t("r_record_gone"));
  });

  it("an inspector whose school was taken away is told so", () => {
    expect(reasonText(refusalText({ code: "visit.school_not_covered" }, "reworded")).text).toBe(t("r_not_covered"));
  });

  it("a problem document's code, behind its HTTP status, decides the words too", () => {
    const settle = `the server refused the settlement (409): ${refusalText({ code: "conflict.already_resolved", detail: "gone" })}`;
    expect(reasonText(settle)).toEqual({ text: t("r_already_settled"), detail: "gone" });
    const frozen = `the server refused the settlement (409): ${refusalText({ code: "visit.frozen", detail: "whatever" })}`;
    expect(reasonText(frozen).text).toBe(t("r_frozen"));
  });

  it("English naming a kind, with no code, is not read as that kind", () => {
    expect(reasonText("the visit is submitted and frozen; late edits are not accepted").text).toBe(t("r_other"));
    expect(reasonText("the server refused the settlement (409): this conflict is already resolved").text)
      .toBe(t("r_refused", { n: 409 }));
    expect(reasonText("x (409): the visit has 1 open conflict").text).toBe(t("r_refused", { n: 409 }));
  });

  it("a value refused where the wire is read is said from its field key", () => {
    const r = refusalText({ code: "invalid", errors: { "fields.value": ["not a number"] } }, "invalid fields");
    expect(reasonText(r).text).toBe(t("r_bad_value"));
    expect(reasonText(refusalText({ code: "invalid", errors: { "fields.note": ["too long"] } }, "invalid fields")).text)
      .toBe(t("r_invalid"));
  });

  it("a code the app does not know falls back to the status, and odd codes are not taken as codes", () => {
    expect(reasonText(`refused (403): ${refusalText({ code: "photos.something_new", detail: "d" })}`).text).toBe(t("r_forbidden"));
    expect(refusalText({ code: "<b>x</b>", detail: "d" })).toBe("d");
    expect(reasonText(`x (401): ${refusalText({ code: "visit.frozen", detail: "d" })}`).text).toBe(t("r_signed_out"));
  });
});
