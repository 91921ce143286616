"""Tickets and their history in the reader's language, made at display time from stored facts.

A ticket stores what failed (item code, the item's names, comparator), the latest measurement, the
requirement, the gap and its unit; a history event stores its kind in `data` (escalation, closure
proposed, reopened). Nothing here reads the stored `title` except for a ticket with no facts at all.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache

from server.web.i18n import _, ngettext, page_lang

SYMBOL = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "eq": "="}


@lru_cache(maxsize=1)
def _builtin() -> dict[str, dict]:
    """Indicator code -> {name, comparator, unit} from the standards shipped with the code."""
    from inspections.templates.service import builtin_definitions
    out: dict[str, dict] = {}
    for d in builtin_definitions():
        for ind in d.get("indicators", []) + d.get("county", {}).get("indicators", []):
            out.setdefault(ind["code"], {"name": ind.get("name"), "comparator": ind.get("comparator"),
                                         "unit": ind.get("unit")})
    return out


def indicator_names() -> dict[str, str]:
    """Indicator code -> its name in the page's language (for filters and tables)."""
    return {code: _name(f.get("name"), code) for code, f in _builtin().items()}


def name_of(name, code: str) -> str:
    """A stored {"zh", "en"} name in the page's language (the code when there is none)."""
    return _name(name, code)


def _name(name, code: str) -> str:
    if isinstance(name, dict):
        return name.get("en" if page_lang() == "en" else "zh") or name.get("zh") or code
    return str(name) if name else code


def _facts(ticket) -> dict:
    facts = dict(_builtin().get(ticket.item_code, {}))
    facts.update({k: v for k, v in (ticket.facts or {}).items() if v is not None})
    return facts


def _number(value) -> str:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{d:,f}" if d == d.to_integral_value() and abs(d) >= 1000 else str(value)


def value_text(value, unit: str | None = None) -> str:
    """A measured or required value: yes/no for booleans, hh:mm for times of day, numbers as written."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value is None:
        return "–"
    if unit == "time_of_day":
        from inspections.scoring.expressions import show_time
        return show_time(Decimal(str(value)))
    if isinstance(value, (int, float, Decimal)):
        return _number(value)
    return str(value)


def amount_text(amount, unit: str | None) -> str:
    """A gap with its unit, plural as the language wants: "2 teachers", "1 room", "850.00 m²", "1.4 percentage
    points". Every unit the standards use has words here (UNITS); an unknown one reads as a bare number."""
    d = Decimal(str(amount))
    if unit in ("m2", "yuan"):
        shown = f"{d:,.2f}"
        return _("%(amount)s m²", amount=shown) if unit == "m2" else _("%(amount)s yuan", amount=shown)
    if unit in COUNTED:
        n = int(d.to_integral_value())
        if unit == "teachers":
            return ngettext("%(num)s teacher", "%(num)s teachers", n)
        if unit == "rooms":
            return ngettext("%(num)s room", "%(num)s rooms", n)
        if unit == "classes":
            return ngettext("%(num)s class", "%(num)s classes", n)
        return ngettext("%(num)s student", "%(num)s students", n)
    shown = _number(d)
    if unit == "percentage_points":
        return _("%(amount)s percentage points", amount=shown)
    if unit == "percent":
        return _("%(amount)s per cent", amount=shown)
    if unit == "m2_per_student":
        return _("%(amount)s m² per student", amount=shown)
    if unit == "yuan_per_student":
        return _("%(amount)s yuan per student", amount=shown)
    if unit == "per_100_students":
        return _("%(amount)s per 100 students", amount=shown)
    if unit == "rooms_per_12_classes":
        return _("%(amount)s rooms per 12 classes", amount=shown)
    return shown


COUNTED = ("teachers", "rooms", "classes", "students")
# Every unit code the standards may name, worded by amount_text and _unit_word (a test holds the standards to it).
UNITS = COUNTED + ("m2", "yuan", "percentage_points", "percent", "m2_per_student", "yuan_per_student",
                   "per_100_students", "rooms_per_12_classes")


def measurement(ticket) -> str:
    """"Measured 0.67, required ≥ 0.9, short by 2 teachers" (or "over by 9 students" under a maximum)."""
    f = _facts(ticket)
    comparator, unit = f.get("comparator"), f.get("unit")
    measured, required = value_text(ticket.measured, unit), value_text(ticket.required, unit)
    required = f"{SYMBOL[comparator]} {required}" if comparator in SYMBOL else required
    if ticket.shortfall is None or ticket.shortfall == 0:
        return _("Measured %(measured)s, required %(required)s", measured=measured, required=required)
    amount = amount_text(ticket.shortfall, ticket.unit)
    if comparator in ("le", "lt"):
        return _("Measured %(measured)s, required %(required)s, over by %(amount)s", measured=measured,
                 required=required, amount=amount)
    return _("Measured %(measured)s, required %(required)s, short by %(amount)s", measured=measured,
             required=required, amount=amount)


def item_name(ticket) -> str:
    return _name(_facts(ticket).get("name"), ticket.item_code)


