"""Indicator expressions: JSON trees over facts with a whitelisted set of operations, never eval."""
from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal
from typing import Any

from inspections.numbers import decimal_text
from inspections.scoring.enums import ItemKind

ENROLMENT = "enrolment"
NA = "n/a"
CLASSES = "class_sizes"

NUMBER, BOOLEAN, LIST, STRING = "number", "boolean", "list", "string"
KIND_TYPE = {ItemKind.number: NUMBER, ItemKind.integer: NUMBER, ItemKind.boolean: BOOLEAN,
             ItemKind.rating: STRING, ItemKind.text: STRING, ItemKind.class_sizes: LIST,
             ItemKind.room_areas: LIST, ItemKind.time_of_day: NUMBER}

# op -> {argument: what it must be}; "?" marks an optional argument. The evaluator below knows
# exactly these ops, so a stored definition can name nothing else.
OPS: dict[str, dict[str, str]] = {
    "fact": {"fact": "fact:any", "default?": "literal"},
    "const": {"value": "literal"},
    "per_100": {"fact": "fact:number"},
    "per_student": {"fact": "fact:number"},
    "ratio": {"num": "expr:number", "den": "expr:number"},
    "percent": {"num": "expr:number", "den": "expr:number"},
    "sum": {"args": "exprs:number"},
    "max_of": {"fact": "fact:list"},
    "min_of": {"fact": "fact:list"},
    "count": {"fact": "fact:list"},
    "rooms_per_12_classes": {"fact": "fact:list", "classes?": "fact:list"},
    "rating_at_least": {"fact": "fact:rating", "value": "choice"},
    "all": {"args": "exprs:boolean"},
    "any": {"args": "exprs:boolean"},
    "not": {"arg": "expr:boolean"},
}
RESULT = {"per_100": NUMBER, "per_student": NUMBER, "ratio": NUMBER, "percent": NUMBER, "sum": NUMBER,
          "max_of": NUMBER, "min_of": NUMBER, "count": NUMBER, "rooms_per_12_classes": NUMBER,
          "rating_at_least": BOOLEAN, "all": BOOLEAN, "any": BOOLEAN, "not": BOOLEAN}


class Missing(Exception):
    """A fact the expression needs was not answered."""

    def __init__(self, fact: str):
        super().__init__(fact)
        self.fact = fact


class Undefined(Exception):
    """The expression has no value for these facts (e.g. a share of a zero budget)."""


class Empty(Undefined):
    """A per-element check over an empty list (e.g. 'every music room' with no music rooms)."""


