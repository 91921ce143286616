"""Template definitions: plain JSON-able dicts of items, indicators and rules, and their validation."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from inspections.errors import ValidationFailed
from inspections.scoring import expressions as ex
from inspections.scoring.enums import Comparator, ItemKind, Level, Section, Severity

LEVELS = tuple(level.value for level in Level)
ROUNDINGS = ("whole", "cent")
# Ops whose shortfall the engine can solve for (see engine._shortfall); anything else needs shortfall null.
# Item flag: the template lets this item be answered "n/a" (never for a fact an R1-R7 indicator reads).
NA_ALLOWED = "na_allowed"
# Indicator flags: judged at the county for every school (B3-B5), and judged once per school, not per section.
EVERY_SCHOOL = "every_school"
PER_SCHOOL = "per_school"
SOLVABLE = {"per_100", "per_student", "ratio", "percent", "rooms_per_12_classes", "fact", "sum", "count",
            "min_of", "max_of"}


# What an inspector reads and a ticket is named by, in both languages: never empty, never a page long.
BILINGUAL = "required: {'zh': ..., 'en': ...}, each a text of 1 to 500 characters"
TEXT_MAX = 500


def bilingual(value: Any) -> bool:
    """A {'zh', 'en'} text with both languages written (not blank) and of a readable length."""
    return isinstance(value, dict) and all(isinstance(value.get(k), str) and value[k].strip()
                                           and len(value[k]) <= TEXT_MAX for k in ("zh", "en"))


class DefinitionError(ValidationFailed):
    """A template definition or overlay is invalid; `errors` lists messages, `fields` maps path -> messages."""

    def __init__(self, problems: list[tuple[str, str]], message: str = "Invalid template definition"):
        fields: dict[str, list[str]] = {}
        for path, msg in problems:
            fields.setdefault(path, []).append(msg)
        super().__init__(message, fields)
        self.errors = [f"{path}: {msg}" for path, msg in problems]

    def __str__(self) -> str:
        return f"{self.message}: " + "; ".join(self.errors)


def items_by_code(defn: dict) -> dict[str, dict]:
    """The definition's items keyed by code (switched-off ones included)."""
    return {i["code"]: i for i in defn.get("items", []) if isinstance(i, dict) and "code" in i}


def indicators_for(defn: dict, level: str) -> list[dict]:
    """Enabled indicators scored at a level, in definition order."""
    return [i for i in defn.get("indicators", []) if i.get("enabled", True) and level in i.get("levels", ())]


def threshold_for(indicator: dict, level: str) -> Decimal | bool | None:
    """An indicator's threshold at a level: a per-level mapping or one value for every level."""
    raw = indicator.get("threshold")
    if isinstance(raw, dict):
        raw = raw.get(level)
    return raw if isinstance(raw, bool) or raw is None else ex.parse_threshold(raw)


def validate_definition(defn: Any) -> list[str]:
    """Every problem with a definition as 'path: message' strings; empty when it is valid."""
    return [f"{path}: {msg}" for path, msg in definition_problems(defn)]


def check_definition(defn: Any) -> dict:
    """Return the definition unchanged, or raise DefinitionError with all its problems."""
    problems = definition_problems(defn)
    if problems:
        raise DefinitionError(problems)
    return defn


def definition_problems(defn: Any) -> list[tuple[str, str]]:
    """Every problem with a definition as (path, message) pairs."""
    if not isinstance(defn, dict):
        return [("definition", "must be an object")]
    p: list[tuple[str, str]] = []
    if not isinstance(defn.get("code"), str) or not defn.get("code"):
        p.append(("code", "required: a non-empty string"))
    if not isinstance(defn.get("name"), (str, dict)):
        p.append(("name", "required: a string or {'zh', 'en'}"))
    items, indicators = defn.get("items"), defn.get("indicators")
    if not isinstance(items, list):
        p.append(("items", "must be a list"))
        items = []
    if not isinstance(indicators, list):
        p.append(("indicators", "must be a list"))
        indicators = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        p += _item_problems(item, i, seen)
    catalogue = items_by_code({"items": items})
    if any(_uses_enrolment(ind) for ind in indicators if isinstance(ind, dict)) and \
            catalogue.get(ex.ENROLMENT, {}).get("kind") != ItemKind.integer:
        p.append(("items", f"per-student indicators need an integer item {ex.ENROLMENT!r}"))
    for i, ind in enumerate(indicators):
        p += _indicator_problems(ind, i, seen, catalogue)
    p += _rules_problems(defn.get("rules"))
    if "county" in defn:
        school_codes = {i.get("code") for i in indicators if isinstance(i, dict) and i.get("enabled", True)}
        p += _county_problems(defn["county"], school_codes)
    return p


