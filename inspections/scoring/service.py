"""Scoring stored visits and counties with the engine, and reading the results back."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from inspections import clock
from inspections.db import utcnow
from inspections.errors import NotFound, ValidationFailed
from inspections.org.enums import SECTIONS, SchoolKind
from inspections.org.models import Jurisdiction, School
from inspections.scoring import engine
from inspections.scoring.expressions import show_time
from inspections.scoring import county as county_rules
from inspections.scoring.models import CountyScore, CountySelfReport, VisitScore
from inspections.templates import service as templates
from inspections.templates.models import TemplateVersion
from inspections.visits import service as visits
from inspections.visits.enums import VisitStatus
from inspections.visits.models import Visit

COMBINED = (SchoolKind.nine_year, SchoolKind.twelve_year)


def sections_of(school: School) -> list[tuple[str, str]]:
    """(response section, level) pairs a school is scored in: combined schools per section."""
    levels = SECTIONS[school.kind]
    return [(lv, lv) for lv in levels] if school.kind in COMBINED else [("", levels[0])]


def facts_for_section(visit: Visit, section: str, level: str) -> dict:
    """A section's facts; a combined school's enrolment comes from its register when not answered."""
    facts = visits.facts_for(visit, section)
    school = visit.school
    if section and "enrolment" not in facts:
        enrol = school.enrolment_primary if level == "primary" else school.enrolment_junior
        if enrol:
            facts["enrolment"] = enrol
    if school.kind in COMBINED:
        # Size limit for combined schools is on the whole compulsory stage (2500), not per section.
        facts.setdefault("combined_school", True)
        facts.setdefault("compulsory_enrolment", school.enrolment_primary + school.enrolment_junior)
    return facts


def whole_school_facts(visit: Visit, sections: list[tuple[str, str]], definition: dict) -> dict | None:
    """A combined school's facts for the per-school indicators (B3 rooms, B4 size): every section's
    classes and rooms together, so rooms are counted once against all the school's classes.

    Lists answered for the whole school (section "") are taken as they are; otherwise the sections'
    lists are joined: classes only when every section answered them, rooms from the sections that did.
    """
    from inspections.scoring.definition import PER_SCHOOL, items_by_code
    from inspections.scoring.expressions import facts_used
    if not sections or not sections[0][0]:
        return None
    items = items_by_code(definition)
    codes = {code for ind in definition.get("indicators", []) if ind.get(PER_SCHOOL) and ind.get("enabled", True)
             for code, _ in facts_used(ind.get("expr")) + facts_used(ind.get("applies_if"))}
    first_section, first_level = sections[0]
    whole = facts_for_section(visit, first_section, first_level)
    shared = visits.facts_for(visit, "")
    for code in codes:
        kind = items.get(code, {}).get("kind")
        if kind not in ("class_sizes", "room_areas"):
            continue
        if code in shared:
            whole[code] = shared[code]
            continue
        parts = [visits.facts_for(visit, section).get(code) for section, _ in sections]
        answered = [x for x in parts if isinstance(x, list)]
        if kind == "class_sizes" and len(answered) < len(parts):
            whole.pop(code, None)  # the school's class count is not known until every section gives its classes
        elif answered:
            whole[code] = [v for part in answered for v in part]
        else:
            whole.pop(code, None)
    return whole


def score_visit(session: Session, visit_id: uuid.UUID) -> list[VisitScore]:
    """Score a submitted visit with its pinned template version; re-running replaces, never duplicates."""
    visit_id = uuid.UUID(str(visit_id))  # a str id from a job or a test works on every database
    return score_visits(session, [visit_id])[visit_id]


def score_visits(session: Session, visit_ids) -> dict[uuid.UUID, list[VisitScore]]:
    """Score many submitted visits in this session, in the order given, as `score_visit` would one after
    another; the visits, their answers, schools, template versions, stored scores and the tickets their
    findings land on are read in a fixed number of set-based queries, and written in one flush.

    NotFound / ValidationFailed (nothing of the batch kept by a caller that rolls back) if any visit is
    missing or not submitted."""
    ids = list(dict.fromkeys(uuid.UUID(str(v)) for v in visit_ids))
    found = {v.id: v for v in session.scalars(
        select(Visit).where(Visit.id.in_(ids))
        .options(selectinload(Visit.responses), selectinload(Visit.school), selectinload(Visit.inspector_links),
                 selectinload(Visit.template_version)))}
    for visit_id in ids:
        visit = found.get(visit_id)
        if visit is None:
            raise NotFound(f"visit {visit_id} does not exist")
        if visit.status != VisitStatus.submitted:
            raise ValidationFailed(f"visit {visit_id} is {visit.status.value}; only submitted visits are scored")
    stored = {(r.visit_id, r.section): r for r in session.scalars(select(VisitScore)
                                                                    .where(VisitScore.visit_id.in_(ids)))}
    now = utcnow()
    out: dict[uuid.UUID, list[VisitScore]] = {}
    for visit_id in ids:
        visit = found[visit_id]
        version = visit.template_version
        rows = []
        sections = sections_of(visit.school)
        whole = whole_school_facts(visit, sections, version.definition)
        for i, (section, level) in enumerate(sections):
            facts = facts_for_section(visit, section, level)
            # How the engine reads this section: the school's type, and where per-school items are judged.
            context = {"school_type": str(visit.school.school_type or "ordinary")}
            if whole is not None:
                context |= {"whole_school": whole} if i == 0 else {"judged_in": sections[0][1]}
            errors = engine.validate_facts(version.definition, level, facts)
            if errors:
                # Answers that cannot be scored are recorded as such, not retried forever.
                result = {"level": level, "verdict": "invalid", "errors": errors}
                verdict = "invalid"
            else:
                try:
                    result = engine.score_school(version.definition, level, facts, **context).to_json_dict()
                except engine.InvalidFacts as exc:
                    result = {"level": level, "verdict": "invalid", "errors": exc.fields}
                verdict = result["verdict"]
            result["context"] = context
            row = stored.get((visit.id, section))
            if row is None:
                row = VisitScore(visit_id=visit.id, school_id=visit.school_id, section=section)
                session.add(row)
                stored[(visit.id, section)] = row
            row.level, row.template_version_id, row.template_sha256 = level, version.id, version.content_sha256
            row.visit_version, row.facts, row.verdict, row.result = visit.version, facts, verdict, result
            row.computed_at = now
            rows.append(row)
        out[visit_id] = rows
    raise_findings_many(session, [(found[v], out[v]) for v in ids])
    return out


COMPARATOR_TEXT = {"ge": "≥", "le": "≤", "lt": "<", "eq": "="}
# How a shortfall reads on a ticket: people and rooms are whole, money and area to the cent.
UNIT_TEXT = {"teachers": "名教师", "rooms": "间", "classes": "个班", "students": "名学生", "m2": "平方米",
             "yuan": "元", "percentage_points": "个百分点", "percent": "%", "m2_per_student": "平方米/生",
             "yuan_per_student": "元/生", "per_100_students": "/百名学生", "rooms_per_12_classes": "间/12个班"}
UNIT_TEXT_EN = {"teachers": "teachers", "rooms": "rooms", "classes": "classes", "students": "students", "m2": "m²",
                "yuan": "yuan", "percentage_points": "percentage points", "percent": "%",
                "m2_per_student": "m² per student", "yuan_per_student": "yuan per student",
                "per_100_students": "per 100 students", "rooms_per_12_classes": "rooms per 12 classes"}


UNIT_COUNTED = ("teachers", "rooms", "classes", "students")


def shortfall_text(amount, unit: str | None, lang: str = "zh-CN") -> str:
    """E.g. '2 名教师', '850.00 平方米', '120,000.00 元' (in English: '2 teachers', '850.00 m²')."""
    d = exact(amount)
    shown = f"{d:,.2f}" if unit in ("m2", "yuan") else (f"{d:,.0f}" if unit in UNIT_COUNTED else f"{d:,}")
    words = UNIT_TEXT_EN if lang == "en" else UNIT_TEXT
    return f"{shown} {words.get(unit or '', unit or '')}".strip()


def exact(amount):
    """A stored JSON number as the exact decimal it was written as (149.9, never 149.90000000000000568...)."""
    from decimal import Decimal
    if amount is None or isinstance(amount, Decimal):
        return amount
    return Decimal(str(amount))


def raise_findings(session: Session, visit: Visit, rows: list[VisitScore]) -> int:
    """Failed indicators and flagged answers become findings rolled into tickets (once per visit)."""
    return raise_findings_many(session, [(visit, rows)])


def raise_findings_many(session: Session, scored: list[tuple[Visit, list[VisitScore]]]) -> int:
    """`raise_findings` for many visits, in order, decided in set-based queries: which visits already have
    findings (one query), the schools' open tickets, the latest closed ticket of each failing item and
    the closures these visits already proposed (`tickets.TicketIndex`, three), then one flush."""
    from inspections.tickets import service as tickets
    from inspections.tickets.enums import FindingSource, Severity
    from inspections.tickets.models import Finding
    if not scored:
        return 0
    session.flush()  # the score rows, so a failure here names the right statement
    raised = set(session.scalars(select(Finding.visit_id).distinct()
                                 .where(Finding.visit_id.in_([v.id for v, _ in scored]))))
    # Already raised: re-scoring must not duplicate findings.
    todo = [(v, rows) for v, rows in scored if v.id not in raised]
    if not todo:
        return 0
    failing = set()
    for visit, rows in todo:
        for row in rows:
            if row.verdict != "invalid":
                failing |= {(visit.school_id, f["code"], row.section) for f in row.result.get("failed_items", [])}
        failing |= {(visit.school_id, r.item_code, r.section) for r in visit.responses if r.flagged}
    index = tickets.TicketIndex(session, [v.school_id for v, _ in todo], failing, [v.id for v, _ in todo])
    n = 0
    for visit, rows in todo:
        inspector_id = visit.inspector_ids[0] if visit.inspector_ids else None
        for row in rows:
            if row.verdict == "invalid":
                continue
            failed = {f["code"] for f in row.result.get("failed_items", [])}
            for f in row.result.get("failed_items", []):
                name = f["name"].get("zh") if isinstance(f["name"], dict) else str(f["name"])
                shown = {k: show_time(exact(f[k])) if f.get("unit") == "time_of_day" and f.get(k) is not None
                         else f[k] for k in ("value", "threshold")}
                title = (f"{name}：实测 {shown['value']}，要求 {COMPARATOR_TEXT.get(f['comparator'], '')} "
                         f"{shown['threshold']}"
                         + (f"，还差 {shortfall_text(f['shortfall'], f.get('shortfall_unit'))}"
                            if f.get("shortfall") is not None else ""))
                tickets.record_finding(session, visit=visit, item_code=f["code"], section=row.section,
                                       source=FindingSource.scoring, severity=Severity(f.get("severity") or "medium"),
                                       title=title[:300], measured=f["value"], required=f["threshold"],
                                       shortfall=exact(f.get("shortfall")),
                                       unit=f.get("shortfall_unit") or f.get("unit"),
                                       inspector_id=inspector_id, index=index,
                                       facts={"source": "scoring", "name": f["name"], "unit": f.get("unit"),
                                              "comparator": str(f.get("comparator") or "") or None})
                n += 1
            # An item now met closes nothing by itself: an inspector confirms the proposal.
            for code, ind in {**row.result.get("indicators", {}), **row.result.get("government", {}),
                              **row.result.get("quality", {})}.items():
                if ind.get("status") == "met" and code not in failed:
                    ticket = index.open_for(visit.school_id, code, row.section)
                    if ticket is not None:
                        tickets.propose_closure(session, ticket, visit=visit, index=index,
                                                note=f"visit on {visit.submitted_at:%Y-%m-%d} found this item met")
        for r in visit.responses:
            if r.flagged:
                tickets.record_finding(session, visit=visit, item_code=r.item_code, section=r.section,
                                       source=FindingSource.inspector_flag, severity=Severity.medium,
                                       title=f"督学标记：{r.item_code}" + (f"（{r.note}）" if r.note else ""),
                                       measured=r.value, note=r.note, inspector_id=r.answered_by_id or inspector_id,
                                       index=index, facts={"source": "inspector_flag", "note": r.note})
                n += 1
    session.flush()  # new tickets (and their events) before the findings that point at them
    session.add_all(index.findings)
    session.flush()
    return n


def scores_for_visit(session: Session, visit_id: uuid.UUID) -> list[VisitScore]:
    """Stored scores of a visit, by section."""
    return list(session.scalars(select(VisitScore).where(VisitScore.visit_id == visit_id).order_by(VisitScore.section)))


def latest_school_scores(session: Session, county: Jurisdiction, level: str) -> list[tuple[School, VisitScore]]:
    """Each active school's most recent scored visit at a level in a county."""
    rows = session.execute(
        select(School, VisitScore).join(VisitScore, VisitScore.school_id == School.id)
        .join(Visit, Visit.id == VisitScore.visit_id)
        .where(School.jurisdiction_id == county.id, School.active.is_(True), VisitScore.level == level,
               VisitScore.verdict != "invalid")
        .order_by(School.code, Visit.submitted_at.desc(), VisitScore.computed_at.desc())).all()
    latest: dict[uuid.UUID, tuple[School, VisitScore]] = {}
    for school, score in rows:
        latest.setdefault(school.id, (school, score))
    return list(latest.values())


