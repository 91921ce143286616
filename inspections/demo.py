"""A realistic demo county: ~30 primary and junior schools, staff and school accounts, visits.

Figures are drawn from a fixed seed so every demo is identical. Most schools sit near the national
standard; a handful (rural, or crowded town schools) are clearly short of it, so scoring and
rectification have something to show.
"""
from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Callable

from sqlalchemy.orm import Session

from inspections import clock
from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import principal_for
from inspections.db import utcnow
from inspections.org import service as org
from inspections.org.enums import JurisdictionLevel, Locale, SchoolKind
from inspections.templates import service as templates
from inspections.visits import service as visits
from inspections.visits.enums import VisitStatus

PASSWORD = "demo-pass-2017"
DEMO_LOGINS: list[tuple[str, str, str, str]] = [
    ("admin", PASSWORD, "admin", "everything"),
    ("office", PASSWORD, "office", "明德县教育督导室 (the demo county's office)"),
    ("city-office", PASSWORD, "office", "示范市 (the city above it)"),
    ("inspector1", PASSWORD, "inspector", "county-wide inspector"),
    ("inspector2", PASSWORD, "inspector", "responsibility inspector for 8 schools"),
    ("school-mdx-p01", PASSWORD, "school", "明德县城关第一小学 (no tickets)"),
    ("school-mdx-p04", PASSWORD, "school", "明德县南湖第二小学 (open tickets to answer)"),
    ("school-mdx-j01", PASSWORD, "school", "明德县第一中学"),
]

# What the county reports for the veto items (一票否决): none triggered, 88% satisfied.
DEMO_COUNTY_FACTS = {"admission_by_exam": False, "illegal_school_choice": False, "key_schools_or_classes": False,
                     "social_recognition_percent": 88}

# 明德县's self-report for the year (areas B, C, D): all met except teacher rotation (8.6% < 10%).
DEMO_SELF_REPORT = {
    "facts": {"b1_layout_planned": True, "b2_same_construction_standard": True, "b2_same_staffing_standard": True,
              "b2_same_funding_baseline": True, "b2_same_equipment_standard": True,
              "b6_small_schools_funded_as_100": True, "b7_special_ed_funds_per_student_yuan": 6800,
              "b8_teacher_avg_pay_yuan": 86400, "b8_civil_servant_avg_pay_yuan": 85900,
              "b9_training_360h_percent": 100, "b10_staffing_within_quota": True, "b11_rotation_percent": "8.6",
              "b11_key_teachers_of_rotated_percent": "23.5", "b12_certified_percent": 100,
              "b13_nearby_admission_primary_percent": 100, "b13_nearby_admission_junior_percent": "96.4",
              "b14_model_hs_quota_percent": 55, "b15_left_behind_cared": True,
              "b15_migrant_in_public_percent": "91.3", "c1_junior_retention_percent": "97.8",
              "c2_disabled_enrolment_percent": "96.5", "c9_subjects_at_level_iii": True, "c9_difference_rate": "0.11"},
    "survey": {"students": {"respondents": 1200, "satisfied": 1081}, "parents": {"respondents": 1500, "satisfied": 1290},
               "teachers": {"respondents": 600, "satisfied": 531}, "principals": {"respondents": 30, "satisfied": 28},
               "deputies": {"respondents": 45, "satisfied": 39}},
    "vetoes": {"admission_by_exam": False, "illegal_school_choice": False, "key_schools_or_classes": False},
    "documents": [{"item": "B8", "title": "明德县教师与公务员工资收入对比表", "reference": "县教育局人事股档案 B8-2026"},
                  {"item": "B11.1", "title": "教师交流轮岗名单", "reference": "县教育局人事股档案 B11-2026"},
                  {"item": "D", "title": "社会认可度调查报告", "reference": "县督导室 D-2026"}],
}

TOWNS = ["城关", "东关", "西城", "南湖", "北山", "青石", "柳河", "白马", "红旗", "新安", "桃源", "龙泉", "石门",
         "清水", "杨柳", "黄庄"]
