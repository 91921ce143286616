"""Every ticket transition, allowed and forbidden, for every role (table written independently)."""
from __future__ import annotations

import itertools
import uuid

import pytest

from inspections.accounts.enums import Role
from inspections.accounts.scope import Principal
from inspections.errors import Conflict, Forbidden, ValidationFailed
from inspections.tickets import service
from inspections.tickets.enums import Severity, TicketStatus as T
from inspections.tickets.models import Ticket

S, I, O, A = Role.school, Role.inspector, Role.office, Role.admin
# (from, to): roles allowed. Everything else is illegal.
EXPECTED = {
    ("open", "acknowledged"): {S},
    ("open", "in_progress"): {S},
    ("acknowledged", "in_progress"): {S},
    ("in_progress", "awaiting_verification"): {S},
    ("awaiting_verification", "closed"): {I, O},
    ("awaiting_verification", "in_progress"): {I, O},
    ("closed", "open"): {I, O},
    ("open", "cancelled"): {O, A},
    ("acknowledged", "cancelled"): {O, A},
    ("in_progress", "cancelled"): {O, A},
    ("awaiting_verification", "cancelled"): {O, A},
}
CASES = [(f, t, r) for f, t in itertools.product([s.value for s in T], repeat=2) for r in Role]


class FakeSession:
    """Collects what the service adds; the state machine itself needs no database."""

    def __init__(self):
        self.added = []

    def add(self, obj):
        self.added.append(obj)

    def scalar(self, stmt):
        return None  # an empty database: no evidence step waiting for its photos' checks

    def flush(self):
        for obj in self.added:
            if getattr(obj, "id", None) is None:
                obj.id = uuid.uuid4()


@pytest.mark.parametrize("frm,to,role", CASES, ids=[f"{f}->{t}-{r.value}" for f, t, r in CASES])
def test_transition_table(frm, to, role):
    ticket = Ticket(id=uuid.uuid4(), school_id=uuid.uuid4(), item_code="R3", section="", title="t",
                    status=T(frm), severity=Severity.medium, version=1)
    actor = Principal(user_id=uuid.uuid4(), role=role)
    kwargs = {"note": "a sufficiently long written account of the fix", "plan": [{"milestone": "m", "due": "2027-01-01"}]}
    allowed = EXPECTED.get((frm, to))
    if allowed is None:
        with pytest.raises(Conflict) as exc:
            service.transition(FakeSession(), ticket, to=T(to), actor=actor, **kwargs)
        assert frm in exc.value.message and to in exc.value.message
        assert ticket.status == T(frm)
    elif role not in allowed:
        with pytest.raises(Forbidden):
            service.transition(FakeSession(), ticket, to=T(to), actor=actor, **kwargs)
        assert ticket.status == T(frm)
    else:
        s = FakeSession()
        ev = service.transition(s, ticket, to=T(to), actor=actor, **kwargs)
        assert ticket.status == T(to) and ev.from_status == frm and ev.to_status == to
        assert ev.actor_id == actor.user_id and ticket.version == 2
        assert (ticket.closed_at is not None) == (to == "closed")


@pytest.mark.parametrize("frm,to,role,missing", [
    ("acknowledged", "in_progress", S, "plan"),
    ("in_progress", "awaiting_verification", S, "photo_ids"),
    ("awaiting_verification", "in_progress", I, "note"),
    ("open", "cancelled", O, "note"),
])
def test_steps_that_need_information(frm, to, role, missing):
    ticket = Ticket(id=uuid.uuid4(), school_id=uuid.uuid4(), item_code="R3", section="", title="t",
                    status=T(frm), severity=Severity.medium, version=1)
    with pytest.raises(ValidationFailed) as exc:
        service.transition(FakeSession(), ticket, to=T(to), actor=Principal(user_id=uuid.uuid4(), role=role))
    assert missing in exc.value.fields
    assert ticket.status == T(frm)
