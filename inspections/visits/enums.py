"""Visit states."""
from enum import StrEnum


class VisitStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    submitted = "submitted"
    cancelled = "cancelled"


# Allowed status changes through the API; a submitted visit is frozen.
VISIT_TRANSITIONS = {
    VisitStatus.planned: {VisitStatus.in_progress, VisitStatus.cancelled},
    VisitStatus.in_progress: {VisitStatus.submitted, VisitStatus.cancelled},
    VisitStatus.submitted: set(),
    VisitStatus.cancelled: set(),
}