def check(expr: Any, items: dict[str, dict], path: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The result type of an expression and the problems found in it, as (path, message) pairs."""
    if not isinstance(expr, dict):
        return None, [(path, "must be an expression object with an 'op'")]
    op = expr.get("op")
    if op not in OPS:
        return None, [(path, f"unknown op {op!r}; allowed: {', '.join(sorted(OPS))}")]
    spec = OPS[op]
    allowed = {k.rstrip("?") for k in spec} | {"op"}
    problems = [(f"{path}.{k}", f"unexpected argument for op {op!r}") for k in expr if k not in allowed]
    fact_type = None
    for key, want in spec.items():
        name, optional = key.rstrip("?"), key.endswith("?")
        sub = f"{path}.{name}"
        if name not in expr:
            if not optional:
                problems.append((sub, f"required by op {op!r}"))
            continue
        arg = expr[name]
        if want.startswith("fact:"):
            t, errs = _check_fact(arg, want[5:], items, sub)
            fact_type = fact_type or t
            problems += errs
        elif want.startswith("expr:"):
            t, errs = check(arg, items, sub)
            problems += errs or ([] if t in (None, want[5:]) else [(sub, f"must be a {want[5:]} expression")])
        elif want.startswith("exprs:"):
            if not isinstance(arg, list) or not arg:
                problems.append((sub, "must be a non-empty list of expressions"))
                continue
            for i, e in enumerate(arg):
                t, errs = check(e, items, f"{sub}[{i}]")
                wrong = t not in (None, want[6:])
                problems += errs or ([(f"{sub}[{i}]", f"must be a {want[6:]} expression")] if wrong else [])
        elif want == "choice":
            choices = items.get(expr.get("fact"), {}).get("choices") or []
            if arg not in choices:
                problems.append((sub, f"{arg!r} is not one of the item's choices {choices}"))
    if op == "fact":
        if "default" in expr and fact_type is not None and not _literal_fits(expr["default"], fact_type):
            problems.append((f"{path}.default", f"must be a {fact_type} like the fact it stands in for"))
        return fact_type, problems
    if op == "const":
        value = expr.get("value")
        if isinstance(value, bool):
            return BOOLEAN, problems
        if parse_decimal(value) is None:
            problems.append((f"{path}.value", "must be true/false or a decimal string such as '0.5'"))
        return NUMBER, problems
    return RESULT[op], problems


def _literal_fits(value: Any, kind: str) -> bool:
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind == NUMBER:
        return parse_decimal(value) is not None
    return kind == STRING and isinstance(value, str)


def _check_fact(code: Any, want: str, items: dict[str, dict], path: str) -> tuple[str | None, list]:
    item = items.get(code) if isinstance(code, str) else None
    if item is None:
        return None, [(path, f"unknown fact {code!r}")]
    t = KIND_TYPE.get(item.get("kind"))
    if want == "rating":
        ok = item.get("kind") == ItemKind.rating
    else:
        ok = want == "any" or t == want
    return t, [] if ok else [(path, f"fact {code!r} is a {item.get('kind')} item, not a {want}")]


def facts_used(expr: Any) -> list[tuple[str, bool]]:
    """Every fact an expression reads, with whether it has a default for when it is missing."""
    out: list[tuple[str, bool]] = []
    if not isinstance(expr, dict):
        return out
    op = expr.get("op")
    if op in ("per_100", "per_student"):
        out.append((ENROLMENT, False))
    if op == "rooms_per_12_classes":
        out.append((expr.get("classes", CLASSES), False))
    if "fact" in expr:
        out.append((expr["fact"], op == "fact" and "default" in expr))
    for key in ("num", "den", "arg"):
        out += facts_used(expr.get(key))
    for e in expr.get("args", []) if isinstance(expr.get("args"), list) else []:
        out += facts_used(e)
    return out


def parse_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from an int, a Decimal or a decimal string in the one grammar (numbers.DECIMAL_TEXT:
    "-12.50", never " 12", "1_000", "1e3", "+5", ".5" or "１２"); None for anything else."""
    if isinstance(value, str):
        return decimal_text(value)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        return None
    d = Decimal(value)
    return d if d.is_finite() else None


TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_time(value: Any) -> Decimal | None:
    """Minutes after midnight of an "HH:MM" (24-hour) string, e.g. "17:30" -> 1050; None for anything else."""
    m = TIME.match(value) if isinstance(value, str) else None
    return Decimal(int(m.group(1)) * 60 + int(m.group(2))) if m else None


def parse_threshold(value: Any) -> Decimal | None:
    """A threshold: a decimal string, or a time of day "HH:MM" as minutes after midnight."""
    return parse_time(value) if parse_time(value) is not None else parse_decimal(value)


def show_time(minutes: Decimal) -> str:
    """1050 -> "17:30"."""
    whole = int(minutes)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def evaluate(expr: dict, facts: dict[str, Any], items: dict[str, dict]) -> Any:
    """The value of an expression over normalised facts (numbers as Decimal, lists of Decimal)."""
    op = expr.get("op")
    if op == "fact":
        return _fact(expr, facts)
    if op == "const":
        value = expr["value"]
        return value if isinstance(value, bool) else parse_decimal(value)
    if op == "per_100":
        return _divide(_fact(expr, facts) * 100, _fact({"fact": ENROLMENT}, facts), ENROLMENT)
    if op == "per_student":
        return _divide(_fact(expr, facts), _fact({"fact": ENROLMENT}, facts), ENROLMENT)
    if op in ("ratio", "percent"):
        num, den = evaluate(expr["num"], facts, items), evaluate(expr["den"], facts, items)
        return _divide(num * (100 if op == "percent" else 1), den, "denominator")
    if op == "sum":
        return sum((evaluate(e, facts, items) for e in expr["args"]), Decimal(0))
    if op in ("max_of", "min_of"):
        values = _fact(expr, facts)
        if not values:
            raise Empty(f"{expr['fact']} is empty")
        return max(values) if op == "max_of" else min(values)
    if op == "count":
        return Decimal(len(_fact(expr, facts)))
    if op == "rooms_per_12_classes":
        return _divide(Decimal(len(_fact(expr, facts))), blocks_of_12(expr, facts), CLASSES)
    if op == "rating_at_least":
        # Choices are listed best first, so "at least" means "at or before" in that list.
        choices = items[expr["fact"]]["choices"]
        return choices.index(_fact(expr, facts)) <= choices.index(expr["value"])
    if op == "all":
        return all([evaluate(e, facts, items) for e in expr["args"]])
    if op == "any":
        return any([evaluate(e, facts, items) for e in expr["args"]])
    if op == "not":
        return not evaluate(expr["arg"], facts, items)
    # Unreachable for a validated definition; refuse rather than guess.
    raise ValueError(f"unknown op {op!r}")


def blocks_of_12(expr: dict, facts: dict[str, Any]) -> Decimal:
    """Rooms a school needs of a kind: one per 12 classes or part of 12 (ceil(classes / 12))."""
    classes = len(_fact({"fact": expr.get("classes", CLASSES)}, facts))
    return (Decimal(classes) / 12).to_integral_value(rounding=ROUND_CEILING)


def _fact(expr: dict, facts: dict[str, Any]) -> Any:
    code = expr["fact"]
    value = facts.get(code)
    if value is None:
        if "default" in expr:
            default = expr["default"]
            number = parse_decimal(default)
            return default if number is None else number
        raise Missing(code)
    return value


def _divide(num: Decimal, den: Decimal, what: str) -> Decimal:
    if den == 0:
        raise Undefined(f"{what} is 0")
    return num / den
