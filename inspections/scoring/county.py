"""The county verdict over the four areas of the standard (教督〔2017〕6号).

A resource allocation: the school rule and the 差异系数 (engine.score_county). B government guarantee
and C education quality: the items every school meets (B3-B5) plus the items the county reports once
a year (B1, B2, B6-B15; C1, C2, C9), judged by the template's `county` indicators. D social
recognition: the survey by respondent group, all answers together at >= the template's minimum.
"""
from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, localcontext
from typing import Any

from inspections.scoring import engine
from inspections.scoring import expressions as ex
from inspections.scoring.definition import NA_ALLOWED, indicators_for, items_by_code, target_indicators
from inspections.scoring.enums import IndicatorStatus, Verdict

AREAS = {"A": "资源配置 (resource allocation)", "B": "政府保障程度 (government guarantee)",
         "C": "教育质量 (education quality)", "D": "社会认可度 (social recognition)"}
VETO_FLAGS = {
    "admission_by_exam": "以考试方式招生 (admission by exam)",
    "illegal_school_choice": "违规择校 (illegal school choice)",
    "key_schools_or_classes": "设置重点校或重点班 (key schools or key classes)",
}
MAX_DOCUMENTS = 200


def validate_report(defn: dict, report: Any) -> dict[str, list[str]]:
    """Field problems with a county self-report {facts, survey, vetoes, documents}; missing parts are not problems."""
    if not isinstance(report, dict):
        return {"report": ["must be an object"]}
    county = defn.get("county") or {}
    items = items_by_code(county)
    errors: dict[str, list[str]] = {}
    facts = report.get("facts") or {}
    if not isinstance(facts, dict):
        errors["facts"] = ["must be an object of county item code -> value"]
        facts = {}
    for code, value in facts.items():
        item = items.get(code)
        if item is None:
            msg = f"unknown county item: not in template {defn.get('code')!r}"
        elif value is None:
            continue
        elif value == ex.NA:
            msg = None if item.get(NA_ALLOWED) else "\"n/a\" is not allowed: every county reports this item"
        elif engine._beyond(value):
            msg = "is beyond any real value"
        else:
            msg = engine._kind_problem(item, value)
            n = engine._number(value) if item.get("unit") == "percent" and msg is None else None
            if n is not None and n > 100:
                msg = "a percentage is at most 100"
        if msg:
            errors.setdefault(f"facts.{code}", []).append(msg)
    groups = (county.get("survey") or {}).get("groups") or []
    survey = report.get("survey") or {}
    if not isinstance(survey, dict):
        errors["survey"] = ["must be an object of respondent group -> {respondents, satisfied}"]
        survey = {}
    for group, counts in survey.items():
        path = f"survey.{group}"
        if group not in groups:
            errors[path] = [f"unknown respondent group; one of {', '.join(groups)}"]
            continue
        n = counts.get("respondents") if isinstance(counts, dict) else None
        k = counts.get("satisfied") if isinstance(counts, dict) else None
        if not _whole(n) or n < 1:
            errors.setdefault(path, []).append("respondents must be a whole number >= 1")
        elif not _whole(k) or not 0 <= k <= n:
            errors.setdefault(path, []).append("satisfied must be a whole number from 0 to respondents")
    vetoes = report.get("vetoes") or {}
    if not isinstance(vetoes, dict):
        errors["vetoes"] = ["must be an object of veto item -> true/false"]
        vetoes = {}
    for key, value in vetoes.items():
        if key not in VETO_FLAGS:
            errors[f"vetoes.{key}"] = [f"not a veto item; one of {', '.join(VETO_FLAGS)}"]
        elif not isinstance(value, bool):
            errors[f"vetoes.{key}"] = ["must be true or false"]
    docs = report.get("documents") or []
    if not isinstance(docs, list) or len(docs) > MAX_DOCUMENTS:
        errors["documents"] = [f"must be a list of at most {MAX_DOCUMENTS} documents"]
        docs = []
    known = {i.get("code") for i in county.get("indicators", [])} | set(items) | {"D"}
    for i, doc in enumerate(docs):
        ok = isinstance(doc, dict) and set(doc) <= {"item", "title", "reference", "document_id"} and \
            isinstance(doc.get("item"), str) and doc["item"] in known and _text(doc.get("title")) and \
            ("reference" in doc or "document_id" in doc) and ("reference" not in doc or _text(doc["reference"])) and \
            ("document_id" not in doc or _uuid(doc["document_id"]))
        if not ok:
            errors[f"documents[{i}]"] = ["must be {'item': a county item or indicator code, 'title': text, and "
                                         "'reference': where the document is kept (up to 500 characters each) "
                                         "and/or 'document_id': a file uploaded to the self-report's documents}"]
    return errors


