"""Form errors as a person reads them: the field named as the form labels it, what to do, in the page's language.

The domain services say what went wrong as kinds of message (inspections.errors.Says: a code, the facts, and
the English sentence the API shows). A page looks the code up in DOMAIN and says it through the catalogue;
ids and internal names in the facts are never shown (tests/web/test_form_messages.py checks every kind in both
languages). Other messages (the API schemas', read by the ticket form) map by their start in MESSAGES to a
msgid; a message neither table knows reads as a generic, translated line.
"""
from __future__ import annotations

from inspections.errors import Message
from server.web.i18n import N_, _, _l

# Field name (as the services and schemas name it) -> the label the form shows.
FIELD_LABELS = {
    "school_id": _l("School"), "recurrence": _l("Recurrence"), "every": _l("Every"),
    "start_date": _l("Start date"), "end_date": _l("End date"), "inspector_ids": _l("Inspectors"),
    "inspector_id": _l("Inspectors"), "notes": _l("Notes"), "note": _l("Note"), "plan": _l("Milestone"),
    "milestone": _l("Milestone"), "due": _l("Milestone due"), "photo_ids": _l("Evidence photos"),
    "photos": _l("Evidence photos"), "to": _l("Status"),
    # The school register and the accounts (server/web/register.py).
    "code": _l("School code"), "name": _l("School name"), "jurisdiction_id": _l("County"), "kind": _l("Kind"),
    "school_type": _l("School type"), "locale": _l("Urban or rural"), "enrolment_primary": _l("Primary students"),
    "enrolment_junior": _l("Junior secondary students"), "address": _l("Address"), "latitude": _l("Latitude"),
    "longitude": _l("Longitude"), "active": _l("State"), "username": _l("Username"),
    "display_name": _l("Display name"), "password": _l("Password"), "password2": _l("Repeat the password"),
    "role": _l("Role"), "assigned_school_ids": _l("Assigned schools"),
}

