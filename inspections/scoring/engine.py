"""Scoring: raw visit facts -> indicator results, the school verdict, and the county's spread (CV).

Arithmetic is Decimal throughout. Indicators are judged on exact values; the figures reported are
rounded to 4 places *toward failing* (down for >= indicators and for ratios, up for <= indicators
and CVs), so a printed figure never appears to meet a threshold the exact one misses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any, Iterable

from inspections.errors import ValidationFailed
from inspections.org.enums import TEACHING_POINT_MIN, SchoolType
from inspections.scoring import expressions as ex
from inspections.scoring.definition import (EVERY_SCHOOL, NA_ALLOWED, PER_SCHOOL, indicators_for, items_by_code,
                                             threshold_for)
from inspections.scoring.enums import Comparator, IndicatorStatus, ItemKind, Level, Section, Verdict

# 50 digits: exact for any realistic count x 100 / enrolment, and ample for the CV's square root.
CONTEXT = Context(prec=50)
Q4 = Decimal("0.0001")
STEP = {"whole": Decimal(1), "cent": Decimal("0.01")}
SECTION_KEYS = {Section.A: "indicators", Section.B: "government", Section.C: "quality", Section.D: "recognition"}


class InvalidFacts(ValidationFailed):
    """Facts that cannot be scored; `fields` maps a fact code to messages."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("Invalid facts", fields)


# --- facts -----------------------------------------------------------------------------------

def validate_facts(defn: dict, level: str, facts: Any) -> dict[str, list[str]]:
    """Field-level problems with a school's facts; missing facts are not problems."""
    if not isinstance(facts, dict):
        return {"facts": ["must be an object of fact code -> value"]}
    items = items_by_code(defn)
    errors: dict[str, list[str]] = {}
    for code, value in facts.items():
        item = items.get(code)
        if item is None:
            msg = f"unknown fact: not an item of template {defn.get('code')!r}"
        elif not item.get("enabled", True):
            msg = "this item is switched off in this template"
        elif level not in item.get("levels", ()):
            msg = f"this item is not asked for {level} schools"
        else:
            msg = answer_problem(item, value, defn.get("code"))
        if msg:
            errors.setdefault(code, []).append(msg)
    return errors


# The keys of an item the rules of a written answer read (`answer_problem`, and the levels it is asked at:
# `visits.key_errors`): what a cache of a checklist keeps of each item (templates.checklist).
ANSWER_KEYS = ("code", "kind", "choices", NA_ALLOWED, "levels")


def answer_problem(item: dict, value: Any, template: str | None = None) -> str | None:
    """What is wrong with `value` as an answer to `item` (a message), or None when scoring takes it.

    The one rule for a value: an answer is written under it (visits.answer, the sync bulk path) and
    scored under it (validate_facts), so what is accepted is exactly what scores as valid. None is
    unanswered (always fine); "n/a" only where the template lets the item not apply (never enrolment);
    otherwise the item's kind decides (_kind_problem). Reads only the item's ANSWER_KEYS."""
    if value is None:
        return None
    if _beyond(value):
        return f"is beyond any real value (at most {MAX_MAGNITUDE:,} in size)"
    if item.get("code") == ex.ENROLMENT:
        n = _number(value)
        return None if n is not None and n == n.to_integral_value() and n > 0 else \
            "must be a positive whole number of students (never 0 or n/a)"
    if value == ex.NA:
        if item.get(NA_ALLOWED) is True:
            return None
        return ("\"n/a\" is not allowed: template "
                f"{template!r} does not let this item not apply, so every assessed school answers it")
    return _kind_problem(item, value)


# No school fact comes near this (a county's budget in yuan is ~1e10); far larger values would only
# overflow the fixed-precision arithmetic (50 digits) and say nothing.
MAX_MAGNITUDE = 10**13


def _beyond(value: Any) -> bool:
    """A number (or a list of them) that is not finite or larger than MAX_MAGNITUDE."""
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            continue
        n = _number(v)
        if n is not None and (not n.is_finite() or abs(n) > MAX_MAGNITUDE):
            return True
    return False


def _number(value: Any) -> Decimal | None:
    # JSON clients send ints, floats or decimal strings. A float is a JSON number, not text: it goes
    # through str() to keep what was typed (0.1, never 0.1000000000000000055...), exponent and all
    # (1e-05); text must be in the one decimal grammar (ex.parse_decimal).
    if isinstance(value, float):
        d = Decimal(str(value))
        return d if d.is_finite() else None
    return ex.parse_decimal(value)