def _text(v: Any) -> bool:
    return isinstance(v, str) and 0 < len(v) <= 500


def _uuid(v: Any) -> bool:
    import uuid
    try:
        return isinstance(v, str) and str(uuid.UUID(v)) == v.lower()
    except ValueError:
        return False


def document_ids(report: dict) -> list[str]:
    """The uploaded files a self-report cites as evidence."""
    return [d["document_id"] for d in report.get("documents") or [] if isinstance(d, dict) and "document_id" in d]


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def judge_items(defn: dict, level: str, facts: dict) -> list[engine.IndicatorResult]:
    """The template's county indicators at a level over the county's reported facts."""
    county = defn.get("county") or {}
    items = items_by_code(county)
    normal = engine._normalise({k: v for k, v in facts.items() if k in items}, items)
    with localcontext(engine.CONTEXT):
        return [engine._score_indicator(ind, level, normal, items) for ind in indicators_for(county, level)]


def judge_survey(defn: dict, survey: dict) -> dict:
    """Satisfaction by respondent group and overall (all answers together) against the template's minimum."""
    spec = (defn.get("county") or {}).get("survey") or {}
    groups, minimum = spec.get("groups") or [], ex.parse_decimal(spec.get("min_percent", "85"))
    shown, total_n, total_k = {}, 0, 0
    for g in groups:
        counts = survey.get(g)
        if not counts:
            shown[g] = None
            continue
        n, k = counts["respondents"], counts["satisfied"]
        total_n, total_k = total_n + n, total_k + k
        shown[g] = {"respondents": n, "satisfied": k, "percent": _pct(k, n)}
    missing = [g for g in groups if shown.get(g) is None]
    overall = _pct(total_k, total_n) if total_n else None
    exact = Decimal(total_k) * 100 / Decimal(total_n) if total_n else None
    met = None if exact is None or missing else exact >= minimum
    return {"groups": shown, "overall_percent": overall, "min_percent": minimum, "met": met,
            "groups_missing": missing}


def _school_status(results, codes: list) -> IndicatorStatus:
    """One school on a target's indicators: failing any of them fails; all applicable met meets."""
    statuses = [r.status for r in results if r.code in codes and r.status != IndicatorStatus.not_applicable]
    if not statuses:
        return IndicatorStatus.not_applicable
    if IndicatorStatus.not_met in statuses:
        return IndicatorStatus.not_met
    return IndicatorStatus.met if all(s == IndicatorStatus.met for s in statuses) else IndicatorStatus.not_assessed