def validate_county_facts(facts: dict) -> dict[str, list[str]]:
    """Field errors in veto facts given with a scoring run (flags are booleans; recognition a 0-100 percent)."""
    errors: dict[str, list[str]] = {}
    for key, value in facts.items():
        if key in county_rules.VETO_FLAGS:
            if not isinstance(value, bool):
                errors[key] = ["must be true or false"]
        elif key == "social_recognition_percent":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                errors[key] = ["must be a number from 0 to 100"]
        else:
            errors[key] = ["is not a county veto item"]
    return errors


def get_self_report(session: Session, county_id: uuid.UUID, year: int) -> CountySelfReport | None:
    """A county's self-report for a year."""
    return session.scalar(select(CountySelfReport).where(CountySelfReport.jurisdiction_id == county_id,
                                                         CountySelfReport.year == year))


def put_self_report(session: Session, county: Jurisdiction, year: int, *, facts: dict, survey: dict, vetoes: dict,
                    documents: list, reported_by_id: uuid.UUID | None) -> CountySelfReport:
    """Record (or replace) a county's self-report for a year, checked against the county's template;
    ValidationFailed with field messages (nothing written) when any part is invalid."""
    version = templates.effective_version(session, jurisdiction_path=county.path, on=clock.today())
    if version is None:
        raise ValidationFailed("no published template applies to this county")
    body = {"facts": facts, "survey": survey, "vetoes": vetoes, "documents": documents}
    errors = county_rules.validate_report(version.definition, body)
    if not errors:
        from inspections.scoring import documents as evidence
        errors = evidence.unknown_citations(session, county.id, year, documents)
    if errors:
        raise ValidationFailed("Invalid county self-report", errors)
    row = get_self_report(session, county.id, year)
    if row is None:
        row = CountySelfReport(jurisdiction_id=county.id, year=year, version=0)
        session.add(row)
    row.facts, row.survey, row.vetoes, row.documents = facts, survey, vetoes, documents
    row.reported_by_id, row.version = reported_by_id, row.version + 1
    session.flush()
    return row