# County seat coordinates; schools are scattered within ~25 km.
CENTRE = (Decimal("28.200000"), Decimal("112.900000"))


def _school_specs(rng: random.Random) -> list[dict]:
    specs = []
    for i in range(1, 19):
        town = TOWNS[(i - 1) % len(TOWNS)]
        locale = Locale.urban if i <= 5 else Locale.town if i <= 11 else Locale.rural
        specs.append({"code": f"MDX-P{i:02d}", "name": f"明德县{town}第{'一二三'[i % 3]}小学" if i > 1 else "明德县城关第一小学",
                      "kind": SchoolKind.primary, "locale": locale,
                      "enrolment_primary": {Locale.urban: rng.randint(1200, 2100), Locale.town: rng.randint(500, 1100),
                                            Locale.rural: rng.randint(120, 420)}[locale]})
    for i in range(1, 10):
        town = TOWNS[(i + 3) % len(TOWNS)]
        locale = Locale.urban if i <= 3 else Locale.town if i <= 7 else Locale.rural
        specs.append({"code": f"MDX-J{i:02d}", "name": "明德县第一中学" if i == 1 else f"明德县{town}中学",
                      "kind": SchoolKind.junior, "locale": locale,
                      "enrolment_junior": {Locale.urban: rng.randint(1400, 2300), Locale.town: rng.randint(600, 1200),
                                           Locale.rural: rng.randint(200, 500)}[locale]})
    for i in range(1, 4):
        specs.append({"code": f"MDX-N{i:02d}", "name": f"明德县{TOWNS[i + 9]}九年一贯制学校", "kind": SchoolKind.nine_year,
                      "locale": Locale.town if i == 1 else Locale.rural,
                      "enrolment_primary": rng.randint(300, 700), "enrolment_junior": rng.randint(150, 400)})
    for s in specs:
        s["latitude"] = CENTRE[0] + Decimal(rng.randint(-2000, 2000)) / Decimal(10000)
        s["longitude"] = CENTRE[1] + Decimal(rng.randint(-2500, 2500)) / Decimal(10000)
        s["address"] = f"明德县{TOWNS[rng.randrange(len(TOWNS))]}路{rng.randint(1, 300)}号"
    return specs


# Per-100-student or per-student targets a "good" school reaches: (primary, junior).
GOOD = {"teachers_above_required_qualification": (5.0, 6.2), "key_teachers_county_level_or_above": (1.3, 1.3),
        "pe_art_teachers": (1.1, 1.1), "teaching_aux_area_m2": (5.2, 6.6), "sports_area_m2": (8.8, 11.5),
        "equipment_value_yuan": (2400, 3000), "multimedia_classrooms": (2.7, 2.8)}
PER_100 = {"teachers_above_required_qualification", "key_teachers_county_level_or_above", "pe_art_teachers",
           "multimedia_classrooms"}