def _county_problems(county: Any, school_codes: set | frozenset = frozenset()) -> list[tuple[str, str]]:
    """The county section: items a county reports once a year, indicators over them, the survey and
    aggregate targets over the schools (e.g. at least 70% of schools meet B5)."""
    if not isinstance(county, dict):
        return [("county", "must be an object {'items': [...], 'indicators': [...], 'survey': {...}}")]
    p: list[tuple[str, str]] = []
    items, indicators = county.get("items"), county.get("indicators")
    if not isinstance(items, list):
        p.append(("county.items", "must be a list"))
        items = []
    if not isinstance(indicators, list):
        p.append(("county.indicators", "must be a list"))
        indicators = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        p += [(f"county.{path}", msg) for path, msg in _item_problems(item, i, seen)]
    catalogue = items_by_code({"items": items})
    for i, ind in enumerate(indicators):
        p += [(f"county.{path}", msg) for path, msg in _indicator_problems(ind, i, seen, catalogue)]
        if isinstance(ind, dict) and any(ind.get(flag) for flag in ("school_rule", EVERY_SCHOOL, PER_SCHOOL)):
            p.append((f"county.{_path('indicators', ind, i)}", "a county indicator is judged once for the county; "
                                                               "it has no school flags"))
    survey = county.get("survey")
    if not isinstance(survey, dict):
        p.append(("county.survey", "required: {'groups': [...], 'min_percent': '85'}"))
    else:
        groups = survey.get("groups")
        if not isinstance(groups, list) or not groups or not all(isinstance(g, str) and g for g in groups) \
                or len(set(groups)) != len(groups):
            p.append(("county.survey.groups", "must be a non-empty list of distinct respondent groups"))
        m = ex.parse_decimal(survey.get("min_percent"))
        if m is None or not 0 <= m <= 100:
            p.append(("county.survey.min_percent", "must be a decimal string from 0 to 100"))
    targets = county.get("targets", [])
    if not isinstance(targets, list):
        return p + [("county.targets", "must be a list")]
    for i, t in enumerate(targets):
        path = _path("county.targets", t, i)
        if not isinstance(t, dict):
            p.append((path, "must be an object"))
            continue
        code = t.get("code")
        if not isinstance(code, str) or not code or code in seen:
            p.append((f"{path}.code", "required: a code unused by any county item or indicator"))
        else:
            seen.add(code)
        if not bilingual(t.get("name")):
            p.append((f"{path}.name", BILINGUAL))
        if t.get("section") not in tuple(Section):
            p.append((f"{path}.section", f"must be one of {', '.join(Section)}"))
        codes = target_indicators(t)
        if not codes or len(set(codes)) != len(codes) or not all(c in school_codes for c in codes):
            p.append((f"{path}.indicator", "must be the code of a school indicator of this template, or a list of "
                                           "such codes (a school counts as failing when it fails any of them)"))
        kinds = [k for k in TARGET_KINDS if k in t]
        if len(kinds) != 1:
            p.append((path, "needs exactly one of min_share_met (e.g. '0.70': at least 70% of schools meet it) or "
                            "min_fewer_per_year (e.g. 1: at least one failing school fewer than the year before)"))
        elif kinds == ["min_share_met"]:
            share = ex.parse_decimal(t.get("min_share_met"))
            if isinstance(t.get("min_share_met"), float) or share is None or not 0 < share <= 1:
                p.append((f"{path}.min_share_met", "must be a decimal string above 0 and at most 1, e.g. '0.70'"))
        else:
            n = t.get("min_fewer_per_year")
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 1000:
                p.append((f"{path}.min_fewer_per_year", "must be a whole number of schools from 1 to 1000"))
        allowed = {"code", "name", "section", "indicator", "notes", *TARGET_KINDS}
        if set(t) - allowed:
            p.append((path, "unexpected keys: " + ", ".join(sorted(set(t) - allowed))))
    return p