def judge_targets(defn: dict, county_result: engine.CountyResult, previous: dict | None = None) -> list[dict]:
    """Aggregate targets over the county's schools, each with the counts it was judged on:

    - `min_share_met` (e.g. at least 70% meet the class-size standard): the share of schools meeting it;
    - `min_fewer_per_year` (e.g. at least one oversized school fewer each year): the schools failing it now
      against `previous[code]`, the count the county's judgement of the year before recorded (None: there
      is none, so the target stays open); a county with none left meets it.
    Unknown schools are tried both ways, so `met` is None only when they decide it."""
    out = []
    for t in (defn.get("county") or {}).get("targets", []):
        codes = target_indicators(t)
        statuses = [(name, _school_status(school.results, codes)) for name, school in county_result.schools]
        statuses = [(name, st) for name, st in statuses if st != IndicatorStatus.not_applicable]
        if not statuses:
            continue  # the indicator is not scored at this level
        met = sum(st == IndicatorStatus.met for _, st in statuses)
        unknown = sum(st == IndicatorStatus.not_assessed for _, st in statuses)
        failing = [name for name, st in statuses if st == IndicatorStatus.not_met]
        n = len(statuses)
        row = {"code": t["code"], "name": t["name"], "section": t["section"], "indicator": t["indicator"],
               "schools": n, "schools_met": met, "schools_unknown": unknown, "schools_not_met": len(failing),
               "schools_failing": failing}
        if "min_fewer_per_year" in t:
            fewer, before = t["min_fewer_per_year"], (previous or {}).get(t["code"])

            def ok(count: int) -> bool:
                return count == 0 or (before is not None and count <= before - fewer)
            verdict = True if ok(len(failing) + unknown) else False if before is not None and not ok(len(failing)) \
                else None
            row |= {"min_fewer_per_year": fewer, "previous_not_met": before, "met": verdict}
        else:
            minimum = ex.parse_decimal(t["min_share_met"])
            worst, best = Decimal(met) / n, Decimal(met + unknown) / n
            verdict = True if worst >= minimum else False if best < minimum else None
            row |= {"share_met": worst.quantize(Decimal("0.0001"), rounding=ROUND_FLOOR), "min_share_met": minimum,
                    "met": verdict}
        out.append(row)
    return out


def target_text(t: dict) -> str:
    """How a target reads among the county's reasons."""
    ind = t["indicator"] if isinstance(t["indicator"], str) else "/".join(t["indicator"])
    head = f"{t['code']} {t['name'].get('zh', '')}"
    if "min_fewer_per_year" in t:
        before = "not known (no judgement of the year before)" if t["previous_not_met"] is None \
            else str(t["previous_not_met"])
        named = f" ({', '.join(t['schools_failing'])})" if t["schools_failing"] else ""
        return (f"{head}: {t['schools_not_met']} school(s) fail {ind}{named}; the year before {before}; "
                f"target at least {t['min_fewer_per_year']} fewer each year")
    return (f"{head}: {t['schools_met']} of {t['schools']} schools meet {ind} ({t['share_met'] * 100:.2f}%), "
            f"target {t['min_share_met'] * 100:.2f}%")