def _kind_problem(item: dict, value: Any) -> str | None:
    kind = item.get("kind")
    if kind in (ItemKind.integer, ItemKind.number):
        n = _number(value)
        if kind == ItemKind.integer and (n is None or n < 0 or n != n.to_integral_value()):
            return "must be a whole number >= 0"
        if n is None or n < 0:
            return "must be a number >= 0"
    elif kind == ItemKind.boolean and not isinstance(value, bool):
        return "must be true or false"
    elif kind == ItemKind.rating and value not in item.get("choices", ()):
        return f"must be one of {', '.join(item.get('choices', ()))}"
    elif kind == ItemKind.text and not isinstance(value, str):
        return "must be text"
    elif kind == ItemKind.class_sizes:
        sizes = [_number(v) for v in value] if isinstance(value, list) else None
        if not sizes or any(n is None or n < 1 or n != n.to_integral_value() for n in sizes):
            return "must be a non-empty list of class sizes, whole numbers >= 1"
    elif kind == ItemKind.time_of_day:
        if ex.parse_time(value) is None:
            return "must be a time of day \"HH:MM\" (24-hour), e.g. \"17:30\""
    elif kind == ItemKind.room_areas:
        areas = [_number(v) for v in value] if isinstance(value, list) else None
        if areas is None or any(n is None or n <= 0 for n in areas):
            return "must be a list of room areas > 0, one per room; [] when there are none"
    return None