TARGET_KINDS = ("min_share_met", "min_fewer_per_year")


def target_indicators(t: dict) -> list:
    """The school indicator codes an aggregate target counts ('B5', or a list such as ['B4.1', 'B4.2'])."""
    ind = t.get("indicator")
    if isinstance(ind, str):
        return [ind]
    return list(ind) if isinstance(ind, list) and all(isinstance(c, str) for c in ind) else []


def _uses_enrolment(ind: dict) -> bool:
    return any(code == ex.ENROLMENT for code, _ in ex.facts_used(ind.get("expr")))


def _common(obj: dict, path: str, seen: set[str]) -> list[tuple[str, str]]:
    p = []
    code = obj.get("code")
    if not isinstance(code, str) or not code:
        p.append((f"{path}.code", "required: a non-empty string"))
    elif code in seen:
        p.append((f"{path}.code", f"duplicate code {code!r} (item and indicator codes share one namespace)"))
    else:
        seen.add(code)
    if obj.get("section") not in tuple(Section):
        p.append((f"{path}.section", f"must be one of {', '.join(Section)}"))
    levels = obj.get("levels")
    if not isinstance(levels, list) or not levels or any(lv not in LEVELS for lv in levels):
        p.append((f"{path}.levels", f"must be a non-empty list drawn from {', '.join(LEVELS)}"))
    if not isinstance(obj.get("enabled", True), bool):
        p.append((f"{path}.enabled", "must be true or false"))
    return p


def _path(kind: str, obj: Any, index: int) -> str:
    code = obj.get("code") if isinstance(obj, dict) else None
    return f"{kind}[{code}]" if isinstance(code, str) and code else f"{kind}[{index}]"


def _item_problems(item: Any, index: int, seen: set[str]) -> list[tuple[str, str]]:
    path = _path("items", item, index)
    if not isinstance(item, dict):
        return [(path, "must be an object")]
    p = _common(item, path, seen)
    kind = item.get("kind")
    if kind not in tuple(ItemKind):
        p.append((f"{path}.kind", f"must be one of {', '.join(ItemKind)}"))
    choices = item.get("choices")
    if kind == ItemKind.rating:
        if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices) \
                or len(set(choices)) != len(choices):
            p.append((f"{path}.choices", "a rating needs a list of distinct choices, best first"))
    elif choices is not None:
        p.append((f"{path}.choices", "only rating items have choices"))
    if not bilingual(item.get("help")):
        p.append((f"{path}.help", BILINGUAL))
    if not isinstance(item.get("photo_required", False), bool):
        p.append((f"{path}.photo_required", "must be true or false"))
    if not isinstance(item.get("unit", ""), str):
        p.append((f"{path}.unit", "must be a string"))
    if not isinstance(item.get(NA_ALLOWED, False), bool):
        p.append((f"{path}.{NA_ALLOWED}", "must be true or false"))
    elif item.get(NA_ALLOWED) and kind in (ItemKind.class_sizes, ItemKind.room_areas):
        # Every school has classes, and "no rooms" is an empty list: n/a would only hide a failure.
        p.append((f"{path}.{NA_ALLOWED}", f"a {kind} item always applies: every school has classes and rooms "
                                          "are listed, [] when there are none"))
    return p


