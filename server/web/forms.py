"""Form errors as a person reads them: the field named as the form labels it, what to do, in the page's language.

The domain services speak English to the API (problem+json keeps their words). A page shows the same
rule through the catalogue instead: each known message maps to a msgid; ids and internal names after
the message are never shown. A message this table does not know reads as a generic, translated line.
"""
from __future__ import annotations

from server.web.i18n import N_, _, _l

# Field name (as the services and schemas name it) -> the label the form shows.
FIELD_LABELS = {
    "school_id": _l("School"), "recurrence": _l("Recurrence"), "every": _l("Every"),
    "start_date": _l("Start date"), "end_date": _l("End date"), "inspector_ids": _l("Inspectors"),
    "inspector_id": _l("Inspectors"), "notes": _l("Notes"), "note": _l("Note"), "plan": _l("Milestone"),
    "milestone": _l("Milestone"), "due": _l("Milestone due"), "photo_ids": _l("Evidence photos"),
    "photos": _l("Evidence photos"), "to": _l("Status"),
}

# The start of a service's or schema's English message -> what the page says instead.
MESSAGES = [
    ("a reason is required", N_("Write the reason for this step.")),
    ("a rectification plan with at least one milestone", N_("Add at least one milestone with its due date.")),
    ("at least one evidence photo", N_("Add at least one evidence photo, or describe the work in 20 characters "
                                       "or more.")),
    ("only your own photos", N_("Only photos you uploaded, fully received, can be evidence.")),
    ("not uploaded as evidence for this ticket", N_("A photo was not uploaded for this ticket or was already "
                                                    "used by an earlier step; choose it again.")),
    ("not an active inspector", N_("Choose an active inspector whose area covers this school.")),
    ("must be between 1 and 24", N_("Enter a whole number from 1 to 24.")),
    ("must not be before start_date", N_("The end date must not be before the start date.")),
    ("must be 1 for a one-off visit", N_("A one-off visit has an interval of 1.")),
    ("the school is not active", N_("This school is no longer active.")),
    ("is not a school in your scope", N_("Choose a school from the list.")),
    ("is not a whole number", N_("Enter a whole number.")),
    ("is not a date", N_("Enter a date such as 2027-03-01.")),
    ("Not a valid date", N_("Enter a date such as 2027-03-01.")),
    ("is required", N_("This is required.")),
    ("Missing data for required field", N_("This is required.")),
    ("Field may not be null", N_("This is required.")),
    ("is not an inspector", N_("Choose an inspector from the list.")),
    ("choose an inspector", N_("Choose an inspector from the list.")),
    ("must be one of", N_("Choose one of the listed options.")),
    ("Must be one of", N_("Choose one of the listed options.")),
    ("Longer than maximum length", N_("This is too long.")),
    ("Length must be", N_("This is too long or too short.")),
    ("at most", N_("Too many photos in one form; send at most %(n)s.")),
    ("cannot become", N_("This step is not open for the ticket as it stands now; reload the page to see its state.")),
    ("is for", N_("Your role may not take this step.")),
    ("takes no more evidence", N_("This ticket takes no more evidence in its current state.")),
]


class Said(str):
    """A message the web layer already wrote in the page's language (shown as it is)."""


def field_label(name: str) -> str:
    """The form's label for a field path such as "plan.0.due" (its last named part)."""
    parts = [p for p in str(name).split(".") if not p.isdigit()]
    for part in reversed(parts):
        if part in FIELD_LABELS:
            return str(FIELD_LABELS[part])
    return str(_("This form"))


def message(text: str, **variables) -> str:
    """A service's English message as the page's words."""
    if isinstance(text, Said):
        return str(text)
    low = str(text).lower()
    for start, msgid in MESSAGES:
        if start.lower() in low:
            return _(msgid, n=_form_files(), **variables)
    return _("This value was not accepted; check it and try again.")


def field_errors(fields: dict | None) -> list[tuple[str, list[str]]]:
    """[(label, [messages])] for a form's errors, labels and messages in the page's language."""
    out: dict[str, list[str]] = {}
    for name, msgs in (fields or {}).items():
        label = field_label(name)
        for m in (msgs if isinstance(msgs, list) else [msgs]):
            text = message(m)
            if text not in out.setdefault(label, []):
                out[label].append(text)
    return list(out.items())


def _form_files() -> int:
    from server.web import FORM_FILES
    return FORM_FILES