def _pct(k: int, n: int) -> Decimal:
    # Cut towards failing: a printed 85.00% is never really 84.999%.
    return (Decimal(k) * 100 / Decimal(n)).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def judge(defn: dict, level: str, county_result: engine.CountyResult, report: dict | None,
          county_facts: dict | None = None, previous_targets: dict | None = None) -> dict:
    """The county verdict over the four areas with every reason, the county items and the survey.

    `report`: the county's self-report for the year (None when it has not reported); `county_facts`:
    veto flags given with the run, which override the report's; `previous_targets`: {target code: schools
    failing it in the county's judgement of the year before}. Any veto fails the county outright.
    """
    submitted = report is not None
    report = report or {}
    # A report stored before a rule tightened (e.g. "1_000" before the decimal grammar) is named, field by
    # field, as when it is written; it is never read as some other number or left to fail on None.
    # (Only the values of items this template has: facts of items a later version dropped are left out, as ever.)
    items = items_by_code(defn.get("county") or {})
    facts = report.get("facts") if isinstance(report.get("facts"), dict) else {}
    stale = validate_report(defn, {"facts": {k: v for k, v in facts.items() if k in items}}) if submitted else {}
    if stale:
        raise engine.InvalidFacts({f"report.{k}": v for k, v in stale.items()})
    has_county = isinstance(defn.get("county"), dict)
    results = judge_items(defn, level, report.get("facts") or {}) if has_county else []
    survey = judge_survey(defn, report.get("survey") or {}) if has_county else None
    targets = judge_targets(defn, county_result, previous_targets) if has_county else []
    # A run may still give social recognition as one figure (no groups); the survey by group wins.
    legacy = (county_facts or {}).get("social_recognition_percent")
    if survey is not None and legacy is not None and len(survey["groups_missing"]) == len(survey["groups"]):
        figure = engine._number(legacy)
        survey |= {"overall_percent": figure, "met": figure >= survey["min_percent"], "groups_missing": [],
                   "note": "reported as one figure, without respondent groups"}
    areas: dict[str, dict] = {}
    for area in AREAS:
        failures = list(county_result.by_area.get(area, {}).get("failures", []))
        open_ = list(county_result.by_area.get(area, {}).get("open", []))
        for t in targets:
            if t["section"] != area:
                continue
            text = target_text(t)
            if t["met"] is False:
                failures.append(text)
            elif t["met"] is None:
                open_.append(f"{text}; {t['schools_unknown']} school(s) not assessed decide it" if t["schools_unknown"]
                             else text)
        if not submitted and has_county and area in ("B", "C", "D"):
            open_.append("the county has not submitted its self-report for the year")
        for r in results:
            if str(r.section) != area or not submitted:
                continue
            label = f"{r.code} {r.name.get('zh', '')}".strip()
            if r.status == IndicatorStatus.not_met:
                failures.append(f"{label}: {engine._describe(r)}")
            elif r.status == IndicatorStatus.not_assessed:
                open_.append(f"{label}: not reported ({r.reason})")
        if area in ("B", "C", "D") and not has_county:
            open_.append(f"template {defn.get('code')!r} has no county items, so area {area} cannot be judged")
        if area == "D" and survey is not None and (submitted or survey.get("note")):
            if survey["met"] is False:
                failures.append(f"社会认可度 {survey['overall_percent']}% < {survey['min_percent']}% (social recognition)")
            elif survey["met"] is None:
                open_.append("survey not reported for: " + ", ".join(survey["groups_missing"])
                             if survey["groups_missing"] else "survey not reported")
        verdict = Verdict.failed if failures else Verdict.incomplete if open_ else Verdict.passed
        areas[area] = {"name": AREAS[area], "verdict": verdict.value, "reasons": failures + open_}
    flags = {**(report.get("vetoes") or {}), **(county_facts or {})}
    vetoed = [f"一票否决: {label}" for key, label in VETO_FLAGS.items() if flags.get(key) is True]
    if survey is not None and survey["met"] is False:
        vetoed.append(f"一票否决: 社会认可度 {survey['overall_percent']}% < {survey['min_percent']}% (social recognition)")
    not_reported = [k for k in VETO_FLAGS if k not in flags]
    ordered = [areas[a] for a in AREAS]
    if vetoed or any(a["verdict"] == "fail" for a in ordered):
        verdict = Verdict.failed
    elif not_reported or any(a["verdict"] == "incomplete" for a in ordered):
        verdict = Verdict.incomplete
    else:
        verdict = Verdict.passed
    reasons = vetoed + [f"{code} {r}" for code in AREAS for r in areas[code]["reasons"]
                        if areas[code]["verdict"] == "fail"] + \
        [f"{code} {r}" for code in AREAS for r in areas[code]["reasons"] if areas[code]["verdict"] != "fail"]
    if not_reported:
        reasons.append(f"veto items not reported: {', '.join(not_reported)}")
    return engine.to_json({"verdict": verdict.value, "reasons": reasons, "areas": areas,
                           "county_items": {r.code: r.to_dict() for r in results}, "survey": survey,
                           "targets": targets,
                           "veto": {"facts": flags, "vetoed": vetoed, "not_reported": not_reported}})
