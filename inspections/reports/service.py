"""The yearly supervision report (年度督导报告 / 通报) of a county or a city.

`build_content` gathers the facts of a business year (Asia/Shanghai unless told): each county's
assessment by area with its reasons (its last judgement per level in the year), the schools ranked by
shortfall (their latest scored visit up to the year's end), the tickets opened, closed, overdue and
escalated in the year, and the laggards named. The content is plain JSON (codes, numbers, names and
the judgements' stored reasons); `render` turns it into the printable PDF and the XLSX.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from inspections import clock
from inspections.db import utcnow
from inspections.errors import Says, ValidationFailed
from inspections.jobs import outbox
from inspections.org.enums import JurisdictionLevel
from inspections.org.models import Jurisdiction, School
from inspections.scoring.models import CountyScore, CountySelfReport, VisitScore, YearlyReport
from inspections.tickets.enums import TicketStatus
from inspections.tickets.models import Ticket, TicketEvent

LEVELS = ("primary", "junior")
REPORT_LEVELS = (JurisdictionLevel.county, JurisdictionLevel.city)
AREA_CODES = ("A", "B", "C", "D")
INVALID_REPORT = Says("report.invalid", "Invalid report")
COUNTY_OR_CITY = Says("report.county_or_city", "yearly reports are made for a county or a city")
YEAR_RANGE = Says("report.year_range", "must be from 2000 to 2100")
YEAR_NOT_YET = Says("report.year_not_yet", "{year} has not begun; a yearly report is made for this year or an "
                                           "earlier one")


def job_id(report_id) -> str:
    return f"yearly-report-{report_id}"


def request(session: Session, jurisdiction: Jurisdiction, year: int, *, requested_by_id: uuid.UUID | None,
            job_args: dict) -> YearlyReport:
    """Ask for a new yearly report of a county or city: a row `queued` and its job through the outbox
    (made after this transaction commits). `job_args`: where to store the files and the business zone."""
    if jurisdiction.level not in REPORT_LEVELS:
        raise ValidationFailed(INVALID_REPORT(), {"jurisdiction": [COUNTY_OR_CITY()]})
    if not 2000 <= year <= 2100:
        raise ValidationFailed(INVALID_REPORT(), {"year": [YEAR_RANGE()]})
    if year > clock.today().year:  # the business year (the business time zone's date)
        raise ValidationFailed(INVALID_REPORT(), {"year": [YEAR_NOT_YET(year=year)]})
    row = YearlyReport(id=uuid.uuid4(), jurisdiction_id=jurisdiction.id, year=year, status="queued",
                       requested_by_id=requested_by_id, requested_at=utcnow())
    session.add(row)
    session.flush()
    outbox.add(session, "yearly_report", job_id=job_id(row.id), report_id=str(row.id), **job_args)
    return row


def counties_of(session: Session, j: Jurisdiction) -> list[Jurisdiction]:
    if j.level == JurisdictionLevel.county:
        return [j]
    return list(session.scalars(select(Jurisdiction).where(Jurisdiction.parent_id == j.id,
                                                           Jurisdiction.level == JurisdictionLevel.county)
                                .order_by(Jurisdiction.code)))


def _local(at: datetime | None, tz: str | None) -> str | None:
    return None if at is None else clock.local(at, tz).strftime("%Y-%m-%d %H:%M")


def _assessment(session: Session, county: Jurisdiction, start, end, tz) -> dict:
    """The county's last judgement per level within the year: verdict, areas with reasons, targets."""
    out = {}
    for level in LEVELS:
        row = session.scalar(select(CountyScore).where(CountyScore.jurisdiction_id == county.id,
                                                       CountyScore.level == level,
                                                       CountyScore.computed_at >= start, CountyScore.computed_at < end)
                             .order_by(CountyScore.computed_at.desc()).limit(1))
        if row is None:
            out[level] = None
            continue
        res = row.result or {}
        areas = res.get("areas") or {}
        out[level] = {
            "verdict": row.verdict, "computed_at": _local(row.computed_at, tz),
            "reasons": list(res.get("reasons") or []),
            "areas": {code: {"name": (areas.get(code) or {}).get("name"), "verdict": (areas.get(code) or {}).get("verdict"),
                             "reasons": list((areas.get(code) or {}).get("reasons") or [])}
                      for code in AREA_CODES if code in areas},
            "cv": {code: {"cv": ind.get("cv"), "limit": ind.get("limit"), "met": ind.get("met"),
                          "schools_left_out": ind.get("schools_left_out") or []}
                   for code, ind in (res.get("indicators") or {}).items()},
            # The facts behind the reasons, so the report words them in the reader's language.
            "facts": {k: res.get(k) for k in ("schools", "schools_unscored", "exempt_schools", "items", "county_items",
                                              "survey", "targets", "veto", "self_report") if k in res},
        }
    return out