def score_county(session: Session, county_id: uuid.UUID, level: str,
                 county_facts: dict | None = None, year: int | None = None, tz: str | None = None) -> CountyScore:
    """Judge a county at a level over the four areas: each school's latest visit score (A, and B3-B5),
    the county's self-report for `year` (B, C, D; default this business year) and the veto items; targets
    counted year on year compare with the county's last judgement of the year before."""
    county = session.get(Jurisdiction, county_id)
    if county is None:
        raise NotFound(f"jurisdiction {county_id} does not exist")
    version = templates.effective_version(session, jurisdiction_path=county.path, on=clock.today())
    if version is None:
        raise ValidationFailed("no published template applies to this county")
    year = year or clock.year_of(utcnow(), tz)
    pairs = latest_school_scores(session, county, level)
    schools = [{"school": f"{s.code} {s.name}", "facts": score.facts, **_context(s, score)} for s, score in pairs]
    county_result = engine.score_county(version.definition, level, schools)
    unscored = schools_without_score(session, county, level, {s.id for s, _ in pairs})
    if unscored:
        # A school of the county with no usable score is named, never silently left out of the CV.
        county_result.by_area["A"]["open"].append(
            f"no valid {level} score yet for {', '.join(unscored)}, so the county cannot be judged on every school")
    report = get_self_report(session, county.id, year)
    report_body = None if report is None else {"facts": report.facts, "survey": report.survey,
                                               "vetoes": report.vetoes}
    result = county_result.to_json_dict()
    previous = previous_target_counts(session, county.id, level, version.definition, year, tz)
    result |= county_rules.judge(version.definition, level, county_result, report_body, county_facts, previous)
    result["schools_unscored"] = unscored
    result["self_report"] = None if report is None else {"year": year, "id": str(report.id),
                                                         "version": report.version}
    result["items"] = item_summary(county_result)
    row = CountyScore(jurisdiction_id=county.id, level=level, template_version_id=version.id,
                      verdict=result["verdict"], inputs={str(s.id): str(score.id) for s, score in pairs},
                      result=result)
    session.add(row)
    session.flush()
    return row


