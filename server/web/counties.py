"""The county 差异系数 reports page: each county's latest judgement per level, why it is what it is (in the
reader's words, made from the facts the judgement stores), when it was computed, and a form to score the
county again (the API's scoring run: the same job, the same idempotent id)."""
from __future__ import annotations

import uuid
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from inspections.accounts.enums import Role
from inspections.accounts.scope import jurisdiction_filter
from inspections.org.enums import JurisdictionLevel
from inspections.org.models import Jurisdiction, School
from inspections.scoring import service as scoring
from inspections.scoring.models import VisitScore
from server.extensions import session
from server.jobs import enqueue_county
from server.web import _principal, bp
from server.web.dashboard import VIEWERS, _counties
from server.web.i18n import _, _l, label, ngettext
from server.web.words import SYMBOL, amount_text, indicator_names, name_of, value_text

LEVELS = ("primary", "junior")
VERDICT = {"pass": _l("Pass"), "fail": _l("Fail"), "incomplete": _l("Not yet decided"), "exempt": _l("Exempt")}
SCHOOL_VERDICT = {**VERDICT, "invalid": _l("Cannot be scored")}
AREA = {"A": _l("Resource allocation"), "B": _l("Government guarantee"), "C": _l("Education quality"),
        "D": _l("Social recognition")}
VETO = {"admission_by_exam": _l("Admission by examination"), "illegal_school_choice": _l("Illegal school choice"),
        "key_schools_or_classes": _l("Key schools or key classes")}
SURVEY_GROUP = {"students": _l("Students"), "parents": _l("Parents"), "teachers": _l("Teachers"),
                "principals": _l("Principals"), "deputies": _l("Deputies and committee members")}


def _word(table: dict, code) -> str:
    return str(table[code]) if code in table else str(code or "")


def _pct(value) -> str:
    return f"{Decimal(str(value)):.2f}"


def _result_text(r: dict) -> str:
    """"measured 52, required ≤ 45, over by 7 students" from an indicator's stored result."""
    unit, comparator = r.get("unit"), r.get("comparator")
    required = value_text(r.get("threshold"), unit)
    required = f"{SYMBOL[comparator]} {required}" if comparator in SYMBOL else required
    measured = value_text(r.get("value"), unit)
    if r.get("shortfall") not in (None, 0) and r.get("shortfall_unit"):
        amount = amount_text(r["shortfall"], r["shortfall_unit"])
        if comparator in ("le", "lt"):
            return _("Measured %(measured)s, required %(required)s, over by %(amount)s", measured=measured,
                     required=required, amount=amount)
        return _("Measured %(measured)s, required %(required)s, short by %(amount)s", measured=measured,
                 required=required, amount=amount)
    return _("Measured %(measured)s, required %(required)s", measured=measured, required=required)


def _score_ids(row) -> list[uuid.UUID]:
    """The ids of the visit scores a county judgement was computed from (its `inputs`' values)."""
    ids = []
    for v in (row.inputs or {}).values():
        try:
            ids.append(uuid.UUID(str(v)))
        except ValueError:
            continue
    return ids


def _school_failures(row) -> dict[str, list[str]]:
    """School ("code name") -> its school-rule indicators not met, in words, from the visit scores the
    judgement was computed from."""
    ids = _score_ids(row)
    out: dict[str, list[str]] = {}
    if not ids:
        return out
    pairs = session().execute(select(School, VisitScore).join(VisitScore, VisitScore.school_id == School.id)
                              .where(VisitScore.id.in_(ids))).all()
    for school, score in pairs:
        indicators = (score.result or {}).get("indicators") or {}
        out[f"{school.code} {school.name}"] = [
            f"{code} {name_of(r.get('name'), code)} ({_result_text(r)})" for code, r in indicators.items()
            if r.get("status") == "not_met"]
    return out