def ticket_title(ticket) -> str:
    """The ticket's title in the page's language."""
    f = _facts(ticket)
    if f.get("source") == "inspector_flag":
        note = f.get("note")
        return (_("Flagged by the inspector: %(item)s (%(note)s)", item=item_name(ticket), note=note) if note
                else _("Flagged by the inspector: %(item)s", item=item_name(ticket)))
    if not f and ticket.title:
        return ticket.title
    if ticket.measured is None and ticket.required is None:
        return item_name(ticket)
    return _("%(item)s: %(measurement)s", item=item_name(ticket), measurement=measurement(ticket))


def event_text(event, ticket) -> str:
    """What a history entry says: the system's own steps in words, a person's note as they wrote it."""
    data = event.data or {}
    if "escalation" in data:
        days = int(data.get("days_overdue") or 0)
        return ngettext("Overdue by %(num)s day (due %(due)s): escalated to the supervisory office",
                        "Overdue by %(num)s days (due %(due)s): escalated to the supervisory office", days,
                        due=ticket.due_date.isoformat() if ticket.due_date else "–")
    if "evidence_rejected" in data:
        return _("An evidence photo failed the checks and no other evidence remains: the ticket is back in progress.")
    if "closure_proposed_by_visit" in data:
        return _("A later visit found this item met; an inspector may verify and close the ticket.")
    if event.from_status == "closed" and event.to_status == "open" and data.get("visit_id"):
        return _("Reopened: a later visit found the same failure.")
    if event.from_status is None and event.to_status == "open" and data.get("visit_id"):
        return _("Opened after a visit.")
    return event.note or ""


def export_columns() -> list[str]:
    """The export's headers in the reader's language."""
    return [_("School code"), _("School"), _("County"), _("Indicator code"), _("Indicator"), _("Ticket"),
            _("Severity"), _("Status"), _("Overdue"), _("Opened at"), _("Deadline"), _("Closed at"), _("Measured"),
            _("Required"), _("Gap"), _("Unit")]



def _unit_word(unit: str | None) -> str:
    words = {"teachers": _("teachers"), "rooms": _("rooms"), "classes": _("classes"), "students": _("students"),
             "m2": _("m²"), "yuan": _("yuan"), "percentage_points": _("percentage points"), "percent": _("per cent"),
             "m2_per_student": _("m² per student"), "yuan_per_student": _("yuan per student"),
             "per_100_students": _("per 100 students"), "rooms_per_12_classes": _("rooms per 12 classes")}
    return words.get(unit or "", unit or "")


def _cell_number(value):
    """A number stays a number (Decimal/int/float; a spreadsheet sums it); anything else reads as words."""
    if isinstance(value, bool) or value is None:
        return value_text(value) if value is not None else ""
    if isinstance(value, (int, float, Decimal)):
        return value
    return str(value)


def export_row(row, today) -> list:
    """One ticket as an export row: words in the reader's language, local times to the minute, numbers as
    numbers, no internal ids."""
    from server.web.i18n import label, local_time
    t = row.Ticket
    overdue = t.status in OPEN_STATUSES and t.due_date is not None and t.due_date < today
    return [row.code, row.name, row.county or "", t.item_code, item_name(t), ticket_title(t),
            label("severity", t.severity), label("status", t.status), _("Yes") if overdue else _("No"),
            local_time(t.opened_at), t.due_date.isoformat() if t.due_date else "", local_time(t.closed_at),
            _cell_number(t.measured), _cell_number(t.required),
            t.shortfall if t.shortfall is not None else "", _unit_word(t.unit)]


OPEN_STATUSES = ("open", "acknowledged", "in_progress", "awaiting_verification")


def photo_flags(photo) -> list[str]:
    """A photo's integrity warnings in the reader's language, from the facts stored (photos.FLAG_CODES); flags
    stored as English sentences before that are still read."""
    import re
    out = []
    for flag in (photo.evidence or {}).get("flags", []) if photo.flagged else []:
        if isinstance(flag, dict):
            code = flag.get("code")
            if code == "before_start":
                out.append(_("Taken %(hours)s hours before the visit's day", hours=flag.get("hours", "?")))
            elif code == "after_end":
                out.append(_("Taken %(hours)s hours after the visit ended", hours=flag.get("hours", "?")))
            elif code == "far_from_school":
                out.append(_("Taken %(km)s km from the school", km=flag.get("km", "?")))
            elif code == "reused":
                out.append(_("The same file is evidence on other visits"))
            else:
                out.append(_("Needs a check"))
            continue
        text = str(flag)
        if "before the visit started" in text:
            out.append(_("Taken before the visit started"))
        elif "after the visit ended" in text:
            out.append(_("Taken after the visit ended"))
        elif "from the school" in text:
            m = re.search(r"([\d.]+) km", text)
            out.append(_("Taken %(km)s km from the school", km=m.group(1) if m else "?"))
        elif "other visits" in text:
            out.append(_("The same file is evidence on other visits"))
        else:
            out.append(_("Needs a check"))
    return out


def photo_place(photo) -> str:
    """Where and when a photo was taken, as far as it says."""
    from server.web.i18n import local_time
    parts = []
    if photo.captured_at:
        parts.append(_("Taken %(when)s", when=local_time(photo.captured_at)))
    if photo.latitude is not None and photo.longitude is not None:
        parts.append(_("at %(lat)s, %(lon)s", lat=f"{photo.latitude:.5f}", lon=f"{photo.longitude:.5f}"))
    return " ".join(parts) if parts else _("No time or place recorded")