def county_inputs_stamp(session: Session, county: Jurisdiction) -> str:
    """What a county's scoring run is computed from, as a tag for its job id: the newest visit score of its
    schools and the version of this year's self-report. A run asked for again with no new input is the
    same job (answered once); a new score or a changed self-report makes a new one."""
    newest = session.scalar(select(VisitScore.computed_at)
                            .where(VisitScore.school_id.in_(select(School.id).where(School.jurisdiction_id == county.id)))
                            .order_by(VisitScore.computed_at.desc()).limit(1))
    stamp = str(int(newest.timestamp() * 1000)) if newest else "0"
    report = get_self_report(session, county.id, clock.year_of(utcnow()))
    return stamp + (f"r{report.version}" if report is not None else "")


def previous_target_counts(session: Session, county_id: uuid.UUID, level: str, definition: dict, year: int,
                           tz: str | None = None) -> dict:
    """{target code: schools failing it} in the county's last judgement at `level` of the year before
    `year` (business zone); a target with no such judgement is absent (its verdict stays open)."""
    from inspections.scoring.definition import target_indicators
    targets = [t for t in (definition.get("county") or {}).get("targets", []) if "min_fewer_per_year" in t]
    if not targets:
        return {}
    start, end = clock.year_bounds(year - 1, tz)
    row = session.scalar(select(CountyScore).where(CountyScore.jurisdiction_id == county_id, CountyScore.level == level,
                                                   CountyScore.computed_at >= start, CountyScore.computed_at < end)
                         .order_by(CountyScore.computed_at.desc()).limit(1))
    if row is None:
        return {}
    recorded = {t.get("code"): t.get("schools_not_met") for t in row.result.get("targets") or []}
    items = row.result.get("items") or {}
    out = {}
    for t in targets:
        if recorded.get(t["code"]) is not None:
            out[t["code"]] = recorded[t["code"]]
        else:  # judged before the target existed: the per-item counts it kept (a school fails one of them)
            out[t["code"]] = sum(int((items.get(c) or {}).get("not_met", 0)) for c in target_indicators(t))
    return out