def explain(row, unexplained=None) -> dict:
    """Why a stored county judgement is what it is: {"vetoes": [...], "areas": [(code, name, verdict,
    [reasons])], "notes": [...]}, every line in the page's language, made from the stored facts (the
    stored reason strings are in the engine's words and are not shown)."""
    res = row.result or {}
    veto = res.get("veto") or {}
    survey = res.get("survey") or None
    vetoes = [_("Veto: %(item)s", item=_word(VETO, key)) for key in VETO if (veto.get("facts") or {}).get(key) is True]
    if survey and survey.get("met") is False:
        vetoes.append(_("Veto: social recognition %(percent)s%% is below the %(minimum)s%% required",
                        percent=_pct(survey["overall_percent"]), minimum=_pct(survey["min_percent"])))
    notes = []
    if veto.get("not_reported"):
        notes.append(_("Veto items not yet reported: %(items)s",
                       items=", ".join(_word(VETO, k) for k in veto["not_reported"])))
    reasons: dict[str, list[str]] = {a: [] for a in AREA}
    # A: the school rule, each school's failing indicators; the CV of each indicator against its limit.
    failing = _school_failures(row)
    for s in res.get("schools") or []:
        if s.get("verdict") == "fail":
            items = failing.get(s.get("school"), [])
            reasons["A"].append(_("%(school)s fails the school rule: %(items)s", school=s.get("school"),
                                  items="; ".join(items) or "–"))
        elif s.get("verdict") == "incomplete":
            reasons["A"].append(_("%(school)s cannot be judged yet: some answers are missing", school=s.get("school")))
    names = indicator_names()
    for code, ind in (res.get("indicators") or {}).items():
        if ind.get("met") is False:
            reasons["A"].append(_("%(indicator)s: the difference coefficient %(cv)s is above the limit %(limit)s",
                                  indicator=f"{code} {names.get(code, '')}".strip(), cv=ind.get("cv"),
                                  limit=ind.get("limit")))
    if res.get("schools_unscored"):
        reasons["A"].append(_("No valid score yet for: %(schools)s", schools=", ".join(res["schools_unscored"])))
    # B and C: items every school must meet, with the schools that do not; the county's own items; targets.
    for code, item in (res.get("items") or {}).items():
        area = item.get("section")
        if area not in reasons:
            continue
        text = f"{code} {name_of(item.get('name'), code)}"
        if item.get("schools_not_met"):
            reasons[area].append(_("%(item)s is not met by: %(schools)s", item=text,
                                   schools=", ".join(item["schools_not_met"])))
        if item.get("not_assessed"):
            reasons[area].append(ngettext("%(item)s could not be assessed at %(num)s school",
                                          "%(item)s could not be assessed at %(num)s schools",
                                          int(item["not_assessed"]), item=text))
    reported = res.get("self_report") is not None
    for code, r in (res.get("county_items") or {}).items():
        area = r.get("section")
        if area not in reasons or not reported:
            continue
        text = f"{code} {name_of(r.get('name'), code)}"
        if r.get("status") == "not_met":
            reasons[area].append(f"{text}: {_result_text(r)}")
        elif r.get("status") == "not_assessed":
            reasons[area].append(_("%(item)s: not reported", item=text))
    for t in res.get("targets") or []:
        if t.get("met") is True or t.get("section") not in reasons:
            continue
        text = f"{t.get('code')} {name_of(t.get('name'), t.get('code'))}"
        if "min_fewer_per_year" in t:
            before = t.get("previous_not_met")
            reasons[t["section"]].append(_(
                "%(target)s: %(failing)s schools fail it (the year before: %(before)s); at least %(fewer)s fewer "
                "each year is required", target=text, failing=t.get("schools_not_met"),
                before="–" if before is None else before, fewer=t.get("min_fewer_per_year")))
        else:
            reasons[t["section"]].append(_(
                "%(target)s: %(met)s of %(total)s schools meet it (%(share)s%%), at least %(minimum)s%% is required",
                target=text, met=t.get("schools_met"), total=t.get("schools"),
                share=_pct(Decimal(str(t.get("share_met") or 0)) * 100),
                minimum=_pct(Decimal(str(t.get("min_share_met") or 0)) * 100)))
    if survey:
        if survey.get("met") is False:
            reasons["D"].append(_("Satisfaction %(percent)s%%, at least %(minimum)s%% is required",
                                  percent=_pct(survey["overall_percent"]), minimum=_pct(survey["min_percent"])))
        elif reported and survey.get("groups_missing"):
            reasons["D"].append(_("Survey not reported for: %(groups)s",
                                  groups=", ".join(_word(SURVEY_GROUP, g) for g in survey["groups_missing"])))
    if not reported and survey is not None:  # the template judges the county's own items (B, C, D)
        for area in ("B", "C", "D"):
            reasons[area].append(_("The county has not submitted its self-report for the year."))
    stored = res.get("areas") or {}
    for code in AREA:
        if (stored.get(code) or {}).get("verdict") in ("fail", "incomplete") and not reasons[code]:
            # A reason of a kind this page does not know yet: never a verdict without a word on it.
            reasons[code].append(str(unexplained) if unexplained else _("The reasons are listed in the CSV report."))
    areas = [(code, str(AREA[code]), (stored.get(code) or {}).get("verdict"), reasons[code]) for code in AREA
             if code in stored or reasons[code]]
    return {"vetoes": vetoes, "areas": areas, "notes": notes}