def _indicator_problems(ind: Any, index: int, seen: set[str], items: dict[str, dict]) -> list[tuple[str, str]]:
    path = _path("indicators", ind, index)
    if not isinstance(ind, dict):
        return [(path, "must be an object")]
    p = _common(ind, path, seen)
    if not bilingual(ind.get("name")):
        p.append((f"{path}.name", BILINGUAL))
    kind, errs = ex.check(ind.get("expr"), items, f"{path}.expr")
    p += errs
    if not errs and kind not in (ex.NUMBER, ex.BOOLEAN):
        p.append((f"{path}.expr", f"must yield a number or a boolean, not a {kind}"))
    if "applies_if" in ind:
        t, errs = ex.check(ind["applies_if"], items, f"{path}.applies_if")
        p += errs or ([] if t == ex.BOOLEAN else [(f"{path}.applies_if", "must be a boolean expression")])
    comparator = ind.get("comparator")
    if comparator not in tuple(Comparator):
        p.append((f"{path}.comparator", f"must be one of {', '.join(Comparator)}"))
    elif kind == ex.BOOLEAN and comparator != Comparator.eq:
        p.append((f"{path}.comparator", "a yes/no check uses comparator 'eq' with threshold true or false"))
    levels = ind.get("levels") if isinstance(ind.get("levels"), list) else []
    for level in levels:
        p += _threshold_problems(ind, level, kind, path)
    if not isinstance(ind.get("unit", ""), str):
        p.append((f"{path}.unit", "must be a string"))
    if kind is not None:  # a broken expression is reported once, not again through everything built on it
        p += _shortfall_problems(ind, kind, path)
    if ind.get("severity") not in tuple(Severity):
        p.append((f"{path}.severity", f"must be one of {', '.join(Severity)}"))
    weight = ex.parse_decimal(ind.get("weight", 1))
    if weight is None or weight < 0:
        p.append((f"{path}.weight", "must be a number >= 0"))
    for flag in (EVERY_SCHOOL, PER_SCHOOL):
        if not isinstance(ind.get(flag, False), bool):
            p.append((f"{path}.{flag}", "must be true or false"))
    if ind.get("school_rule") is True and "applies_if" in ind:
        p.append((f"{path}.applies_if", "a school-rule indicator applies to every assessed school (每所学校至少6项), "
                                        "so it cannot have a condition"))
    if not isinstance(ind.get("school_rule", False), bool):
        p.append((f"{path}.school_rule", "must be true or false"))
    elif ind.get("school_rule") and kind is not None and \
            (kind != ex.NUMBER or comparator not in (Comparator.ge, Comparator.le)):
        p.append((f"{path}.school_rule", "school-rule indicators must compare a number with ge or le"))
    if ind.get("enabled", True):
        for code, _ in ex.facts_used(ind.get("expr")) + ex.facts_used(ind.get("applies_if")):
            item = items.get(code)
            if item is None:
                continue  # reported by the expression check
            if not item.get("enabled", True):
                p.append((path, f"uses item {code!r}, which is switched off; switch this indicator off too"))
            if ind.get("school_rule") is True and item.get(NA_ALLOWED) is True:
                p.append((path, f"uses item {code!r}, which may be answered n/a; an R1-R7 style indicator "
                                "counts for every school, so its facts may not be n/a"))
            missing = [lv for lv in levels if lv not in item.get("levels", ())]
            if missing:
                p.append((path, f"uses item {code!r}, which is not asked for {', '.join(missing)}"))
    return p


def _threshold_problems(ind: dict, level: str, kind: str | None, path: str) -> list[tuple[str, str]]:
    raw = ind.get("threshold")
    if isinstance(raw, dict):
        tpath = f"{path}.threshold.{level}"
        if level not in raw:
            return [(f"{path}.threshold", f"missing a threshold for {level}")]
        raw = raw[level]
    else:
        tpath = f"{path}.threshold"
        if raw is None:
            return [(tpath, "required")]
    if kind == ex.BOOLEAN:
        return [] if isinstance(raw, bool) else [(tpath, "a yes/no check needs threshold true or false")]
    if isinstance(raw, float):
        return [(tpath, "use a decimal string such as '4.2' so every office computes the same result")]
    problem = threshold_range_problem(ind, raw)
    return [(tpath, problem)] if problem else []


MAX_THRESHOLD = 10 ** 13  # the API's largest number; nothing a school counts comes near it


