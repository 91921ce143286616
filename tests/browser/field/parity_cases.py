"""Generated schools scored by the server's engine, written as JSON for the field app's evaluator to match."""
from __future__ import annotations

import json
import random
from decimal import Decimal

from inspections.scoring import engine
from inspections.scoring.definition import check_definition
from inspections.scoring.national import NATIONAL_2017

# A second definition using every op the national one does not (sum, count, ratio, const, all/any/not), and what
# it has no use for: a time-of-day item, the strict 'lt' comparator and items a template lets be answered n/a.
EXTRA = {
    "code": "parity-extra", "name": {"zh": "测试", "en": "test"},
    "items": [
        {"code": "enrolment", "kind": "integer", "unit": "students", "section": "A", "levels": ["primary", "junior"],
         "help": {"zh": "学生数", "en": "students"}},
        {"code": "a", "kind": "number", "unit": "yuan", "section": "A", "levels": ["primary", "junior"], "help": {"zh": "a", "en": "a"}},
        {"code": "b", "kind": "number", "unit": "yuan", "section": "A", "levels": ["primary", "junior"], "help": {"zh": "b", "en": "b"}},
        {"code": "rooms", "kind": "room_areas", "unit": "m2", "section": "B", "levels": ["primary", "junior"], "help": {"zh": "r", "en": "r"}},
        {"code": "classes", "kind": "class_sizes", "unit": "students", "section": "B", "levels": ["primary", "junior"], "help": {"zh": "c", "en": "c"}},
        {"code": "p", "kind": "boolean", "unit": "", "section": "C", "levels": ["primary", "junior"], "help": {"zh": "p", "en": "p"}},
        {"code": "q", "kind": "boolean", "unit": "", "section": "C", "levels": ["primary", "junior"], "help": {"zh": "q", "en": "q"}},
        {"code": "grade", "kind": "rating", "unit": "", "section": "C", "levels": ["primary", "junior"], "help": {"zh": "g", "en": "g"},
         "choices": ["A", "B", "C"]},
        {"code": "ends_at", "kind": "time_of_day", "unit": "", "section": "C", "levels": ["primary", "junior"],
         "help": {"zh": "课后服务结束时间", "en": "after-school service ends at"}, "na_allowed": True},
        {"code": "d", "kind": "number", "unit": "yuan", "section": "C", "levels": ["primary", "junior"],
         "help": {"zh": "d", "en": "d"}, "na_allowed": True},
        {"code": "r", "kind": "number", "unit": "", "section": "C", "levels": ["primary", "junior"],
         "help": {"zh": "差异率", "en": "difference rate"}},
    ],
    "indicators": [
        {"code": "X1", "name": {"zh": "x1", "en": "x1"}, "section": "A", "levels": ["primary", "junior"], "school_rule": True,
         "expr": {"op": "ratio", "num": {"op": "fact", "fact": "a"}, "den": {"op": "fact", "fact": "b"}}, "comparator": "ge",
         "threshold": {"primary": "0.5", "junior": "0.75"}, "unit": "", "shortfall": {"unit": "yuan", "round": "cent"}, "severity": "high"},
        {"code": "X2", "name": {"zh": "x2", "en": "x2"}, "section": "A", "levels": ["primary", "junior"], "school_rule": True,
         "expr": {"op": "sum", "args": [{"op": "fact", "fact": "a"}, {"op": "fact", "fact": "b", "default": "0"}, {"op": "const", "value": "1.5"}]},
         "comparator": "le", "threshold": "1000", "unit": "yuan", "shortfall": {"unit": "yuan", "round": "cent"}, "severity": "high"},
        {"code": "X3", "name": {"zh": "x3", "en": "x3"}, "section": "B", "levels": ["primary", "junior"], "school_rule": True,
         "expr": {"op": "count", "fact": "rooms"}, "comparator": "ge", "threshold": "3", "unit": "rooms",
         "shortfall": {"unit": "rooms", "round": "whole"}, "severity": "high"},
        {"code": "X4", "name": {"zh": "x4", "en": "x4"}, "section": "B", "levels": ["primary", "junior"],
         "expr": {"op": "per_student", "fact": "a"}, "comparator": "ge", "threshold": "0.333", "unit": "",
         "shortfall": {"unit": "yuan", "round": "cent"}, "severity": "high",
         "applies_if": {"op": "any", "args": [{"op": "fact", "fact": "p"}, {"op": "not", "arg": {"op": "fact", "fact": "q", "default": True}}]}},
        {"code": "X5", "name": {"zh": "x5", "en": "x5"}, "section": "C", "levels": ["primary", "junior"],
         "expr": {"op": "all", "args": [{"op": "fact", "fact": "p"}, {"op": "rating_at_least", "fact": "grade", "value": "B"}]},
         "comparator": "eq", "threshold": True, "unit": "", "shortfall": None, "severity": "medium"},
        {"code": "X6", "name": {"zh": "x6", "en": "x6"}, "section": "B", "levels": ["primary", "junior"],
         "expr": {"op": "max_of", "fact": "classes"}, "comparator": "le", "threshold": {"primary": "45", "junior": "50"},
         "unit": "students", "shortfall": {"unit": "classes", "round": "whole"}, "severity": "high"},
        {"code": "X7", "name": {"zh": "x7", "en": "x7"}, "section": "B", "levels": ["primary", "junior"],
         "expr": {"op": "rooms_per_12_classes", "fact": "rooms", "classes": "classes"}, "comparator": "ge", "threshold": "1",
         "unit": "", "shortfall": {"unit": "rooms", "round": "whole"}, "severity": "high"},
        {"code": "X8", "name": {"zh": "x8", "en": "x8"}, "section": "C", "levels": ["primary", "junior"],
         "expr": {"op": "fact", "fact": "ends_at"}, "comparator": "ge", "threshold": "17:30", "unit": "time_of_day",
         "shortfall": {"unit": "minutes", "round": "whole"}, "severity": "medium"},
        {"code": "X9", "name": {"zh": "x9", "en": "x9"}, "section": "C", "levels": ["primary", "junior"],
         "expr": {"op": "fact", "fact": "ends_at"}, "comparator": "le", "threshold": {"primary": "18:00", "junior": "18:30"},
         "unit": "time_of_day", "shortfall": None, "severity": "medium"},
        {"code": "X10", "name": {"zh": "x10", "en": "x10"}, "section": "C", "levels": ["primary", "junior"],
         "expr": {"op": "fact", "fact": "r"}, "comparator": "lt", "threshold": "0.15", "unit": "",
         "shortfall": None, "severity": "high"},
        {"code": "X11", "name": {"zh": "x11", "en": "x11"}, "section": "C", "levels": ["primary", "junior"],
         "expr": {"op": "ratio", "num": {"op": "fact", "fact": "d"}, "den": {"op": "fact", "fact": "b"}}, "comparator": "lt",
         "threshold": "0.5", "unit": "", "shortfall": None, "severity": "high"},
        {"code": "X12", "name": {"zh": "x12", "en": "x12"}, "section": "B", "levels": ["primary", "junior"],
         "expr": {"op": "min_of", "fact": "classes"}, "comparator": "lt", "threshold": "22", "unit": "students",
         "shortfall": None, "severity": "high"},
    ],
    "rules": {"school": {"max_not_met": 2, "min_ratio_not_met": "0.7"},
              "county": {"cv_limit": {"primary": "0.5", "junior": "0.45"}, "require_all_schools_pass": False}},
}