def _ticket_figures(tickets: list[Ticket], escalations: dict, start_day: date, as_of: date, start, end,
                    tz: str | None) -> dict:
    """Opened and closed in the year; overdue: fell due in the year (before `as_of`) while not yet closed;
    escalations: 督办 events in the year."""
    opened = sum(1 for t in tickets if start <= t.opened_at < end)
    closed = sum(1 for t in tickets if t.status == TicketStatus.closed and t.closed_at and start <= t.closed_at < end)
    overdue = 0
    for t in tickets:
        if t.due_date is None or t.status == TicketStatus.cancelled or not start_day <= t.due_date < as_of:
            continue
        done_on = clock.local(t.closed_at, tz).date() if t.status == TicketStatus.closed and t.closed_at \
            else None
        if done_on is None or done_on > t.due_date:
            overdue += 1
    still_open = sum(1 for t in tickets if t.opened_at < end and t.status not in (TicketStatus.closed,
                                                                                     TicketStatus.cancelled))
    return {"opened": opened, "closed": closed, "overdue": overdue,
            "escalations": sum(escalations.get(t.id, 0) for t in tickets), "open_now": still_open}


def _shortfalls(score: VisitScore) -> list[dict]:
    out = []
    for f in (score.result or {}).get("failed_items", []):
        name = f.get("name")
        out.append({"code": f.get("code"), "name": name.get("zh") if isinstance(name, dict) else name,
                    "value": f.get("value"), "threshold": f.get("threshold"), "comparator": f.get("comparator"),
                    "shortfall": f.get("shortfall"), "unit": f.get("shortfall_unit") or f.get("unit"),
                    "value_unit": f.get("unit"),
                    "section": f.get("section"), "school_rule": f.get("section") == "A"})  # A: R1-R7
    return out