def threshold_range_problem(ind: dict, raw: Any) -> str | None:
    """Why `raw` is no sensible threshold for a number indicator (None when it is one): ASCII decimal only,
    0 to 10^13, a percentage at most 100, and an upper limit above 0 (a school could never meet "at most 0")."""
    if isinstance(raw, str) and not raw.isascii():  # Decimal() reads full-width digits; they are never stored
        return "must be a decimal string >= 0 (or a time of day \"HH:MM\")"
    value = ex.parse_threshold(raw)
    if value is None or value < 0:
        return "must be a decimal string >= 0 (or a time of day \"HH:MM\")"
    if value > MAX_THRESHOLD:
        return f"is out of range: at most {MAX_THRESHOLD}"
    if ind.get("unit") == "percent" and value > 100:
        return "is out of range: a percentage is at most 100"
    if ind.get("comparator") in (Comparator.le, Comparator.lt) and value <= 0 and \
            (ind.get("comparator") == Comparator.lt or ind.get("unit") in COUNTED_UNITS):
        return "is out of range: no school could meet an upper limit of 0"
    return None


COUNTED_UNITS = ("students", "teachers", "rooms")


def _shortfall_problems(ind: dict, kind: str | None, path: str) -> list[tuple[str, str]]:
    spec = ind.get("shortfall")
    if spec is None:
        return []
    spath = f"{path}.shortfall"
    if not isinstance(spec, dict):
        return [(spath, "must be null or {'unit': ..., 'round': 'whole'|'cent'}")]
    p = []
    if not isinstance(spec.get("unit"), str) or not spec.get("unit"):
        p.append((f"{spath}.unit", "required: the unit the rectification is counted in"))
    if spec.get("round") not in ROUNDINGS:
        p.append((f"{spath}.round", f"must be one of {', '.join(ROUNDINGS)}"))
    expr = ind.get("expr") if isinstance(ind.get("expr"), dict) else {}
    op, comparator = expr.get("op"), ind.get("comparator")
    if kind != ex.NUMBER or comparator not in (Comparator.ge, Comparator.le):
        p.append((spath, "a shortfall needs a number compared with ge or le"))
    elif op not in SOLVABLE or (op in ("ratio", "percent") and not all(
            isinstance(expr.get(k), dict) and expr[k].get("op") == "fact" for k in ("num", "den"))):
        p.append((spath, f"cannot derive a shortfall from this expression (op {op!r}); set shortfall null"))
    elif op == "min_of" and comparator != Comparator.ge or op == "max_of" and comparator != Comparator.le:
        p.append((spath, "a per-element shortfall needs min_of with ge or max_of with le"))
    elif op in ("min_of", "max_of") and spec.get("round") != "whole":
        p.append((f"{spath}.round", "a per-element shortfall counts elements: use 'whole'"))
    return p


def _rules_problems(rules: Any) -> list[tuple[str, str]]:
    if not isinstance(rules, dict):
        return [("rules", "required: {'school': {...}, 'county': {...}}")]
    p = []
    school, county = rules.get("school"), rules.get("county")
    if not isinstance(school, dict):
        p.append(("rules.school", "required: {'max_not_met': 1, 'min_ratio_not_met': '0.85'}"))
    else:
        n = school.get("max_not_met")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            p.append(("rules.school.max_not_met", "must be a whole number >= 0"))
        r = ex.parse_decimal(school.get("min_ratio_not_met"))
        if r is None or not 0 <= r <= 1:
            p.append(("rules.school.min_ratio_not_met", "must be a decimal string between 0 and 1"))
    if not isinstance(county, dict):
        p.append(("rules.county", "required: {'cv_limit': {...}, 'require_all_schools_pass': bool}"))
    else:
        limits = county.get("cv_limit")
        for level in LEVELS:
            v = ex.parse_decimal(limits.get(level)) if isinstance(limits, dict) else None
            if v is None or v <= 0:
                p.append((f"rules.county.cv_limit.{level}", "must be a decimal string > 0"))
        if not isinstance(county.get("require_all_schools_pass"), bool):
            p.append(("rules.county.require_all_schools_pass", "must be true or false"))
    return p
