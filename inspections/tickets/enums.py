"""Finding sources and rectification ticket states."""
from enum import StrEnum

# One severity scale: the template's indicators set it and tickets carry it on.
from inspections.scoring.enums import Severity  # noqa: F401 - re-exported


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