def build_content(session: Session, jurisdiction: Jurisdiction, year: int, *, tz: str | None = None,
                  now: datetime | None = None) -> dict:
    """Everything the yearly report says, as JSON (see the module's docstring)."""
    now = now or utcnow()
    start, end = clock.year_bounds(year, tz)
    start_day, end_day = date(year, 1, 1), date(year + 1, 1, 1)
    as_of = min(end_day, clock.local(now, tz).date())
    counties = counties_of(session, jurisdiction)
    county_ids = [c.id for c in counties]
    schools = list(session.scalars(select(School).where(School.jurisdiction_id.in_(county_ids), School.active.is_(True))
                                   .order_by(School.code))) if county_ids else []
    school_ids = [s.id for s in schools]
    tickets = list(session.scalars(select(Ticket).where(Ticket.school_id.in_(school_ids), Ticket.opened_at < end))) \
        if school_ids else []
    escalations: dict = {}
    if tickets:
        for tid, in session.execute(select(TicketEvent.ticket_id).where(
                TicketEvent.ticket_id.in_([t.id for t in tickets]), TicketEvent.at >= start, TicketEvent.at < end,
                TicketEvent.data["escalation"].as_string().isnot(None))):
            escalations[tid] = escalations.get(tid, 0) + 1
    by_school: dict = {}
    for t in tickets:
        by_school.setdefault(t.school_id, []).append(t)
    # Each school's latest scored sections up to the year's end.
    latest: dict = {}
    if school_ids:
        for score in session.scalars(select(VisitScore).where(VisitScore.school_id.in_(school_ids),
                                                              VisitScore.computed_at < end,
                                                              VisitScore.verdict != "invalid")
                                     .order_by(VisitScore.computed_at.desc())):
            latest.setdefault((score.school_id, score.level), score)
    county_by_id = {c.id: c for c in counties}
    ranked = []
    for s in schools:
        scores = [latest[(s.id, lv)] for lv in LEVELS if (s.id, lv) in latest]
        failed = [dict(f, level=sc.level) for sc in scores for f in _shortfalls(sc)]
        figures = _ticket_figures(by_school.get(s.id, []), escalations, start_day, as_of, start, end, tz)
        ranked.append({"code": s.code, "name": s.name, "county": county_by_id[s.jurisdiction_id].name,
                       "kind": str(s.kind), "school_type": str(s.school_type),
                       "verdicts": {sc.level: sc.verdict for sc in scores},
                       "scored_at": _local(max((sc.computed_at for sc in scores), default=None), tz),
                       "failed_count": len(failed), "failed_r": sum(1 for f in failed if f["school_rule"]),
                       "failed": failed, "tickets": figures})
    ranked.sort(key=lambda r: (-r["failed_count"], -r["failed_r"], -r["tickets"]["overdue"],
                               -r["tickets"]["open_now"], r["code"]))
    for i, r in enumerate(ranked, 1):
        r["rank"] = i
    county_rows = []
    for c in counties:
        mine = [t for s in schools if s.jurisdiction_id == c.id for t in by_school.get(s.id, [])]
        reported = session.scalar(select(CountySelfReport.id).where(CountySelfReport.jurisdiction_id == c.id,
                                                                    CountySelfReport.year == year)) is not None
        county_rows.append({"code": c.code, "name": c.name, "schools": sum(1 for s in schools if s.jurisdiction_id == c.id),
                            "self_report": reported, "assessment": _assessment(session, c, start, end, tz),
                            "tickets": _ticket_figures(mine, escalations, start_day, as_of, start, end, tz)})
    laggards = []
    if jurisdiction.level == JurisdictionLevel.city:
        for c in county_rows:
            why = []
            for level in LEVELS:
                a = c["assessment"][level]
                if a is None:
                    continue
                if a["verdict"] != "pass":
                    failing = [code for code, area in a["areas"].items() if area["verdict"] == "fail"]
                    why.append({"level": level, "verdict": a["verdict"], "areas": failing})
            if not any(c["assessment"].values()):
                why.append({"level": None, "verdict": "not_judged", "areas": []})
            if c["tickets"]["escalations"]:
                why.append({"escalations": c["tickets"]["escalations"]})
            if why:
                laggards.append({"kind": "county", "code": c["code"], "name": c["name"], "why": why})
    for r in ranked:
        why = []
        if r["failed"]:  # below the standard on any item (the school rule, or one every school must meet)
            why.append({"verdict": "fail" if any(v == "fail" for v in r["verdicts"].values()) else "items",
                        "items": list(dict.fromkeys(f["code"] for f in r["failed"]))})  # a section each: once
        if r["tickets"]["escalations"]:
            why.append({"escalations": r["tickets"]["escalations"]})
        if r["tickets"]["overdue"]:
            why.append({"overdue": r["tickets"]["overdue"]})
        if why:
            laggards.append({"kind": "school", "code": r["code"], "name": r["name"], "county": r["county"],
                             "why": why})
    return {
        "jurisdiction": {"id": str(jurisdiction.id), "code": jurisdiction.code, "name": jurisdiction.name,
                         "level": str(jurisdiction.level)},
        "year": year, "zone": clock.zone(tz).key, "generated_at": _local(now, tz),
        "as_of": min(clock.local(now, tz).date(), end_day - timedelta(days=1)).isoformat(),
        "counties": county_rows, "schools": ranked,
        "tickets": _ticket_figures(tickets, escalations, start_day, as_of, start, end, tz),
        "laggards": laggards,
    }


def visible(session: Session, report_id: uuid.UUID, criterion) -> YearlyReport | None:
    """A report whose jurisdiction passes `criterion` (the caller's scope), else None."""
    return session.scalar(select(YearlyReport).join(Jurisdiction, Jurisdiction.id == YearlyReport.jurisdiction_id)
                          .where(YearlyReport.id == report_id, criterion))


def list_for(session: Session, jurisdiction_id: uuid.UUID, year: int | None = None, limit: int = 20) -> list[YearlyReport]:
    q = select(YearlyReport).where(YearlyReport.jurisdiction_id == jurisdiction_id)
    if year is not None:
        q = q.where(YearlyReport.year == year)
    return list(session.scalars(q.order_by(YearlyReport.requested_at.desc()).limit(limit)))


def latest_ready(session: Session, jurisdiction_id: uuid.UUID) -> YearlyReport | None:
    return session.scalar(select(YearlyReport).where(YearlyReport.jurisdiction_id == jurisdiction_id,
                                                     YearlyReport.status == "ready")
                          .order_by(YearlyReport.year.desc(), YearlyReport.requested_at.desc()).limit(1))