def _num(rng: random.Random, lo: float, hi: float, whole: bool):
    """A number as a device might send it: an int, a float with decimals, or a decimal string."""
    if whole:
        return rng.randint(int(lo), int(hi))
    x = round(rng.uniform(lo, hi), rng.choice([0, 1, 2, 3]))
    return rng.choice([x, str(x), int(x)])


RANGES = {"enrolment": (30, 3200), "teachers_above_required_qualification": (0, 160), "key_teachers_county_level_or_above": (0, 40),
          "pe_art_teachers": (0, 30), "teaching_aux_area_m2": (0, 20000), "sports_area_m2": (0, 30000),
          "equipment_value_yuan": (0, 9000000), "multimedia_classrooms": (0, 80), "compulsory_enrolment": (100, 4000),
          "training_budget_yuan": (0, 200000), "public_funds_budget_yuan": (0, 2000000), "a": (0, 900), "b": (0, 900),
          "d": (0, 900)}


def _time(rng: random.Random):
    """A time of day as typed: mostly "HH:MM" around the 17:30-18:00 window, at times malformed."""
    if rng.random() < 0.04:
        return rng.choice(["7:30", "24:00", "17:60", 1730, "17.30", " 17:30"])
    minutes = rng.choice([rng.randint(16 * 60, 19 * 60), 17 * 60 + 30, 18 * 60, rng.randint(0, 24 * 60 - 1)])
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _value(rng: random.Random, item: dict):
    kind, code = item["kind"], item["code"]
    if code == "r":  # a difference rate, at times exactly at the strict limit 0.15
        return rng.choice(["0.15", 0.15, "0.1499", "0.2", 0, "0.150", "0.14999999"])
    if kind in ("integer", "number"):
        lo, hi = RANGES.get(code, (0, 1000))
        return _num(rng, lo, hi, kind == "integer")
    if kind == "time_of_day":
        return _time(rng)
    if kind == "boolean":
        return rng.random() < 0.7
    if kind == "rating":
        return rng.choice(item["choices"])
    if kind == "class_sizes":
        return [rng.randint(20, 60) for _ in range(rng.randint(1, 40))]
    if kind == "room_areas":
        return [round(rng.uniform(60, 130), rng.choice([0, 1, 2])) for _ in range(rng.randint(0, 4))]
    return "文本"