# The start of a service's or schema's English message -> what the page says instead.
MESSAGES = [
    # The school register and the accounts: before the shorter, generic starts below ("at most", "is required").
    ("cannot deactivate your own account", N_("You cannot deactivate your own account.")),
    ("must not be only spaces", N_("A password of only spaces is not allowed; choose another.")),
    ("must not be the username", N_("The password must differ from the username.")),
    ("enter both latitude and longitude", N_("Enter both latitude and longitude, or neither.")),
    ("write the milestone", N_("Write the milestone.")),
    ("must be a date from 2000-01-01 to 2100-12-31", N_("Enter a date from 2000-01-01 to 2100-12-31.")),
    ("Special numeric values (nan or infinity)", N_("Enter a number such as 28.123456.")),
    ("letters, digits, '.', '_' or '-'", N_("Use at most 32 letters, digits, '.', '_' or '-'.")),
    ("3-80 letters, digits", N_("Use 3 to 80 letters, digits or . _ @ -.")),
    ("must be at least 8 characters", N_("Use at least 8 characters.")),
    ("must be at most 200 characters", N_("Use at most 200 characters.")),
    ("between 8 and 200", N_("Use 8 to 200 characters.")),
    ("is already used", N_("This code is already used by another school.")),
    ("is already taken", N_("This username is already taken; choose another.")),
    ("is not a jurisdiction in your scope", N_("Choose one from the list.")),
    ("not schools in your scope", N_("Choose schools from the list.")),
    ("only inspectors have assigned schools", N_("Only inspectors are assigned schools.")),
    ("has no primary section", N_("This kind of school has no primary section; enter 0.")),
    ("has no junior section", N_("This kind of school has no junior secondary section; enter 0.")),
    ("schools belong to a county", N_("Choose a county.")),
    ("is required for a school user", N_("Choose the school of a school account.")),
    ("is required for an office user", N_("Choose the area of an office account.")),
    ("an inspector needs a jurisdiction", N_("Choose the inspector's area or assign schools.")),
    ("does not exist", N_("Choose one from the list.")),
    ("Not a valid UUID", N_("Choose one from the list.")),
    ("must be between -90 and 90", N_("Enter a number from -90 to 90.")),
    ("must be between -180 and 180", N_("Enter a number from -180 to 180.")),
    ("greater than or equal to 0 and less than or equal to 100000", N_("Enter a whole number from 0 to 100000.")),
    ("Not a valid integer", N_("Enter a whole number.")),
    ("Not a valid number", N_("Enter a number such as 28.123456.")),
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


def field_label(name: str, labels: dict | None = None) -> str:
    """The form's label for a field path such as "plan.0.due" (its last named part); `labels` are a
    form's own labels where they differ from FIELD_LABELS."""
    parts = [p for p in str(name).split(".") if not p.isdigit()]
    table = {**FIELD_LABELS, **(labels or {})}
    for part in reversed(parts):
        if part in table:
            return str(table[part])
    return str(_("This form"))


def message(text: str, **variables) -> str:
    """A service's English message as the page's words."""
    if isinstance(text, Said):
        return str(text)
    if isinstance(text, Message):
        return _domain(text)
    low = str(text).lower()
    for start, msgid in MESSAGES:
        if start.lower() in low:
            return _(msgid, n=_form_files(), **variables)
    return _("This value was not accepted; check it and try again.")


def field_errors(fields: dict | None, labels: dict | None = None) -> list[tuple[str, list[str]]]:
    """[(label, [messages])] for a form's errors, labels and messages in the page's language."""
    out: dict[str, list[str]] = {}
    for name, msgs in (fields or {}).items():
        label = field_label(name, labels)
        if isinstance(msgs, dict):  # marshmallow's errors of a list's items: {index: [messages]}
            msgs = [m for v in msgs.values() for m in (v if isinstance(v, list) else [v])]
        for m in (msgs if isinstance(msgs, list) else [msgs]):
            text = message(m)
            if text not in out.setdefault(label, []):
                out[label].append(text)
    return list(out.items())


def _form_files() -> int:
    from server.web import FORM_FILES
    return FORM_FILES


# A kind of domain message (its code) -> what the page says instead. FACTS below lists the facts a
# sentence shows, each in the reader's words.
DOMAIN = {
    "ticket.cannot_become": N_("This step is not open for the ticket as it stands now; reload the page to see its "
                               "state."),
    "ticket.not_your_step": N_("Your role may not take this step."),
    "ticket.step_incomplete": N_("This step needs more information; see the fields marked below."),
    "ticket.note_required": N_("Write the reason for this step."),
    "ticket.plan_required": N_("Add at least one milestone with its due date."),
    "ticket.evidence_required": N_("Add at least one evidence photo, or describe the work in 20 characters or more."),
    "ticket.invalid_evidence": N_("A photo cannot be used as evidence for this step; see the photos field."),
    "ticket.not_own_photos": N_("Only photos you uploaded, fully received, can be evidence."),
    "ticket.evidence_being_checked": N_("The evidence photos are still being checked; verify the ticket once they "
                                        "have passed the checks."),
    "ticket.photo_twice": N_("The same photo is chosen more than once; choose each photo once."),
    "ticket.no_evidence_here": N_("This step takes no photos; attach them when you report the rectification done."),
    "ticket.photos_elsewhere": N_("A photo was not uploaded for this ticket or was already used by an earlier step; "
                                  "choose it again."),
    "photos.no_ticket_here": N_("This ticket is not in your area; open it again from your ticket list."),
    "photos.ticket_takes_no_evidence": N_("This ticket takes no more evidence in its current state."),
    "planning.invalid_schedule": N_("The schedule has mistakes; see the fields marked below."),
    "planning.invalid_inspectors": N_("An inspector cannot be put on this visit; see the inspectors field."),
    "planning.inspector_not_covering": N_("Choose an active inspector whose area covers this school."),
    "planning.every_range": N_("Enter a whole number from 1 to 24."),
    "planning.end_before_start": N_("The end date must not be before the start date."),
    "planning.once_every_one": N_("A one-off visit has an interval of 1."),
    "planning.all_past": N_("No date of this schedule falls on today or later, so it would plan no visit; "
                            "change its dates."),
    "planning.notes_too_long": N_("Too long (at most 2,000 characters)."),
    "planning.same_schedule": N_("This school already has this schedule (same recurrence, interval, dates and "
                                 "inspectors); nothing was added."),
    "planning.school_inactive": N_("This school is no longer active."),
    "planning.only_planned_reassigned": N_("This visit is already %(status)s; only a planned visit can get other "
                                           "inspectors."),
    "report.invalid": N_("The report was not requested; see the fields marked below."),
    "report.county_or_city": N_("Yearly reports are made for a county or a city."),
    "report.year_not_yet": N_("Year: %(year)s has not begun; choose this year or an earlier one."),
    "ticket.milestone_past": N_("The milestone due date must be today or later."),
    "report.year_range": N_("Year: enter a whole number from 2000 to 2100."),
}

# Code -> the facts its sentence shows, in words (a status as the pages name it, never an id).
FACTS = {
    "report.year_not_yet": lambda f: {"year": str(f["year"]) if isinstance(f.get("year"), int) else "–"},
    "planning.only_planned_reassigned": lambda f: {"status": _visit_status(f.get("status"))},
}


def _visit_status(code) -> str:
    from server.web.visits import STATUS
    return str(STATUS[code]) if code in STATUS else "–"


def _domain(msg: Message) -> str:
    """A domain message in the page's words: its kind's sentence with the facts it shows (never an id)."""
    msgid = DOMAIN.get(msg.code)
    if msgid is None:
        return _("This value was not accepted; check it and try again.")
    return _(msgid, **(FACTS[msg.code](msg.facts) if msg.code in FACTS else {}))