def school_facts(rng: random.Random, level: str, enrolment: int, weak: bool) -> dict:
    """Plausible raw facts for one school section; `weak` schools fall well short on several."""
    lv = 0 if level == "primary" else 1
    facts: dict = {"enrolment": enrolment}
    weak_codes = set(rng.sample(sorted(GOOD), 3)) if weak else set()
    for code, targets in GOOD.items():
        factor = rng.uniform(0.55, 0.8) if code in weak_codes else rng.uniform(0.93, 1.3)
        per = targets[lv] * factor
        if code in PER_100:
            facts[code] = max(0, round(per * enrolment / 100))
        elif code == "equipment_value_yuan":
            facts[code] = round(per * enrolment, -2)
        else:
            facts[code] = round(per * enrolment, 1)
    cap = 45 if level == "primary" else 50
    classes = max(1, round(enrolment / (cap - 5)))
    sizes = [min(enrolment, rng.randint(cap - 12, cap - 1)) for _ in range(classes)]
    if weak:
        sizes[0] = cap + rng.randint(3, 10)  # one oversized class
    facts["class_sizes"] = sizes
    rooms = max(1, -(-classes // 12))
    facts["music_rooms_m2"] = [round(rng.uniform(96, 120), 1) for _ in range(rooms if not weak else max(1, rooms - 1))]
    facts["art_rooms_m2"] = [round(rng.uniform(90, 110), 1) if not weak else 80.0 for _ in range(rooms)]
    budget = round(enrolment * rng.uniform(900, 1300), -2)
    facts["public_funds_budget_yuan"] = budget
    facts["training_budget_yuan"] = round(budget * (0.06 if not weak else 0.03), -2)
    facts["has_charter"] = True
    facts["it_in_management_and_teaching"] = not weak or rng.random() > 0.5
    facts["full_curriculum"] = True
    facts["teachers_use_ict_well"] = True
    facts["equipment_well_used"] = not weak  # weak schools' special rooms stand idle
    facts["no_excessive_homework"] = rng.random() > 0.15
    facts["moral_education_rating"] = rng.choice(["excellent", "good", "good"] if not weak else ["good", "fair"])
    return facts


def _teaching_point(session: Session, county, *, admin, inspector, codes, version) -> None:
    """A village teaching point of 38 pupils: in the register as one, so R1-R7 and the CV leave it out."""
    from inspections.org.enums import SchoolType
    rng = random.Random(38)  # its own stream: the other schools' demo data stays as it was
    s = org.create_school(session, county=county, code="MDX-T01", name="明德县黄庄村教学点", kind=SchoolKind.primary,
                          locale=Locale.rural, enrolment_primary=38, school_type=SchoolType.teaching_point,
                          latitude=CENTRE[0] - Decimal("0.1500"), longitude=CENTRE[1] + Decimal("0.2100"),
                          address="明德县黄庄村")
    facts = school_facts(rng, "primary", 38, weak=False) | {"class_sizes": [12, 13, 13], "pe_art_teachers": 0}
    v = visits.create(session, school=s, created_by=admin, inspector_ids=[inspector.id],
                      planned_for=clock.today() - timedelta(days=3), template_version_id=version.id)
    visits.put_responses(session, v, answers=[{"item_code": k, "section": "", "value": val}
                                              for k, val in facts.items() if k in codes],
                         actor=principal_for(session, inspector), via="demo")
    visits.transition(session, v, VisitStatus.submitted)


def _advance_tickets(session: Session, rng: random.Random, *, office_user, progress) -> None:
    """Move the demo's tickets through every state so the dashboard shows a living county."""
    from datetime import datetime, timezone

    from inspections.tickets import service as tickets
    from inspections.tickets.enums import TicketStatus as T
    from inspections.tickets.models import Ticket
    from sqlalchemy import select

    rows = list(session.scalars(select(Ticket).order_by(Ticket.opened_at, Ticket.item_code)))
    plan = [{"milestone": "制定整改方案并报县督导室备案", "due": (clock.today() + timedelta(days=20)).isoformat()},
            {"milestone": "完成整改并提交佐证材料", "due": (clock.today() + timedelta(days=50)).isoformat()}]
    account = "已按整改方案完成整改，相关合同、验收单和现场照片已归档，请督学核查。"
    # Target states in rotation; the first tickets stay open.
    path = {T.acknowledged: [T.acknowledged], T.in_progress: [T.acknowledged, T.in_progress],
            T.awaiting_verification: [T.acknowledged, T.in_progress, T.awaiting_verification],
            T.closed: [T.acknowledged, T.in_progress, T.awaiting_verification, T.closed],
            T.cancelled: [T.cancelled]}
    targets = [None, T.acknowledged, T.in_progress, T.awaiting_verification, T.closed, T.closed, T.cancelled, None]
    counts: dict[str, int] = {}
    for i, ticket in enumerate(rows):
        target = targets[i % len(targets)]
        school_user = session.scalar(select(User).where(User.school_id == ticket.school_id))
        inspector = session.get(User, ticket.inspector_id) if ticket.inspector_id else None
        for step in path.get(target, []):
            who = school_user if step in (T.acknowledged, T.in_progress, T.awaiting_verification) else \
                inspector if step == T.closed else office_user
            tickets.transition(session, ticket, to=step, actor=principal_for(session, who),
                               note=account if step != T.cancelled else "学校已撤并，本项不再整改",
                               plan=plan if step == T.in_progress else None)
        # Spread opening dates over the last eleven months so aging and the 12-month trend have a
        # shape, and date each step of the history between opening and closing (or yesterday).
        now = datetime.now(timezone.utc)
        # Closed and cancelled ones reach further back; still-open ones are mostly recent, some overdue.
        done = ticket.status in (T.closed, T.cancelled)
        days_ago = rng.randint(20, 330) if done else int(5 + 115 * rng.random() ** 1.5)
        ticket.opened_at = now - timedelta(days=days_ago, hours=rng.randint(0, 8))
        ticket.due_date = tickets.due_date_for(ticket.severity, ticket.opened_at)
        if ticket.status == T.closed:
            ticket.closed_at = ticket.opened_at + timedelta(days=rng.randint(10, min(days_ago, 80)),
                                                            hours=rng.randint(0, 20))
        events = sorted(ticket.events, key=lambda e: (e.at, e.from_status is not None))
        end = ticket.closed_at or max(ticket.opened_at, now - timedelta(days=1))
        for k, ev in enumerate(events):
            ev.at = ticket.opened_at + (end - ticket.opened_at) * k / max(1, len(events) - 1)
        counts[ticket.status.value] = counts.get(ticket.status.value, 0) + 1
    escalated = tickets.escalate_overdue(session)
    progress("tickets: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f"; {escalated} escalated")


def _plan_visits(session: Session, schools, *, office_user, insp1, insp2, progress) -> None:
    """Visit planning: monthly schedules by the responsibility inspector (begun weeks ago, so some visits
    are already late or missed), a quarterly county-wide one, and a one-off visit still to assign."""
    from inspections.planning import service as planning
    from inspections.planning.enums import PlanState, Recurrence
    from inspections.visits.models import Visit
    from sqlalchemy import func, select

    today = clock.today()
    for i, s in enumerate(schools[5:13]):
        sched = planning.create_schedule(session, school=s, created_by=office_user, recurrence=Recurrence.monthly,
                                         start_date=today - timedelta(days=68 - 4 * i), inspector_ids=[insp2.id],
                                         notes="责任督学每月例行督导")
        sched.created_at = utcnow() - timedelta(days=45)
    for s in [x for x in schools if x.code in ("MDX-J02", "MDX-J03")]:
        planning.create_schedule(session, school=s, created_by=office_user, recurrence=Recurrence.quarterly,
                                 start_date=today + timedelta(days=12), inspector_ids=[insp1.id],
                                 notes="季度专项督导：课后服务与作业管理")
    planning.create_schedule(session, school=schools[0], created_by=office_user, recurrence=Recurrence.once,
                             start_date=today + timedelta(days=9), notes="开学工作专项检查（待指派督学）")
    out = planning.generate(session, today=today)
    states = {st.value: session.scalar(select(func.count()).select_from(Visit)
                                       .where(planning.state_criterion(st, today))) for st in PlanState}
    progress(f"visit planning: 11 schedules, {out['created']} planned visits; "
             + ", ".join(f"{n} {st}" for st, n in states.items()))


def load(session: Session, progress: Callable[[str], None] = lambda _m: None) -> list[tuple[str, str, str, str]]:
    """Create the demo county and return the logins to print."""
    rng = random.Random(2017)
    version = templates.ensure_builtin(session)[0]
    progress("building the jurisdiction tree")
    province = org.create_jurisdiction(session, code="DEMO", name="示范省", level=JurisdictionLevel.province, parent=None)
    city = org.create_jurisdiction(session, code="DEMO-C1", name="示范市", level=JurisdictionLevel.city, parent=province)
    county = org.create_jurisdiction(session, code="DEMO-C1-MDX", name="明德县", level=JurisdictionLevel.county,
                                     parent=city)
    other = org.create_jurisdiction(session, code="DEMO-C1-QHX", name="清河县", level=JurisdictionLevel.county,
                                    parent=city)
    specs = _school_specs(rng)
    schools = []
    for spec in specs:
        schools.append(org.create_school(session, county=county, **spec))
    org.create_school(session, county=other, code="QHX-P01", name="清河县实验小学", kind=SchoolKind.primary,
                      locale=Locale.urban, enrolment_primary=1500)
    progress(f"{len(schools)} schools in 明德县, 1 in 清河县")

    mk = lambda **kw: accounts.create_user(session, password=PASSWORD, **kw)  # noqa: E731
    admin = mk(username="admin", role=Role.admin, display_name="系统管理员")
    mk(username="office", role=Role.office, display_name="明德县教育督导室", jurisdiction_id=county.id)
    mk(username="city-office", role=Role.office, display_name="示范市教育督导室", jurisdiction_id=city.id)
    insp1 = mk(username="inspector1", role=Role.inspector, display_name="王督学", jurisdiction_id=county.id)
    insp2 = mk(username="inspector2", role=Role.inspector, display_name="李督学",
               assigned_school_ids=[s.id for s in schools[5:13]])
    for s in schools:
        mk(username=f"school-{s.code.lower()}", role=Role.school, display_name=s.name, school_id=s.id)
    progress(f"{5 + len(schools)} accounts")

    # One submitted visit per school with its facts, plus some planned ones.
    weak_codes = {"MDX-P04", "MDX-P13", "MDX-P16", "MDX-J05", "MDX-J08", "MDX-N03"}
    codes = templates.item_codes(version)
    today = clock.today()
    for i, s in enumerate(schools):
        inspector = insp2 if s.id in {x.id for x in schools[5:13]} else insp1
        v = visits.create(session, school=s, created_by=admin, inspector_ids=[inspector.id],
                          planned_for=today - timedelta(days=40 - i), template_version_id=version.id)
        sections = [("", s.kind.value)] if s.kind in (SchoolKind.primary, SchoolKind.junior) else \
            [("primary", "primary"), ("junior", "junior")]
        answers = []
        for section, level in sections:
            enrol = s.enrolment_primary if level == "primary" else s.enrolment_junior
            facts = school_facts(rng, level, enrol, s.code in weak_codes)
            answers += [{"item_code": k, "section": section, "value": val} for k, val in facts.items() if k in codes]
        visits.put_responses(session, v, answers=answers, actor=principal_for(session, inspector), via="demo")
        visits.transition(session, v, VisitStatus.submitted)
        if i % 4 == 0:
            visits.create(session, school=s, created_by=admin, inspector_ids=[inspector.id],
                          planned_for=today + timedelta(days=7 + i), template_version_id=version.id)
    progress(f"{len(schools)} submitted visits with answers")
    _teaching_point(session, county, admin=admin, inspector=insp1, codes=codes, version=version)
    session.flush()
    # Score in-process (the CLI has no worker to wait for); the same service the RQ job calls.
    from inspections.scoring import service as scoring
    from inspections.visits.models import Visit
    from sqlalchemy import select
    submitted = session.scalars(select(Visit.id).where(Visit.status == VisitStatus.submitted)).all()
    verdicts: dict[str, int] = {}
    for vid in submitted:
        for row in scoring.score_visit(session, vid):
            verdicts[row.verdict] = verdicts.get(row.verdict, 0) + 1
    progress("visit scores (one per school section: a nine-year school is scored as primary and junior): "
             + ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())))
    _advance_tickets(session, rng, office_user=session.scalar(select(User).where(User.username == "office")),
                     progress=progress)
    office = session.scalar(select(User).where(User.username == "office"))
    year = clock.year_of(utcnow())
    scoring.put_self_report(session, county, year, reported_by_id=office.id, **DEMO_SELF_REPORT)
    for level in ("primary", "junior"):
        row = scoring.score_county(session, county.id, level, DEMO_COUNTY_FACTS)
        progress(f"明德县 {level}: {row.verdict} ({row.result['schools_passing']}/{row.result['schools_total']} "
                 f"schools pass)")
    _plan_visits(session, schools, office_user=session.scalar(select(User).where(User.username == "office")),
                 insp1=insp1, insp2=insp2, progress=progress)
    session.flush()
    return DEMO_LOGINS


