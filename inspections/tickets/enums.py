"""Finding sources and rectification ticket states."""
from enum import StrEnum


class FindingSource(StrEnum):
    scoring = "scoring"
    inspector_flag = "inspector_flag"


class TicketStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    awaiting_verification = "awaiting_verification"
    closed = "closed"
    cancelled = "cancelled"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    veto = "veto"