def _facts(rng: random.Random, defn: dict) -> dict:
    facts = {}
    for item in defn["items"]:
        r = rng.random()
        if r < 0.06 and item["code"] != "enrolment":
            continue
        # n/a where the template allows it; rarely where it does not (both sides must refuse it the same way)
        if r < (0.3 if item.get("na_allowed") else 0.075) and item["code"] != "enrolment":
            facts[item["code"]] = "n/a"
            continue
        facts[item["code"]] = _value(rng, item)
    if rng.random() < 0.03:  # an invalid answer: both sides must refuse it the same way
        facts[rng.choice(["enrolment", "pe_art_teachers", "a"])] = rng.choice([-3, 0, "x"])
    return facts


def _out(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _out(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_out(v) for v in value]
    return value


SCHOOL_TYPES = ["ordinary"] * 6 + ["teaching_point"] * 3 + ["special_education"]


def _context(rng: random.Random, defn: dict, level: str, facts: dict) -> dict:
    """How the engine is told to read a school: its register type (a teaching point often under 50 pupils),
    and for some national ones a combined school's section: whole-school facts, or judged in the other section."""
    context = {"school_type": rng.choice(SCHOOL_TYPES)}
    if context["school_type"] == "teaching_point" and rng.random() < 0.7:
        facts["enrolment"] = rng.choice([rng.randint(1, 49), 49, 50, "38", "38.0"])
    if defn is NATIONAL_2017 and rng.random() < 0.4:
        if rng.random() < 0.5:
            whole = {k: v for k, v in facts.items() if k in ("class_sizes", "music_rooms_m2", "art_rooms_m2", "enrolment")}
            for code in ("class_sizes", "music_rooms_m2", "art_rooms_m2"):
                if rng.random() < 0.8:
                    whole[code] = _value(rng, next(i for i in defn["items"] if i["code"] == code))
            whole |= {"combined_school": True, "compulsory_enrolment": rng.randint(800, 3200)}
            facts |= {"combined_school": True, "compulsory_enrolment": whole["compulsory_enrolment"]}
            context["whole_school"] = whole
        else:
            context["judged_in"] = "primary"
    return context


def cases(n: int, seed: int = 14) -> list[dict]:
    """n generated schools with the engine's verdicts (Decimals as exact strings)."""
    rng = random.Random(seed)
    check_definition(EXTRA)
    out = []
    for i in range(n):
        defn = NATIONAL_2017 if i % 3 else EXTRA
        level = rng.choice(["primary", "junior"])
        facts = _facts(rng, defn)
        context = _context(rng, defn, level, facts)
        case = {"template": defn["code"], "level": level, "facts": facts, "context": context}
        errors = engine.validate_facts(defn, level, facts)
        if "whole_school" in context:
            errors |= {f"whole_school.{k}": v for k, v in engine.validate_facts(defn, level, context["whole_school"]).items()}
        if errors:
            case["errors"] = sorted(errors)
        else:
            r = engine.score_school(defn, level, facts, **context)
            case["verdict"], case["reasons"] = r.verdict.value, r.reasons
            case["results"] = [_out({k: getattr(x, k) for k in (
                "code", "status", "value", "met", "ratio", "shortfall", "shortfall_unit", "reason", "detail",
                "exact_value", "exact_ratio")}) for x in r.results]
        out.append(case)
    return out


# Decimals written as text at the edges of the one grammar (inspections/numbers.py; field/src/scoring.ts
# DECIMAL_TEXT): ASCII digits, an optional leading minus, an optional fraction after a dot. Python's Decimal()
# reads most of the others ("1_000" as 1000, "１２" as 12); both engines must take or refuse each alike.
GRAMMAR = ["12", "-0", "0012", "12.50", "0.0001", "-3", "1_000", "1_2.5", " 12", "12 ", "\t12", "12\n", "1e3", "1E3",
           "1e-3", "+12", ".5", "5.", "NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "１２", "١٢", "१२", "12.5.1",
           "", "-", "--1", "0x10", "12,5", "1 000", "​12"]
BASE = {"enrolment": 300, "a": 100, "b": 200, "rooms": [70, 80.5, 90], "classes": [30, 40], "p": True, "q": False,
        "grade": "A", "ends_at": "17:45", "d": "10", "r": "0.1"}


def _broken(code: str, indicator: str, threshold) -> dict:
    """EXTRA with one indicator's threshold replaced as a stored version may hold it (written before the API
    refused thresholds outside the grammar)."""
    import copy
    d = copy.deepcopy(EXTRA)
    d["code"] = code
    next(i for i in d["indicators"] if i["code"] == indicator)["threshold"] = threshold
    return d


# Thresholds outside the grammar (and two in it): X2 ("le", one value for every level) and X1 at primary only.
BROKEN = {f"parity-threshold-{i}": _broken(f"parity-threshold-{i}", "X2", t) for i, t in enumerate(GRAMMAR)} | {
    "parity-threshold-primary": _broken("parity-threshold-primary", "X1", {"primary": "0_5", "junior": "0.75"})}


def _literal(code: str, const, default) -> dict:
    """EXTRA with X2's constant (1.5) and its default for b (0) as given."""
    d = _broken(code, "X2", "1000")
    next(i for i in d["indicators"] if i["code"] == "X2")["expr"] = {"op": "sum", "args": [
        {"op": "fact", "fact": "a"}, {"op": "fact", "fact": "b", "default": default}, {"op": "const", "value": const}]}
    return d


# A constant and a number fact's default outside the grammar (and, last, both in it).
BROKEN |= {f"parity-literal-{i}": _literal(f"parity-literal-{i}", c, d)
           for i, (c, d) in enumerate([("1_5", "0"), ("1.5", " 0"), ("1e0", "0"), ("1.5", "+0"), ("1.5", "0")])}


def grammar_cases() -> list[dict]:
    """Each text of GRAMMAR as a number answer, an integer answer (enrolment) and an element of a list of class
    sizes and of room areas, and as a stored threshold; scored by the engine as `cases` are."""
    out = []
    for text in GRAMMAR:
        for facts in ({**BASE, "a": text}, {**BASE, "enrolment": text}, {**BASE, "classes": [30, text]},
                      {**BASE, "rooms": [text]}):
            out.append(_scored(EXTRA, "primary", facts, {}))
    for code, defn in BROKEN.items():
        for level in ("primary", "junior"):
            out.append(_scored(defn, level, dict(BASE), {}))
    return out


def _scored(defn: dict, level: str, facts: dict, context: dict) -> dict:
    case = {"template": defn["code"], "level": level, "facts": facts, "context": context}
    errors = engine.validate_facts(defn, level, facts)
    if errors:
        case["errors"] = sorted(errors)
        return case
    try:
        r = engine.score_school(defn, level, facts, **context)
    except engine.InvalidFacts as e:  # the template's own numbers unreadable (engine.template_problems)
        case["errors"] = sorted(e.fields)
        return case
    case["verdict"], case["reasons"] = r.verdict.value, r.reasons
    case["results"] = [_out({k: getattr(x, k) for k in (
        "code", "status", "value", "met", "ratio", "shortfall", "shortfall_unit", "reason", "detail",
        "exact_value", "exact_ratio")}) for x in r.results]
    return case


def visit_cases(n: int, seed: int = 15) -> list[dict]:
    """Visits' answers (whole-school and per-section) at schools of every kind and type, scored as
    scoring.service.score_visit does: each section's facts (facts_for_section), the register's school type,
    and a combined school's rooms and size judged once on its whole-school facts (whole_school_facts)."""
    from types import SimpleNamespace

    from inspections.scoring.service import facts_for_section, sections_of, whole_school_facts
    rng = random.Random(seed)
    out = []
    lists = ("class_sizes", "music_rooms_m2", "art_rooms_m2")
    for _ in range(n):
        kind = rng.choice(["primary", "junior", "nine_year", "twelve_year"])
        school_type = rng.choice(SCHOOL_TYPES)
        small = school_type == "teaching_point" and rng.random() < 0.6
        school = SimpleNamespace(kind=kind, school_type=school_type,
                                 enrolment_primary=rng.choice([0, rng.randint(20, 60) if small else rng.randint(100, 1500)]),
                                 enrolment_junior=rng.choice([0, rng.randint(20, 60) if small else rng.randint(100, 1500)]))
        combined = kind in ("nine_year", "twelve_year")
        answers = []
        for item in NATIONAL_2017["items"]:
            # A combined school's classes and rooms are mostly answered per section (joined for B3).
            wheres = (["primary", "junior"] if item["code"] in lists and rng.random() < 0.7 else ["", "primary", "junior"]) \
                if combined else [""]
            for section in wheres:
                if rng.random() < (0.7 if section else 0.6):
                    value = "n/a" if rng.random() < 0.02 and item["code"] != "enrolment" else _value(rng, item)
                    if item["code"] == "enrolment" and small:
                        value = rng.randint(5, 60)
                    answers.append({"item_code": item["code"], "section": section, "value": value})
        visit = _visit(SimpleNamespace(school=school, responses=[SimpleNamespace(**a) for a in answers]), kind)
        sections_ = sections_of(visit.school)
        whole = whole_school_facts(visit, sections_, NATIONAL_2017)
        sections = []
        for i, (section, level) in enumerate(sections_):
            facts = facts_for_section(visit, section, level)
            context = {"school_type": school_type}
            if whole is not None:
                context |= {"whole_school": whole} if i == 0 else {"judged_in": sections_[0][1]}
            entry = {"section": section, "level": level, "facts": facts, "context": context}
            errors = engine.validate_facts(NATIONAL_2017, level, facts)
            if "whole_school" in context:
                errors |= {f"whole_school.{k}": v
                           for k, v in engine.validate_facts(NATIONAL_2017, level, context["whole_school"]).items()}
            if errors:
                entry["errors"] = sorted(errors)
            else:
                r = engine.score_school(NATIONAL_2017, level, facts, **context)
                entry["verdict"] = r.verdict.value
                entry["reasons"] = r.reasons
                entry["statuses"] = [x.status.value for x in r.results]
                entry["shortfalls"] = [_out(x.shortfall) for x in r.results]
                entry["reasons_by_indicator"] = [x.reason for x in r.results]
            sections.append(entry)
        out.append({"school": {"kind": kind, "school_type": school_type, "enrolment_primary": school.enrolment_primary,
                               "enrolment_junior": school.enrolment_junior}, "answers": answers, "sections": sections})
    return out


def _school(kind: str, school):
    from types import SimpleNamespace

    from inspections.org.enums import SchoolKind
    return SimpleNamespace(kind=SchoolKind(kind), school_type=getattr(school, "school_type", "ordinary"),
                           enrolment_primary=school.enrolment_primary, enrolment_junior=school.enrolment_junior)


def _visit(visit, kind: str):
    from types import SimpleNamespace
    return SimpleNamespace(school=_school(kind, visit.school), responses=visit.responses)


def write(path, n: int = 300) -> None:
    """The cases and the definitions they use, as one JSON file."""
    data = {"definitions": {NATIONAL_2017["code"]: NATIONAL_2017, EXTRA["code"]: EXTRA, **BROKEN},
            "cases": cases(n) + grammar_cases(), "visits": visit_cases(n // 3)}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)


def wire_cases() -> list[dict]:
    """Answer values at and around what the wire takes, each with whether the server refuses it (the push's
    AnswerValue field and the text rule every wire format shares): the app's wireProblem must agree."""
    from marshmallow import ValidationError

    from schemas.text import has_bad_text
    from schemas.visits import AnswerValue

    values: list = [None, True, 0, 3.5, -1, "", "n/a", "17:30", [], [45] * 500, [45] * 501, [80.5] * 501, [1, 2.5]]
    for n in (1999, 2000, 2001, 4000):
        values += ["a" * n, "学" * n, "😀" * n, ("a" * (n - 1)) + "😀"]
    values += ["a\x00b", "\x00", "note\x00" * 3, "\ud800", "a\udc00b", "😀\ud83d", "ok 😀", "学" * 1999 + "\x00"]
    field = AnswerValue(allow_none=True)
    out = []
    for v in values:
        try:
            field.deserialize(v)
            refused = has_bad_text(v)
        except ValidationError:
            refused = True
        out.append({"value": v, "refused": refused})
    return out


def write_wire(path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"cases": wire_cases()}, f)  # ASCII escapes: an unpaired surrogate survives as one
