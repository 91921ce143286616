"""Scoring vocabularies: school levels, item kinds, sections, verdicts and statuses."""
from enum import StrEnum


class Level(StrEnum):
    primary = "primary"
    junior = "junior"


class ItemKind(StrEnum):
    number = "number"
    integer = "integer"
    boolean = "boolean"
    rating = "rating"
    text = "text"
    class_sizes = "class_sizes"
    room_areas = "room_areas"
    time_of_day = "time_of_day"  # "HH:MM" (24-hour, local time), compared as minutes after midnight


class Section(StrEnum):
    A = "A"  # resource allocation
    B = "B"  # government guarantee
    C = "C"  # education quality
    D = "D"  # social recognition


class Verdict(StrEnum):
    passed = "pass"
    failed = "fail"
    incomplete = "incomplete"
    # Not judged on R1-R7 (special-education school, teaching point under 50 pupils); other items still are.
    exempt = "exempt"


class IndicatorStatus(StrEnum):
    met = "met"
    not_met = "not_met"
    not_assessed = "not_assessed"
    not_applicable = "not_applicable"


class Comparator(StrEnum):
    ge = "ge"
    le = "le"
    lt = "lt"  # strictly below (e.g. the quality-monitoring difference rate < 0.15)
    eq = "eq"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    veto = "veto"