def _cell(value):
    """A figure as a spreadsheet reads it: numbers as numbers (stored JSON numbers or numeric text), yes/no in
    words, nothing as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, (int, float, Decimal)):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return str(value)


def report_rows(county, row) -> list[list]:
    """A county's stored judgement as the CSV report's rows, in the page's language: the verdict and when it was
    computed (business time, to the minute), each school's verdict and figures under the indicators' names, the
    county's mean, deviation and difference coefficient of each against its limit, then why (the words of
    `explain`). No internal ids."""
    from server.web.i18n import local_time
    result = row.result or {}
    indicators = result.get("indicators") or {}
    codes = list(indicators)
    names = indicator_names()
    rows: list[list] = [
        [_("County"), county.name, _("Level"), label("level", row.level), _("Verdict"), _word(VERDICT, row.verdict),
         _("Computed at"), local_time(row.computed_at)],
        [_("School code"), _("School"), _("Verdict"), _("Indicators met"),
         *[f"{c} {names.get(c, '')}".strip() for c in codes]],
    ]
    ids = _score_ids(row)
    pairs = session().execute(select(School, VisitScore).join(VisitScore, VisitScore.school_id == School.id)
                              .where(VisitScore.id.in_(ids)).order_by(School.code)).all() if ids else []
    for school, score in pairs:
        ind = (score.result or {}).get("indicators") or {}
        rows.append([school.code, school.name, _word(SCHOOL_VERDICT, getattr(score.verdict, "value", score.verdict)),
                     _cell((score.result or {}).get("met_count")),
                     *[_cell((ind.get(c) or {}).get("value")) for c in codes]])
    for key, word in (("mean", _("Mean")), ("sd", _("Standard deviation")), ("cv", _("Difference coefficient")),
                      ("limit", _("Limit")), ("met", _("Limit met"))):
        rows.append([word, "", "", "", *[_cell(indicators[c].get(key)) for c in codes]])
    rows.append([])
    why = explain(row, unexplained=_("Not itemised here; the JSON report lists these reasons."))
    for line in why["vetoes"]:
        rows.append([_("Veto"), line])
    for code, area, verdict, reasons in why["areas"]:
        for reason in reasons or [""]:
            rows.append([f"{code} {area}", _word(VERDICT, verdict) if verdict else "", reason])
    for note in why["notes"]:
        rows.append([_("Note"), note])
    return rows


@bp.get("/dashboard/counties")
def county_reports():
    """Each county's latest 差异系数 judgement per level: the verdict and why, the CV of each indicator
    against its limit, when it was computed, and a form to compute it again."""
    p = _principal(*VIEWERS)
    reports = []
    for county in _counties(p):
        for level in LEVELS:
            row = scoring.latest_county_score(session(), county.id, level)
            reports.append({"county": county, "level": level, "score": row,
                            "why": explain(row) if row else None, "job": _job_state(county.id, level),
                            "indicators": (row.result.get("indicators", {}) if row else {})})
    return render_template("county_reports.html", reports=reports, verdicts=VERDICT, word=_word,
                           indicator_names=indicator_names())


def _job_state(county_id, level: str) -> str | None:
    """"running" while a scoring run of the county at this level waits or runs, "failed" when the last one
    failed; None otherwise (the outbox's job records, ids "score-county-<county>-<level>-...")."""
    from inspections.jobs.models import JobRecord
    rec = session().scalar(select(JobRecord).where(JobRecord.kind == "score_county",
                                                   JobRecord.id.startswith(f"score-county-{county_id}-{level}-"))
                           .order_by(JobRecord.enqueued_at.desc()).limit(1))
    if rec is None or rec.status == "finished":
        return None
    return "failed" if rec.status == "failed" else "running"


@bp.post("/dashboard/counties/<county_id>/scoring")
def rescore_county(county_id):
    """Score a county in my scope again at a level (the API's scoring run); 404 for a county I cannot see."""
    p = _principal(*VIEWERS)
    try:
        cid = uuid.UUID(county_id)
    except ValueError:
        abort(404)
    db = session()
    county = db.scalar(select(Jurisdiction).where(Jurisdiction.id == cid, jurisdiction_filter(p),
                                                  Jurisdiction.level == JurisdictionLevel.county))
    if county is None:
        abort(404)
    level = request.form.get("level", "")
    if level not in LEVELS:
        abort(400, "level must be primary or junior")
    enqueue_county(county.id, level, scoring.county_inputs_stamp(db, county))
    flash(_("%(county)s (%(level)s) is being scored again; reload this page in a moment to see the new judgement.",
            county=county.name, level=label("level", level)))
    return redirect(url_for("web.county_reports", _anchor=f"county-{county.code}-{level}"), 303)