def _context(school: School, score: VisitScore) -> dict:
    """How a stored score was computed (school type, whole-school facts), for re-judging it in the county."""
    context = dict((score.result or {}).get("context") or {})
    context.setdefault("school_type", str(school.school_type or "ordinary"))
    return {k: context[k] for k in ("school_type", "whole_school", "judged_in") if k in context}


def schools_without_score(session: Session, county: Jurisdiction, level: str, scored: set[uuid.UUID]) -> list[str]:
    """Active schools of a county with a section at `level` but no valid score for it, as 'code name'."""
    rows = session.scalars(select(School).where(School.jurisdiction_id == county.id, School.active.is_(True))
                           .order_by(School.code))
    return [f"{s.code} {s.name}" for s in rows if level in SECTIONS[s.kind] and s.id not in scored]


def item_summary(county_result) -> dict:
    """Per government (B) and quality (C) item: how many schools meet it, and which do not."""
    out: dict[str, dict] = {}
    for name, school in county_result.schools:
        for r in school.results:
            if r.school_rule or str(r.section) not in ("B", "C"):
                continue
            row = out.setdefault(r.code, {"section": str(r.section), "name": r.name, "met": 0, "not_met": 0,
                                          "not_assessed": 0, "schools_not_met": []})
            key = {"met": "met", "not_met": "not_met"}.get(str(r.status), "not_assessed")
            row[key] += 1
            if key == "not_met":
                row["schools_not_met"].append(name)
    return out


def latest_county_score(session: Session, county_id: uuid.UUID, level: str) -> CountyScore | None:
    """The most recent county judgement at a level."""
    return session.scalar(select(CountyScore).where(CountyScore.jurisdiction_id == county_id,
                                                    CountyScore.level == level)
                          .order_by(CountyScore.computed_at.desc()).limit(1))


def preview(defn: dict, level: str, facts: dict, *, school_type: str = "ordinary") -> dict:
    """Score facts without storing anything (self-assessment checks); InvalidFacts (422) for bad facts."""
    return engine.score_school(defn, level, facts, school_type=school_type).to_json_dict()


def version_for_preview(session: Session, version_id: uuid.UUID | None) -> TemplateVersion:
    """The template version a preview uses: the given one, else the national standard's latest."""
    if version_id is not None:
        v = session.get(TemplateVersion, version_id)
        if v is None:
            raise ValidationFailed("Invalid template", {"template_version_id": ["does not exist"]})
        return v
    return templates.ensure_builtin(session)[0]