def _normalise(facts: dict, items: dict[str, dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, value in facts.items():
        kind = items[code]["kind"]
        if value is None:
            continue
        if value == ex.NA:
            out[code] = value
        elif kind in (ItemKind.integer, ItemKind.number):
            out[code] = _number(value)
        elif kind in (ItemKind.class_sizes, ItemKind.room_areas):
            out[code] = [_number(v) for v in value]
        elif kind == ItemKind.time_of_day:
            out[code] = ex.parse_time(value)
        else:
            out[code] = value
    return out


# --- one indicator ---------------------------------------------------------------------------

@dataclass
class IndicatorResult:
    """One indicator judged at one school: value, threshold, status and the shortfall to fix."""

    code: str
    section: str
    name: dict
    status: IndicatorStatus
    comparator: str
    threshold: Decimal | bool | None
    unit: str
    severity: str
    weight: Decimal
    school_rule: bool
    value: Decimal | bool | None = None
    met: bool | None = None
    ratio: Decimal | None = None
    shortfall: Decimal | None = None
    shortfall_unit: str | None = None
    reason: str | None = None
    detail: dict | None = None
    # Unrounded figures the verdicts and the county CV are computed from.
    exact_value: Decimal | bool | None = field(default=None, repr=False)
    exact_ratio: Decimal | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """The result with Decimal values (see to_json_dict for JSON numbers)."""
        return {"code": self.code, "section": self.section, "name": self.name, "value": self.value,
                "threshold": self.threshold, "comparator": self.comparator, "met": self.met, "ratio": self.ratio,
                "shortfall": self.shortfall, "unit": self.unit, "shortfall_unit": self.shortfall_unit,
                "status": self.status, "reason": self.reason, "severity": self.severity, "weight": self.weight,
                "school_rule": self.school_rule, "detail": self.detail}

    def ticket_dict(self) -> dict:
        """What a rectification ticket needs from a failed indicator."""
        return {k: v for k, v in self.to_dict().items()
                if k in ("code", "section", "name", "value", "threshold", "comparator", "shortfall", "unit",
                         "shortfall_unit", "severity", "detail")}


def _score_indicator(ind: dict, level: str, facts: dict, items: dict) -> IndicatorResult:
    threshold = threshold_for(ind, level)
    comparator = Comparator(ind["comparator"])
    spec = ind.get("shortfall") or {}
    r = IndicatorResult(code=ind["code"], section=ind["section"], name=ind["name"],
                        status=IndicatorStatus.not_assessed, comparator=comparator, threshold=threshold,
                        unit=ind.get("unit", ""), severity=ind["severity"],
                        weight=ex.parse_decimal(ind.get("weight", 1)), school_rule=bool(ind.get("school_rule")),
                        shortfall_unit=spec.get("unit"))
    condition = ind.get("applies_if")
    try:
        if condition is not None:
            blocked = _blocked(condition, facts)
            if blocked:
                r.status, r.reason = blocked
                return r
            if not ex.evaluate(condition, facts, items):
                used = _unique(code for code, _ in ex.facts_used(condition))
                r.status = IndicatorStatus.not_applicable
                r.reason = "does not apply: " + ", ".join(f"{c}={_show_fact(facts.get(c))}" for c in used)
                return r
        blocked = _blocked(ind["expr"], facts)
        if blocked:
            r.status, r.reason = blocked
            return r
        value = ex.evaluate(ind["expr"], facts, items)
    except ex.Empty as e:
        # Nothing to check: "every music room >= 96 m²" with no music room (the room count catches that).
        r.status, r.reason = IndicatorStatus.not_applicable, f"nothing to check: {e}"
        return r
    except ex.Undefined as e:
        r.reason = f"cannot be computed: {e}"
        return r
    r.exact_value = value
    if comparator == Comparator.eq:
        r.met = value == threshold
        r.value = value
    else:
        r.met = value >= threshold if comparator == Comparator.ge else value < threshold \
            if comparator == Comparator.lt else value <= threshold
        r.value = _toward_failing(value, ROUND_FLOOR if comparator == Comparator.ge else ROUND_CEILING)
        if comparator == Comparator.ge and threshold:
            r.exact_ratio = value / threshold
        elif comparator in (Comparator.le, Comparator.lt) and value:
            r.exact_ratio = threshold / value
        if r.exact_ratio is not None:
            r.ratio = _toward_failing(r.exact_ratio, ROUND_FLOOR)
        if not r.met and spec:
            r.shortfall, r.detail = _shortfall(ind["expr"], comparator, threshold, spec, facts, items)
        elif spec:
            r.shortfall = Decimal(0)
    r.status = IndicatorStatus.met if r.met else IndicatorStatus.not_met
    return r


def _blocked(expr: dict, facts: dict) -> tuple[IndicatorStatus, str] | None:
    used = ex.facts_used(expr)
    na = _unique(code for code, _ in used if facts.get(code) == ex.NA)
    if na:
        return IndicatorStatus.not_applicable, f"{', '.join(na)} answered n/a"
    missing = _unique(code for code, has_default in used if not has_default and code not in facts)
    if missing:
        return IndicatorStatus.not_assessed, f"missing fact{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
    return None


def _shortfall(expr: dict, comparator: Comparator, t: Decimal, spec: dict, facts: dict,
               items: dict) -> tuple[Decimal, dict | None]:
    """How much must change, in real units, for the indicator to be met."""
    op = expr["op"]
    if op in ("min_of", "max_of"):
        values = facts[expr["fact"]]
        gaps = [t - v if comparator == Comparator.ge else v - t for v in values]
        gaps = [g for g in gaps if g > 0]
        unit = items[expr["fact"]].get("unit", "")
        return Decimal(len(gaps)), {"failing": len(gaps), "gap": sum(gaps, Decimal(0)), "gap_unit": unit}
    if op == "per_100":
        target, present = t * facts[ex.ENROLMENT] / 100, facts[expr["fact"]]
    elif op == "per_student":
        target, present = t * facts[ex.ENROLMENT], facts[expr["fact"]]
    elif op in ("ratio", "percent"):
        den = facts[expr["den"]["fact"]]
        target = t * den / (100 if op == "percent" else 1)
        present = facts[expr["num"]["fact"]]
    elif op == "rooms_per_12_classes":
        target, present = t * ex.blocks_of_12(expr, facts), Decimal(len(facts[expr["fact"]]))
    else:  # fact, sum, count: the value itself is in real units
        target, present = t, ex.evaluate(expr, facts, items)
    gap = target - present if comparator == Comparator.ge else present - target
    # Ceiling, never half-up: adding exactly the shortfall must be enough to meet the threshold.
    return max(gap, Decimal(0)).quantize(STEP[spec["round"]], rounding=ROUND_CEILING), None


def _toward_failing(value: Decimal, rounding: str) -> Decimal:
    if value.as_tuple().exponent >= -4:
        return value
    return value.quantize(Q4, rounding=rounding)


def _unique(codes: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(codes))


def _show_fact(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "unanswered" if value is None else str(value)


# --- one school ------------------------------------------------------------------------------

@dataclass
class SchoolResult:
    """A school (or one section of a combined school) judged against a template at a level."""

    template: str
    level: Level
    verdict: Verdict
    reasons: list[str]
    results: list[IndicatorResult]
    enrolment: Decimal | None = None

    def section(self, section: Section) -> dict[str, IndicatorResult]:
        """Results of one section (A, B, C or D) keyed by indicator code."""
        return {r.code: r for r in self.results if r.section == section}

    @property
    def rule_results(self) -> list[IndicatorResult]:
        """The indicators the school rule counts (R1-R7 in the national template)."""
        return [r for r in self.results if r.school_rule]

    @property
    def failed_items(self) -> list[IndicatorResult]:
        """Every indicator not met, in template order: the raw material of rectification tickets."""
        return [r for r in self.results if r.status == IndicatorStatus.not_met]

    def count(self, status: IndicatorStatus) -> int:
        """How many school-rule indicators have a status."""
        return sum(r.status == status for r in self.rule_results)

    @property
    def met_count(self) -> int:
        """School-rule indicators met."""
        return self.count(IndicatorStatus.met)

    def to_dict(self) -> dict:
        """The result with Decimal values (see to_json_dict for JSON numbers)."""
        out = {"template": self.template, "level": self.level, "verdict": self.verdict, "reasons": self.reasons,
               "enrolment": self.enrolment, "met_count": self.met_count,
               "not_met_count": self.count(IndicatorStatus.not_met),
               "not_assessed_count": self.count(IndicatorStatus.not_assessed),
               "applicable_count": len(self.rule_results) - self.count(IndicatorStatus.not_applicable)}
        for section, key in SECTION_KEYS.items():
            out[key] = {code: r.to_dict() for code, r in self.section(section).items()}
        out["failed_items"] = [r.ticket_dict() for r in self.failed_items]
        return out

    def to_json_dict(self) -> dict:
        """to_dict with Decimals as JSON numbers, ready for json.dumps."""
        return to_json(self.to_dict())


def score_school(defn: dict, level: str, facts: dict, *, school_type: str = SchoolType.ordinary,
                 whole_school: dict | None = None, judged_in: str | None = None) -> SchoolResult:
    """Score one school (or one section of a combined school) against a template at a level.

    `school_type` (register): special-education schools and teaching points under 50 pupils are not
    judged on the school rule (verdict "exempt"). For a combined school, per-school indicators (rooms,
    size) are judged once: on `whole_school` facts (both sections' classes and rooms) in one section,
    and marked as judged in section `judged_in` in the other.
    """
    level = Level(level)
    errors = template_problems(defn, level) | validate_facts(defn, level, facts)
    if whole_school is not None:
        errors |= {f"whole_school.{k}": v for k, v in validate_facts(defn, level, whole_school).items()}
    if errors:
        raise InvalidFacts(errors)
    return _score_school(defn, level, facts, school_type=school_type, whole_school=whole_school,
                         judged_in=judged_in)


def template_problems(defn: dict, level: str) -> dict[str, list[str]]:
    """The numbers of a definition scoring at `level` needs and cannot read, under "template": a threshold of a
    number indicator or the school rule's ratio written outside the decimal grammar (a version stored before
    it was enforced, e.g. threshold "4_3"). Such a version scores nothing: each school is reported invalid."""
    out = []
    items = items_by_code(defn)
    for ind in indicators_for(defn, level):
        for expr in (ind.get("expr"), ind.get("applies_if")):
            out += [f"{ind.get('code')}: {what} is not a decimal; this template version cannot be scored"
                    for what in _unreadable_literals(expr, items)]
        if ind.get("comparator") != Comparator.eq and not isinstance(threshold_for(ind, level), Decimal):
            raw = ind.get("threshold")
            raw = raw.get(level) if isinstance(raw, dict) else raw
            out.append(f"{ind.get('code')}: the threshold {raw!r} for {level} is not a decimal; "
                       "this template version cannot be scored")
    ratio = ((defn.get("rules") or {}).get("school") or {}).get("min_ratio_not_met")
    if ex.parse_decimal(ratio) is None:
        out.append(f"rules.school.min_ratio_not_met {ratio!r} is not a decimal; "
                   "this template version cannot be scored")
    return {"template": out} if out else {}


def _unreadable_literals(expr: Any, items: dict[str, dict]) -> list[str]:
    """The constants of an expression, and the defaults of the number facts it reads, that are no decimal of
    the grammar (evaluating would meet None or text where it needs a number)."""
    if not isinstance(expr, dict):
        return []
    out = []
    value = expr.get("value")
    if expr.get("op") == "const" and not isinstance(value, bool) and ex.parse_decimal(value) is None:
        out.append(f"the constant {value!r}")
    if expr.get("op") == "fact" and "default" in expr and \
            ex.KIND_TYPE.get(items.get(expr.get("fact"), {}).get("kind")) == ex.NUMBER and \
            ex.parse_decimal(expr["default"]) is None:
        out.append(f"the default {expr['default']!r} of {expr.get('fact')}")
    for key in ("num", "den", "arg"):
        out += _unreadable_literals(expr.get(key), items)
    for e in expr.get("args") if isinstance(expr.get("args"), list) else []:
        out += _unreadable_literals(e, items)
    return out


def county_template_problems(defn: dict, level: str) -> dict[str, list[str]]:
    """template_problems, and the county's own numbers judging it reads: the CV limit at `level`, the county
    indicators' thresholds, the survey's minimum and the targets' shares."""
    out = template_problems(defn, level).get("template", [])
    limit = (((defn.get("rules") or {}).get("county") or {}).get("cv_limit") or {}).get(level)
    if ex.parse_decimal(limit) is None:
        out.append(f"rules.county.cv_limit.{level} {limit!r} is not a decimal")
    county = defn.get("county") if isinstance(defn.get("county"), dict) else None
    if county is not None:
        out += template_problems({"items": county.get("items") or [], "indicators": county.get("indicators") or [],
                                  "rules": {"school": {"min_ratio_not_met": "0"}}}, level).get("template", [])
        survey = county.get("survey") if isinstance(county.get("survey"), dict) else {}
        if ex.parse_decimal(survey.get("min_percent", "85")) is None:
            out.append(f"county.survey.min_percent {survey.get('min_percent')!r} is not a decimal")
        for t in county.get("targets") or []:
            if isinstance(t, dict) and "min_share_met" in t and ex.parse_decimal(t["min_share_met"]) is None:
                out.append(f"county.targets[{t.get('code')}].min_share_met {t['min_share_met']!r} is not a decimal")
    return {"template": out} if out else {}


def exemption(school_type: str, enrolment: Any) -> str | None:
    """Why a school is left out of R1-R7 and the CV, or None when it is judged on them."""
    if school_type == SchoolType.special_education:
        return "special-education school: equipped as needed, not judged on R1-R7 (特殊教育学校根据实际配备)"
    if school_type == SchoolType.teaching_point:
        n = _number(enrolment) if enrolment not in (None, ex.NA) else None
        if n is not None and n < TEACHING_POINT_MIN:
            return (f"teaching point of {n} pupils (< {TEACHING_POINT_MIN}): equipped as needed, not judged on R1-R7 "
                    "(不足50人的教学点根据实际配备)")
    return None


def _score_school(defn: dict, level: Level, facts: dict, *, school_type: str = SchoolType.ordinary,
                  whole_school: dict | None = None, judged_in: str | None = None) -> SchoolResult:
    items = items_by_code(defn)
    normal = _normalise(facts, items)
    whole = _normalise(whole_school, items) if whole_school is not None else normal
    exempt = exemption(school_type, facts.get(ex.ENROLMENT))
    with localcontext(CONTEXT):
        results = []
        for ind in indicators_for(defn, level):
            if ind.get(PER_SCHOOL) and judged_in is not None:
                results.append(_skipped(ind, level, IndicatorStatus.not_applicable,
                                        f"judged once for the whole school, in the {judged_in} section"))
            elif ind.get("school_rule") and exempt:
                results.append(_skipped(ind, level, IndicatorStatus.not_applicable, exempt))
            else:
                results.append(_score_indicator(ind, level, whole if ind.get(PER_SCHOOL) else normal, items))
        if exempt:
            verdict, reasons = Verdict.exempt, [exempt]
        else:
            verdict, reasons = _school_verdict([r for r in results if r.school_rule], defn["rules"]["school"])
    enrolment = normal.get(ex.ENROLMENT)
    return SchoolResult(template=defn["code"], level=level, verdict=verdict, reasons=reasons, results=results,
                        enrolment=enrolment if isinstance(enrolment, Decimal) else None)


def _skipped(ind: dict, level: str, status: IndicatorStatus, reason: str) -> IndicatorResult:
    spec = ind.get("shortfall") or {}
    return IndicatorResult(code=ind["code"], section=ind["section"], name=ind["name"], status=status,
                           comparator=Comparator(ind["comparator"]), threshold=threshold_for(ind, level),
                           unit=ind.get("unit", ""), severity=ind["severity"],
                           weight=ex.parse_decimal(ind.get("weight", 1)), school_rule=bool(ind.get("school_rule")),
                           shortfall_unit=spec.get("unit"), reason=reason)


def _school_verdict(rule: list[IndicatorResult], cfg: dict) -> tuple[Verdict, list[str]]:
    """At most `max_not_met` of the school-rule indicators missed, each at >= `min_ratio_not_met` of its threshold.

    The count is always all of them (每所学校至少6项指标达到上述要求): an indicator without a value
    (missing, or n/a where a template allowed it) is unknown, never left out. An unknown one could
    turn out met or at 0%, so both extremes are tried.
    """
    allowed, min_ratio = cfg["max_not_met"], ex.parse_decimal(cfg["min_ratio_not_met"])
    not_met = [r for r in rule if r.status == IndicatorStatus.not_met]
    unknown = [r for r in rule if r.status in (IndicatorStatus.not_assessed, IndicatorStatus.not_applicable)]
    if not rule:
        return Verdict.incomplete, ["no school-rule indicator applies to this school"]
    failures = []
    if len(not_met) > allowed:
        failures.append(f"{len(not_met)} of {len(rule)} indicators not met "
                        f"({', '.join(r.code for r in not_met)}); at most {allowed} may be")
    for r in not_met:
        if r.exact_ratio is None or r.exact_ratio < min_ratio:
            failures.append(f"{r.code} at {_percent(r.exact_ratio)} of its threshold, "
                            f"below the {_percent(min_ratio)} allowed for a missed indicator")
    if failures:
        return Verdict.failed, failures
    worst_fails = len(not_met) + len(unknown) > allowed or (unknown and min_ratio > 0)
    if worst_fails:
        return Verdict.incomplete, [f"{r.code} not assessed ({r.reason})" for r in unknown]
    notes = [f"{r.code} missed at {_percent(r.exact_ratio)} of its threshold (allowed)" for r in not_met]
    return Verdict.passed, notes


def _percent(ratio: Decimal | None) -> str:
    if ratio is None:
        return "an unknown share"
    return f"{(ratio * 100).quantize(Decimal('0.01'), rounding=ROUND_FLOOR)}%"


# --- the county ------------------------------------------------------------------------------

def weighted_stats(values_and_weights: Iterable[tuple[Any, Any]]) -> tuple[Decimal, Decimal]:
    """Enrolment-weighted mean and standard deviation S = sqrt(Σ P(X - mean)² / Σ P)."""
    pairs = [(_number(x), _number(p)) for x, p in values_and_weights]
    if not pairs:
        raise ValueError("no values")
    if any(x is None or p is None or p <= 0 for x, p in pairs):
        raise ValueError("values must be numbers and weights positive numbers")
    with localcontext(CONTEXT):
        total = sum((p for _, p in pairs), Decimal(0))
        mean = sum((p * x for x, p in pairs), Decimal(0)) / total
        variance = sum((p * (x - mean) ** 2 for x, p in pairs), Decimal(0)) / total
        return mean, variance.sqrt()


def county_cv(values_and_weights: Iterable[tuple[Any, Any]]) -> Decimal:
    """Coefficient of variation S / mean of (value, enrolment) pairs, unrounded; ValueError if mean is 0."""
    mean, sd = weighted_stats(values_and_weights)
    if mean == 0:
        raise ValueError("the mean is 0, so the CV is undefined")
    with localcontext(CONTEXT):
        return sd / mean


@dataclass
class CountyIndicator:
    """One school-rule indicator across a county's schools: weighted mean, S and CV."""

    code: str
    limit: Decimal
    schools_counted: int
    schools_excluded: int
    schools_left_out: list[str] = field(default_factory=list)
    mean: Decimal | None = None
    sd: Decimal | None = None
    cv: Decimal | None = None
    met: bool | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        """Mean and S to 4 places; CV rounded up to 4 places so a printed CV within the limit is within it."""
        half_up = lambda d: None if d is None else d.quantize(Q4, rounding=ROUND_HALF_UP)  # noqa: E731
        return {"mean": half_up(self.mean), "sd": half_up(self.sd),
                "cv": None if self.cv is None else _toward_failing(self.cv, ROUND_CEILING),
                "limit": self.limit, "met": self.met, "schools_counted": self.schools_counted,
                "schools_excluded": self.schools_excluded, "schools_left_out": self.schools_left_out,
                "reason": self.reason}


@dataclass
class CountyResult:
    """A county's schools of one level judged together."""

    template: str
    level: Level
    verdict: Verdict
    reasons: list[str]
    schools: list[tuple[str, SchoolResult]]
    indicators: dict[str, CountyIndicator]
    # Reasons by area of the standard: {"A": {"failures": [...], "open": [...]}, "B": ..., "C": ..., "D": ...}.
    by_area: dict = field(default_factory=dict)

    @property
    def passing_schools(self) -> list[str]:
        """Names of the schools that pass the school rule."""
        return [name for name, r in self.schools if r.verdict == Verdict.passed]

    @property
    def exempt_schools(self) -> list[str]:
        """Names of the schools left out of R1-R7 and the CV (special education, small teaching points)."""
        return [name for name, r in self.schools if r.verdict == Verdict.exempt]

    def to_dict(self) -> dict:
        """The result with Decimal values (see to_json_dict for JSON numbers)."""
        passing, exempt = self.passing_schools, self.exempt_schools
        total = len(self.schools) - len(exempt)
        share = (Decimal(len(passing)) / total).quantize(Q4, rounding=ROUND_HALF_UP) if total else None
        return {"template": self.template, "level": self.level, "verdict": self.verdict, "reasons": self.reasons,
                "schools_total": total, "schools_passing": len(passing), "passing_schools": passing,
                "share_passing": share, "exempt_schools": exempt,
                "schools": [{"school": name, "verdict": r.verdict, "met_count": r.met_count}
                            for name, r in self.schools],
                "indicators": {code: ind.to_dict() for code, ind in self.indicators.items()}}

    def to_json_dict(self) -> dict:
        """to_dict with Decimals as JSON numbers, ready for json.dumps."""
        return to_json(self.to_dict())


def score_county(defn: dict, level: str, schools: list[dict]) -> CountyResult:
    """Judge a county's schools of one level: each school's rule, the CV of every school-rule indicator,
    and the items every school must meet (B3-B5).

    `schools`: [{"school": name, "facts": {...}, optional "school_type", "whole_school", "judged_in"}]
    (see score_school). Exempt schools (special education, teaching points under 50) are listed and left
    out of the school rule and the CV; any other school without a value makes the county incomplete,
    named, never silently dropped.
    """
    level = Level(level)
    errors: dict[str, list[str]] = county_template_problems(defn, level)
    for i, s in enumerate(schools):
        for code, msgs in validate_facts(defn, level, s.get("facts")).items():
            errors[f"schools[{i}].facts.{code}"] = msgs
        if s.get("school_type", SchoolType.ordinary) not in tuple(SchoolType):
            errors[f"schools[{i}].school_type"] = [f"must be one of {', '.join(SchoolType)}"]
        if s.get("whole_school") is not None:
            for code, msgs in validate_facts(defn, level, s["whole_school"]).items():
                errors[f"schools[{i}].whole_school.{code}"] = msgs
    if errors:
        raise InvalidFacts(errors)
    scored = [(s["school"], _score_school(defn, level, s["facts"], school_type=s.get("school_type", "ordinary"),
                                          whole_school=s.get("whole_school"), judged_in=s.get("judged_in")))
              for s in schools]
    judged = [(name, r) for name, r in scored if r.verdict != Verdict.exempt]
    limit = ex.parse_decimal(defn["rules"]["county"]["cv_limit"][level])
    # (area, reason): the resource indicators are area A; the items every school meets are B or C.
    failures: list[tuple[str, str]] = []
    open_questions: list[tuple[str, str]] = [] if scored else [("A", "no schools to judge")]
    indicators: dict[str, CountyIndicator] = {}
    for ind in indicators_for(defn, level):
        if not ind.get("school_rule"):
            continue
        code = ind["code"]
        pairs, left_out = [], []
        for name, r in judged:
            result = next(x for x in r.results if x.code == code)
            if result.status in (IndicatorStatus.met, IndicatorStatus.not_met) and r.enrolment:
                pairs.append((result.exact_value, r.enrolment))
            else:
                left_out.append(name)
        ci = indicators[code] = CountyIndicator(code=code, limit=limit, schools_counted=len(pairs),
                                                schools_excluded=len(left_out), schools_left_out=left_out)
        if not pairs:
            ci.reason = "no school has a value"
        else:
            ci.mean, ci.sd = weighted_stats(pairs)
            if ci.mean == 0:
                ci.reason = "the mean is 0, so the CV cannot be assessed"
            else:
                with localcontext(CONTEXT):
                    ci.cv = ci.sd / ci.mean
                ci.met = ci.cv <= limit
        if ci.met is False:
            failures.append(("A", f"{code}: CV {_toward_failing(ci.cv, ROUND_CEILING)} exceeds the limit {limit}"))
        elif ci.met is None:
            open_questions.append(("A", f"{code}: {ci.reason}"))
        if left_out:
            open_questions.append(("A", f"{code}: {len(left_out)} school(s) not assessed and left out of the CV: "
                                        f"{', '.join(left_out)}"))
    if defn["rules"]["county"]["require_all_schools_pass"]:
        for name, r in judged:
            if r.verdict == Verdict.failed:
                failures.append(("A", f"{name} fails the school rule: {'; '.join(r.reasons)}"))
            elif r.verdict == Verdict.incomplete:
                open_questions.append(("A", f"{name} cannot be judged yet: {'; '.join(r.reasons)}"))
    # County items every school must meet (B3 rooms, B4 size, B5 class size): one failing school fails the county.
    for name, r in scored:
        for res in r.results:
            if not _every_school(defn, res.code):
                continue
            area = str(res.section)
            if res.status == IndicatorStatus.not_met:
                failures.append((area, f"{name}: {res.code} {res.name.get('en', res.code)} not met "
                                       f"({_describe(res)})"))
            elif res.status == IndicatorStatus.not_assessed:
                open_questions.append((area, f"{name}: {res.code} not assessed ({res.reason})"))
    verdict = Verdict.failed if failures else Verdict.incomplete if open_questions else Verdict.passed
    by_area = {area: {"failures": [t for a, t in failures if a == area],
                      "open": [t for a, t in open_questions if a == area]} for area in ("A", "B", "C", "D")}
    return CountyResult(template=defn["code"], level=level, verdict=verdict,
                        reasons=[t for _, t in failures] + [t for _, t in open_questions],
                        schools=scored, indicators=indicators, by_area=by_area)


def _every_school(defn: dict, code: str) -> bool:
    return any(i.get("code") == code and i.get(EVERY_SCHOOL) for i in defn.get("indicators", []))


def _describe(r: IndicatorResult) -> str:
    sign = {"ge": ">=", "le": "<=", "lt": "<", "eq": "="}[str(r.comparator)]
    if r.unit == "time_of_day" and r.value is not None:
        return f"measured {ex.show_time(r.value)}, required {sign} {ex.show_time(r.threshold)}"
    text = f"measured {_show_fact(r.value)}, required {sign} {_show_fact(r.threshold)}"
    if r.shortfall:
        text += f", short by {r.shortfall} {r.shortfall_unit or ''}".rstrip()
    return text


# --- output ----------------------------------------------------------------------------------

_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_json(obj: Any) -> Any:
    """Decimals -> JSON numbers (int when whole and unscaled, float otherwise); enums -> strings."""
    t = type(obj)  # the common exact types first (a result has ~400 values); subclasses take the checks below
    if t in _PLAIN:
        return obj
    if t is dict:
        return {k if type(k) is str else str(k): to_json(v) for k, v in obj.items()}
    if t is list or t is tuple:
        return [to_json(v) for v in obj]
    if isinstance(obj, Decimal):
        return int(obj) if obj.as_tuple().exponent >= 0 else float(obj)
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    return obj
