"""Recurrence of planned visits and the states a planned visit is in."""
from enum import StrEnum


class Recurrence(StrEnum):
    once = "once"
    monthly = "monthly"
    quarterly = "quarterly"
    termly = "termly"  # a school term (学期): every six months


# Months per recurrence unit; `once` has no repeat.
MONTHS = {Recurrence.monthly: 1, Recurrence.quarterly: 3, Recurrence.termly: 6}


class PlanState(StrEnum):
    upcoming = "upcoming"  # planned, date today or ahead
    late = "late"          # planned, date passed, not started, still within the grace period
    missed = "missed"      # date passed beyond the grace period, neither submitted nor cancelled
