"""Checklist template pages for offices and admins: the templates that apply in my scope, a version's items
and indicators in the page's language, and, for the office whose area a local template belongs to, a
local template, a new version that tightens thresholds (a draft, previewed against its parent) and its
publication. The template service decides every rule (a local template may only tighten or add); the
pages only translate its field errors."""
from __future__ import annotations

import re
import uuid

import unicodedata

from flask import abort, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from inspections.accounts.enums import Role
from inspections.accounts.scope import can_manage_jurisdiction
from inspections.audit import service as audit
from inspections.errors import DomainError
from inspections.org.enums import JurisdictionLevel
from inspections.org.models import Jurisdiction
from inspections.scoring.definition import target_indicators
from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate, TemplateVersion
from server.extensions import session
from server.web import _principal, bp, nav_link
from server.web import forms
from server.web.i18n import _, _l, label, ngettext
from server.web.words import SYMBOL, name_of

VIEWERS = (Role.office, Role.admin)
nav_link("web.template_list", _l("Templates"), *VIEWERS)

VERSION_STATUS = {"draft": _l("Draft"), "published": _l("Published"), "retired": _l("Retired")}
SECTION = {"A": _l("Resource allocation"), "B": _l("Government guarantee"), "C": _l("Education quality"),
           "D": _l("Social recognition")}
UNIT = {"students": _l("students"), "teachers": _l("teachers"), "rooms": _l("rooms"), "m2": _l("m²"),
        "yuan": _l("yuan"), "percent": "%", "m2_per_student": _l("m² per student"),
        "yuan_per_student": _l("yuan per student"), "per_100_students": _l("per 100 students"),
        "rooms_per_12_classes": _l("rooms per 12 classes")}
KIND = {"number": _l("Number"), "integer": _l("Whole number"), "boolean": _l("Yes or no"), "rating": _l("Rating"),
        "text": _l("Text"), "class_sizes": _l("Class sizes"), "room_areas": _l("Room areas"),
        "time_of_day": _l("Time of day")}
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
LEVELS = ("primary", "junior")
SEVERITIES = ("medium", "high", "low")
SECTIONS_OFFERED = ("B", "C")  # the parts of the standard the form offers for what a local template adds
# "At least": a school below it is short by the difference; "at most": a school above it is over by it.
COMPARATOR = {"ge": _l("At least"), "le": _l("At most")}
TARGET_KIND = {"share": _l("At least this share of schools meets it (%)"),
               "fewer": _l("At least this many failing schools fewer each year")}
# Units a shortfall is worded in (server.web.words.amount_text); counted ones are answered in whole numbers.
AMOUNT_UNITS = ("students", "teachers", "rooms", "m2", "yuan")
COUNTED = ("students", "teachers", "rooms")


def _word(table: dict, code) -> str:
    value = getattr(code, "value", code)
    return str(table[value]) if value in table else ""


def _visible_template(p, template_id) -> ChecklistTemplate:
    try:
        tid = uuid.UUID(str(template_id))
    except ValueError:
        abort(404)
    db = session()
    tpl = db.scalar(select(ChecklistTemplate).where(ChecklistTemplate.id == tid, templates.visible_filter(db, p))
                    .options(selectinload(ChecklistTemplate.versions)))
    if tpl is None:
        abort(404)
    return tpl


def _visible_version(p, version_id) -> TemplateVersion:
    try:
        vid = uuid.UUID(str(version_id))
    except ValueError:
        abort(404)
    db = session()
    v = templates.version_in_scope(db, p, vid)
    if v is None:
        abort(404)
    return v


def _manages(p, tpl: ChecklistTemplate) -> bool:
    """Only the owning office (or one above it, or an admin) changes a local template; built-ins never."""
    owner = session().get(Jurisdiction, tpl.jurisdiction_id) if tpl.jurisdiction_id else None
    return owner is not None and can_manage_jurisdiction(p, owner)


def _own_area(p) -> Jurisdiction | None:
    """The office's own city or county, when it has no template yet (it may make one)."""
    if p.role != Role.office or p.jurisdiction_id is None:
        return None
    db = session()
    j = db.get(Jurisdiction, p.jurisdiction_id)
    if j is None or j.level not in (JurisdictionLevel.city, JurisdictionLevel.county):
        return None
    if db.scalar(select(ChecklistTemplate.id).where(ChecklistTemplate.jurisdiction_id == j.id)):
        return None
    return j


def _own_template(p) -> ChecklistTemplate | None:
    """The template of the office's own area, if it has made one."""
    if p.role != Role.office or p.jurisdiction_id is None:
        return None
    return session().scalar(select(ChecklistTemplate).where(ChecklistTemplate.jurisdiction_id == p.jurisdiction_id))


def _parents(p, area: Jurisdiction) -> list[ChecklistTemplate]:
    """Templates a new local template of `area` may extend: the national ones and those of areas above it."""
    db = session()
    above = [uuid.UUID(x) for x in area.path.strip("/").split("/") if x and x != str(area.id)]
    return db.scalars(select(ChecklistTemplate).where(
        (ChecklistTemplate.jurisdiction_id.is_(None)) | ChecklistTemplate.jurisdiction_id.in_(above))
        .order_by(ChecklistTemplate.code)).all()


def _owners(tpls) -> dict:
    ids = {t.jurisdiction_id for t in tpls if t.jurisdiction_id}
    return {j.id: j.name for j in session().scalars(select(Jurisdiction).where(Jurisdiction.id.in_(ids)))} \
        if ids else {}


def _list_page(p, error=None, fields=None, form=None, status=200):
    db = session()
    tpls = db.scalars(select(ChecklistTemplate).where(templates.visible_filter(db, p))
                      .options(selectinload(ChecklistTemplate.versions)).order_by(ChecklistTemplate.code)).all()
    area = _own_area(p)
    return render_template("checklists.html", tpls=tpls, owners=_owners(tpls), area=area,
                           parents=_parents(p, area) if area else [], statuses=VERSION_STATUS, word=_word,
                           manages=lambda t: _manages(p, t), error=error, fields=fields, form=form or {}), status


@bp.get("/templates")
def template_list():
    """The templates that apply in my scope, each with its versions."""
    return _list_page(_principal(*VIEWERS))


@bp.post("/templates")
def template_create():
    """Make my city's or county's local template, extending the national one or one of an area above."""
    p = _principal(*VIEWERS)
    area = _own_area(p)
    if area is None:
        made = _own_template(p)
        if made is None:
            abort(403)
        # The form again (the back button): the area's template exists; show it rather than a refusal.
        flash(_("Your area already has a template; add a version to it."))
        return redirect(url_for("web.template_detail", template_id=made.id), 303)
    form = request.form
    code, name = form.get("code", "").strip().lower(), form.get("name", "").strip()
    fields: dict[str, list[str]] = {}
    if not CODE.match(code):
        fields["code"] = [forms.Said(_("Use 2 to 63 lower-case letters, digits and hyphens, such as city-2027."))]
    if not name or len(name) > 200:
        fields["name"] = [forms.Said(_("Give the template a name of up to 200 characters."))]
    parent = next((t for t in _parents(p, area) if str(t.id) == form.get("parent_id")), None)
    if parent is None:
        fields["parent_id"] = [forms.Said(_("Choose the template it extends from the list."))]
    db = session()
    if not fields:
        try:
            tpl = templates.create_template(db, code=code, name=name, jurisdiction=area, parent=parent)
        except DomainError as e:
            db.rollback()
            fields = e.fields
        else:
            audit.record(db, actor_id=p.user_id, action="create", entity="template", entity_id=tpl.id,
                         data={"code": tpl.code})
            db.commit()
            flash(_("The template was made. Add a version to set its thresholds."))
            return redirect(url_for("web.template_detail", template_id=tpl.id), 303)
    g.page_url = url_for("web.template_list")
    return _list_page(p, _("The template was not made."), _errors(fields, None), form, 422)


@bp.get("/templates/<template_id>")
def template_detail(template_id):
    """One template: its versions, and for the office it belongs to, the form for a new version."""
    p = _principal(*VIEWERS)
    tpl = _visible_template(p, template_id)
    return _template_page(p, tpl)


def _template_page(p, tpl, error=None, fields=None, form=None, status=200):
    manages = _manages(p, tpl)
    defn = _current_definition(tpl) if manages else {}
    return render_template("checklist.html", tpl=tpl, owner=_owners([tpl]).get(tpl.jurisdiction_id),
                           manages=manages, indicators=_tightenable(defn) if defn else [],
                           units=[(u, _word(UNIT, u)) for u in _units(defn)], school_indicators=[
                               (i["code"], name_of(i.get("name"), i["code"])) for i in defn.get("indicators", [])
                               if i.get("enabled", True)],
                           has_county=isinstance(defn.get("county"), dict), levels=LEVELS, severities=SEVERITIES,
                           comparators=COMPARATOR, target_kinds=TARGET_KIND,
                           statuses=VERSION_STATUS, word=_word, symbol=lambda c: SYMBOL.get(c, ""), error=error,
                           fields=fields, form=form or _FreshForm()), status


class _FreshForm(dict):
    """An empty form: every field empty, both school levels ticked."""

    def getlist(self, key):
        return list(LEVELS) if key == "item_levels" else []


def _current_definition(tpl) -> dict:
    """What a new version of `tpl` starts from: its latest published version, else its parent's."""
    db = session()
    current = templates.latest_published(db, tpl.id) or (
        templates.latest_published(db, tpl.parent_id) if tpl.parent_id else None)
    return current.definition if current else {}


def _units(defn: dict) -> list[str]:
    """The units a measured item may be counted in: those the definition's items already use that the pages
    can say an amount in (a shortfall of "2 teachers", "850.00 m²")."""
    used = {i.get("unit") for i in defn.get("items", []) + (defn.get("county") or {}).get("items", [])}
    return [u for u in AMOUNT_UNITS if u in used]


def _tightenable(defn: dict) -> list[dict]:
    """Indicators a new version may tighten (not the yes/no checks), one row per level, with the threshold
    in force."""
    rows = []
    for ind in defn.get("indicators", []) + (defn.get("county") or {}).get("indicators", []):
        if ind.get("comparator") not in ("ge", "gt", "le", "lt") or not ind.get("enabled", True):
            continue
        for level in ind.get("levels", []):
            t = ind["threshold"].get(level) if isinstance(ind.get("threshold"), dict) else ind.get("threshold")
            rows.append({"code": ind["code"], "name": name_of(ind.get("name"), ind["code"]), "level": level,
                         "comparator": ind["comparator"], "threshold": t, "unit": _word(UNIT, ind.get("unit"))})
    return rows


@bp.post("/templates/<template_id>/versions")
def template_new_version(template_id):
    """A draft version of my local template: the thresholds entered, on top of the previous version."""
    p = _principal(*VIEWERS)
    tpl = _visible_template(p, template_id)
    if not _manages(p, tpl):
        abort(403)
    # Full-width digits and signs ("４.５") become ASCII before anything reads them; they are never stored.
    form = MultiDict([(k, unicodedata.normalize("NFKC", v)) for k, v in request.form.items(multi=True)])
    changes: dict[str, dict[str, str]] = {}
    for key, value in form.items():
        # "t.<indicator>.<level>"; indicator codes may contain dots themselves (C9.2, B3.1).
        code, _dot, level = key[2:].rpartition(".") if key.startswith("t.") else ("", "", "")
        if code and level in LEVELS and value.strip():
            changes.setdefault(code, {})[level] = value.strip()
    fields: dict[str, list[str]] = {}
    overlay: dict = {"set_thresholds": changes} if changes else {}
    groups: list[dict] = []  # what each added thing is called on the form, to name the service's errors
    for made in (_new_check(form, fields), _new_measured_item(form, fields, _units(_current_definition(tpl))),
                 _new_target(form, fields)):
        if made:
            added, group = made
            for key, objs in added.items():
                overlay[key] = overlay.get(key, []) + objs
            groups.append(group)
    if form.get("check_code", "").strip() and form.get("check_code", "").strip() == form.get("item_code", "").strip():
        # One code for two new things: say it once, at the second of them.
        fields["check_code"] = [forms.Said(_("This code is already used; choose another."))]
    effective = None
    if form.get("effective_from"):
        from datetime import date
        try:
            effective = date.fromisoformat(form["effective_from"])
        except ValueError:
            fields["effective_from"] = ["is not a date"]
    if not overlay and not fields:
        fields["set_thresholds"] = [forms.Said(_("Enter at least one new threshold, or add a check, a measured item "
                                                 "or a county target."))]
    db = session()
    if not fields:
        try:
            v = templates.create_version(db, tpl, overlay=overlay, effective_from=effective)
        except DomainError as e:
            db.rollback()
            fields = e.fields
        else:
            audit.record(db, actor_id=p.user_id, action="create", entity="template_version", entity_id=v.id,
                         data={"template": tpl.code, "number": v.number})
            db.commit()
            flash(_("Draft version %(number)s was made. Check it below, then publish it.", number=v.number))
            return redirect(url_for("web.template_version", version_id=v.id), 303)
    g.page_url = url_for("web.template_detail", template_id=tpl.id)
    return _template_page(p, tpl, _("The version was not made."),
                          _errors(fields, tpl, _prefixes(tpl, overlay, groups)), form, 422)


def _prefixes(tpl, overlay: dict, groups: list[dict]) -> list[tuple[re.Pattern, dict]]:
    """Where the service reports each added thing: by its code in the resolved definition, by its index in
    the overlay it merged from the previous version's (merge_overlays, the same function), or, with no code,
    by an index among the items or targets."""
    from inspections.scoring.overlay import merge_overlays
    previous = templates.latest_published(session(), tpl.id)
    merged = merge_overlays(previous.overlay if previous is not None else None, overlay)
    out = []
    for group in groups:
        for key, code in group["objects"]:
            where = {"add_items": "items", "add_indicators": "indicators", "add_county_targets": "county.targets"}[key]
            at = [i for i, x in enumerate(merged.get(key, [])) if isinstance(x, dict) and x.get("code") == code]
            names = [re.escape(f"{where}[{code}]")] if code else [re.escape(where) + r"\[\d+\]"]
            names += [re.escape(f"{key}[{i}]") for i in at[-1:]]
            if key == "add_county_targets":
                names.append(re.escape(key) + "$")
            out.append((re.compile(r"^(?:" + "|".join(names) + r")(?:\.(.*))?$"), group))
    return out


def _new_measured_item(form, fields: dict, units: list[str]):
    """A measured item the local template adds (a number the inspector enters, in one of the definition's
    units) and its indicator (at least / at most a threshold per school level, with the shortfall counted in
    the item's unit), from the form's "item_*" fields; None when they are empty. The service checks them."""
    code = form.get("item_code", "").strip()
    zh, en = form.get("item_zh", "").strip(), form.get("item_en", "").strip()
    thresholds = {level: form.get(f"item_t_{level}", "").strip() for level in LEVELS}
    if not (code or zh or en or any(thresholds.values())):
        return None
    unit = form.get("item_unit", "")
    if unit not in units:  # a word the page cannot say is no unit of this form
        fields["item_unit"] = [forms.Said(_("Choose one of the listed options."))]
        return None
    for name, allowed in (("item_section", SECTIONS_OFFERED), ("item_comparator", tuple(COMPARATOR)),
                          ("item_severity", SEVERITIES)):
        if form.get(name, "") not in allowed:
            fields[name] = [forms.Said(_("Choose at least or at most.") if name == "item_comparator" else
                                       _("Choose one of the listed options."))]
    if fields:
        return None
    levels = [level for level in LEVELS if level in form.getlist("item_levels")]
    counted = unit in COUNTED
    section = form.get("item_section", "")
    item = {"code": code, "kind": "integer" if counted else "number", "unit": unit, "section": section,
            "levels": levels, "photo_required": form.get("item_photo") == "yes", "help": {"zh": zh, "en": en},
            "enabled": True}
    indicator = {"code": f"L.{code}", "name": {"zh": zh, "en": en}, "section": section, "levels": levels,
                 "expr": {"op": "fact", "fact": code}, "comparator": form.get("item_comparator", ""),
                 "threshold": {level: thresholds[level] for level in levels if thresholds[level]}, "unit": unit,
                 # The engine counts a gap below a minimum or above a maximum in the item's own unit.
                 "shortfall": {"unit": unit, "round": "whole" if counted else "cent"},
                 "severity": form.get("item_severity", ""), "weight": "1", "school_rule": False, "enabled": True}
    group = {"label": _l("Measured item"), "objects": [("add_items", code), ("add_indicators", f"L.{code}")],
             "labels": {"code": _l("Item code"), "help": _l("Question"), "name": _l("Question"),
                        "unit": _l("Unit"), "kind": _l("Unit"), "shortfall": _l("Requirement"),
                        "section": _l("Part of the standard"), "levels": _l("School levels"),
                        "photo_required": _l("Photo"), "comparator": _l("Requirement"), "threshold": _l("Threshold"),
                        "severity": _l("Severity"), "expr": _l("Item code")}}
    return {"add_items": [item], "add_indicators": [indicator]}, group


def _new_target(form, fields: dict):
    """A county target the local template adds (a share of the county's schools meeting school indicators,
    or failing schools fewer each year), from the form's "target_*" fields; None when they are empty."""
    code = form.get("target_code", "").strip()
    zh, en = form.get("target_zh", "").strip(), form.get("target_en", "").strip()
    value = form.get("target_value", "").strip()
    indicators = form.getlist("target_indicators")
    if not (code or zh or en or value or indicators):
        return None
    for name, allowed in (("target_section", SECTIONS_OFFERED), ("target_kind", tuple(TARGET_KIND))):
        if form.get(name, "") not in allowed:
            fields[name] = [forms.Said(_("Choose one of the listed options."))]
    if fields.keys() & {"target_section", "target_kind"}:
        return None
    target = {"code": code, "name": {"zh": zh, "en": en}, "section": form.get("target_section", ""),
              "indicator": indicators[0] if len(indicators) == 1 else indicators}
    if form.get("target_kind") == "fewer":
        # isdigit() alone takes every script's digits ("١٢"); only the grammar's ASCII ones become a number.
        target["min_fewer_per_year"] = int(value) if value.isascii() and value.isdigit() else value
    else:  # the form asks a percentage; the definition keeps a share ("70" -> "0.7")
        from inspections.scoring.expressions import parse_decimal
        percent = parse_decimal(value)
        if percent is not None and 0 < percent < 1:  # "0.7" is a share typed where a percentage is asked
            fields["target_value"] = [forms.Said(_("Enter the percentage of schools, such as %(example)s for "
                                                   "%(example)s%%.", example=70))]
            return None
        target["min_share_met"] = _share(value)
    group = {"label": _l("County target"), "objects": [("add_county_targets", code)],
             "labels": {"code": _l("Target code"), "name": _l("Name"), "section": _l("Part of the standard"),
                        "indicator": _l("Indicators counted"), "min_share_met": _l("Value"),
                        "min_fewer_per_year": _l("Value")}}
    return {"add_county_targets": [target]}, group


def _share(percent: str) -> str:
    """"70" -> "0.7"; text outside the decimal grammar is passed on as typed, for the service to refuse."""
    from inspections.scoring.expressions import parse_decimal
    d = parse_decimal(percent)
    return percent if d is None else format((d / 100).normalize(), "f")


CHECK_CODE = re.compile(r"^[a-z][a-z0-9_]{2,39}$")


def _new_check(form, fields: dict):
    """A yes/no check the local template adds (an item answered yes or no and an indicator requiring yes),
    from the form's "check_*" fields; None when they are empty. The service checks the result."""
    code = form.get("check_code", "").strip()
    zh, en = form.get("check_zh", "").strip(), form.get("check_en", "").strip()
    if not (code or zh or en):
        return None
    if not CODE_OK(code):
        fields["check_code"] = [forms.Said(_("Use 3 to 40 lower-case letters, digits and underscores, starting "
                                             "with a letter, such as has_reading_room."))]
    if not zh or not en or len(zh) > 200 or len(en) > 200:
        fields["check_text"] = [forms.Said(_("Write the question in Chinese and in English (up to 200 characters "
                                             "each)."))]
    for name, allowed in (("check_section", SECTIONS_OFFERED), ("check_severity", SEVERITIES)):
        if form.get(name) and form.get(name) not in allowed:  # absent: the form's first option
            fields[name] = [forms.Said(_("Choose one of the listed options."))]
    section, severity = form.get("check_section") or "C", form.get("check_severity") or "medium"
    if fields:
        return None
    levels = ["primary", "junior"]
    item = {"code": code, "kind": "boolean", "unit": "", "section": section, "levels": levels,
            "photo_required": False, "help": {"zh": zh, "en": en}}
    indicator = {"code": f"L.{code}", "name": {"zh": zh, "en": en}, "section": section, "levels": levels,
                 "expr": {"op": "fact", "fact": code}, "comparator": "eq", "threshold": True, "unit": "",
                 "shortfall": None, "severity": severity, "weight": "1", "school_rule": False}
    group = {"label": _l("New check"), "objects": [("add_items", code), ("add_indicators", f"L.{code}")],
             "labels": {"code": _l("Check code"), "help": _l("Question"), "name": _l("Question"),
                        "section": _l("Part of the standard"), "severity": _l("Severity")}}
    return {"add_items": [item], "add_indicators": [indicator]}, group


def CODE_OK(code: str) -> bool:
    return bool(CHECK_CODE.match(code))


@bp.get("/templates/versions/<version_id>")
def template_version(version_id):
    """A version's indicators and items in the page's language; a draft shows what it changes from its parent."""
    p = _principal(*VIEWERS)
    return _version_page(p, _visible_version(p, version_id))


def _version_page(p, v: TemplateVersion, error=None, fields=None, status=200):
    parent = session().get(TemplateVersion, v.parent_version_id) if v.parent_version_id else None
    before = {}
    inherited = None  # codes the parent has (None: a template of its own, nothing is "added")
    if parent is not None:
        for row in _tightenable(parent.definition):
            before[(row["code"], row["level"])] = row["threshold"]
        pd = parent.definition
        inherited = {x.get("code") for x in pd.get("items", []) + pd.get("indicators", []) +
                     (pd.get("county") or {}).get("indicators", []) + (pd.get("county") or {}).get("targets", [])}
    d = v.definition
    indicators = []
    for ind in d.get("indicators", []) + (d.get("county") or {}).get("indicators", []):
        if not ind.get("enabled", True):
            continue
        levels = []
        for level in ind.get("levels", []):
            t = ind["threshold"].get(level) if isinstance(ind.get("threshold"), dict) else ind.get("threshold")
            was = before.get((ind["code"], level))
            levels.append({"level": label("level", level), "threshold": _threshold(ind, t),
                           "was": _threshold(ind, was) if was is not None and str(was) != str(t) else None})
        indicators.append({"code": ind["code"], "name": name_of(ind.get("name"), ind["code"]),
                           "section": _word(SECTION, ind.get("section")), "levels": levels,
                           "severity": label("severity", ind.get("severity")) if ind.get("severity") else "",
                           "added": inherited is not None and ind["code"] not in inherited})
    items = [{"code": i["code"], "text": name_of(i.get("help") or i.get("name"), i["code"]),
              "kind": _word(KIND, i.get("kind")), "unit": _word(UNIT, i.get("unit")),
              "photo": bool(i.get("photo_required")), "added": inherited is not None and i["code"] not in inherited}
             for i in d.get("items", []) if i.get("enabled", True)]
    names = {i["code"]: name_of(i.get("name"), i["code"]) for i in d.get("indicators", [])}
    targets = [{"code": t["code"], "name": name_of(t.get("name"), t["code"]), "section": _word(SECTION, t.get("section")),
                "counted": [f"{c} {names.get(c, '')}".strip() for c in target_indicators(t)],
                "required": _target_requirement(t), "added": inherited is not None and t["code"] not in inherited}
               for t in (d.get("county") or {}).get("targets", [])]
    tpl = v.template
    return render_template("checklist_version.html", v=v, tpl=tpl, indicators=indicators, items=items,
                           targets=targets, name=name_of(d.get("name"), tpl.name), statuses=VERSION_STATUS,
                           word=_word, manages=_manages(p, tpl),
                           superseded=templates.superseded_by(session(), v) if v.status.value == "draft" else None,
                           changed=any(l["was"] for i in indicators for l in i["levels"]),
                           added=any(x["added"] for x in indicators + items + targets), error=error,
                           fields=fields), status


def _target_requirement(t: dict) -> str:
    """What a county target asks, in the page's words."""
    from decimal import Decimal
    if "min_fewer_per_year" in t:
        return ngettext("At least %(num)s failing school fewer each year",
                        "At least %(num)s failing schools fewer each year", int(t["min_fewer_per_year"]))
    share = (Decimal(str(t.get("min_share_met"))) * 100).normalize()
    return _("At least %(percent)s%% of the schools meet it", percent=format(share, "f"))


def _threshold(ind: dict, value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    sym = SYMBOL.get(ind.get("comparator"), "")
    return f"{sym} {value} {_word(UNIT, ind.get('unit'))}".strip()


@bp.post("/templates/versions/<version_id>/publish")
def template_publish(version_id):
    """Publish a draft of my local template (the service checks it once more)."""
    p = _principal(*VIEWERS)
    v = _visible_version(p, version_id)
    if not _manages(p, v.template):
        abort(403)
    db = session()
    try:
        templates.publish(db, v)
    except DomainError as e:
        db.rollback()
        g.page_url = url_for("web.template_version", version_id=v.id)
        fields = e.fields or {"version": [e.message]}
        return _version_page(p, db.get(TemplateVersion, v.id), _("The version was not published."),
                             _errors(fields, v.template), 422)
    audit.record(db, actor_id=p.user_id, action="publish", entity="template_version", entity_id=v.id)
    db.commit()
    flash(_("Version %(number)s is published; visits planned from its effective date use it.", number=v.number))
    return redirect(url_for("web.template_version", version_id=v.id), 303)


ABOVE = re.compile(r"^\S+ at (\S+) would loosen the parent threshold (\S+) \(([^)\s]+)\)$")
LOOSEN = re.compile(r"^([^\s:]+) would loosen the parent threshold ([^\s:]+)")


def _errors(fields: dict, tpl, prefixes=()) -> list[tuple[str, list[str]]]:
    """The service's field errors as the form names them, in the page's words (`prefixes`: where the service
    reports what the form added, see _prefixes)."""
    out: dict[str, list[str]] = {}
    for path, msgs in (fields or {}).items():
        parts = str(path).split(".")
        found = next(((m, group) for pattern, group in prefixes if (m := pattern.match(str(path)))), None)
        if found:
            rest, group = (found[0].group(1) or "").split("."), found[1]
            field = group["labels"].get(rest[0])
            if rest[0] == "threshold" and len(rest) > 1:
                field = _("Threshold for %(level)s", level=label("level", rest[1]))
            where = f"{group['label']} · {field}" if field else str(group["label"])
        elif parts[0] == "set_thresholds" and len(parts) >= 2:
            where = parts[1] + (f" · {label('level', parts[2])}" if len(parts) > 2 else "")
        else:
            where = {"code": _("Code"), "name": _("Name"), "parent_id": _("Extends"),
                     "jurisdiction_id": _("Area"), "effective_from": _("Effective from"),
                     "set_thresholds": _("New thresholds"), "check_code": _("Check code"),
                     "check_text": _("Question"), "item_unit": f"{_('Measured item')} · {_('Unit')}",
                     "item_section": f"{_('Measured item')} · {_('Part of the standard')}",
                     "item_comparator": f"{_('Measured item')} · {_('Requirement')}",
                     "item_severity": f"{_('Measured item')} · {_('Severity')}",
                     "target_section": f"{_('County target')} · {_('Part of the standard')}",
                     "target_kind": f"{_('County target')} · {_('Kind of target')}",
                     "target_value": f"{_('County target')} · {_('Value')}",
                     "check_section": f"{_('New check')} · {_('Part of the standard')}",
                     "check_severity": f"{_('New check')} · {_('Severity')}",
                     "version": _("Version")}.get(parts[0]) \
                or forms.field_label(path)
        for m in msgs if isinstance(msgs, list) else [msgs]:
            text = _message(m, path)
            if text not in out.setdefault(str(where), []):
                out[str(where)].append(text)
    return list(out.items())


def _message(m, path: str = "") -> str:
    if isinstance(m, forms.Said):
        return str(m)
    text = str(m)
    if path.endswith(".min_share_met"):
        return _("Enter a percentage above 0 and at most 100, such as 70.")
    if path.endswith(".min_fewer_per_year"):
        return _("Enter a whole number of schools from 1 to 1000.")
    above = ABOVE.match(text)
    if above:
        return _("%(value)s would loosen the threshold %(old)s of %(standard)s, a standard in force above this area; "
                 "a local template may only make it stricter.", value=above.group(1), old=above.group(2),
                 standard=above.group(3))
    loosen = LOOSEN.match(text)
    if loosen:
        return _("%(value)s would loosen the parent's threshold %(old)s; a local template may only make it stricter.",
                 value=loosen.group(1), old=loosen.group(2))
    for start, words in (("is out of range: a percentage", _("Enter a percentage from 0 to 100.")),
                         ("is out of range: no school", _("Enter a number above 0; no school could meet an upper "
                                                          "limit of 0.")),
                         ("is out of range: at most", _("Enter a number from 0 to 10000000000000.")),
                         ("nothing would change", _("Nothing would change; enter a stricter threshold, or add a "
                                                    "check, a measured item or a county target.")),
                         ("must be today or later", _("Choose today or a later date, or leave it empty to apply "
                                                      "from publication.")),
                         ("was published after this draft was made", _("A newer version was published after this "
                                                                       "draft was made; make a new draft from the "
                                                                       "current version.")),
                         ("required: {'zh'", _("Write it in Chinese and in English (up to 500 characters each).")),
                         ("use 1 to 64 letters", _("Use up to 64 letters, digits, dots, hyphens or underscores, such "
                                                   "as library_books.")),
                         ("required: a non-empty string", _("This is required.")),
                         ("a code unused by", _("Enter a code no other county item, indicator or target uses.")),
                         ("duplicate code", _("This code is already used; choose another.")),
                         ("must be a non-empty list drawn from", _("Choose at least one school level.")),
                         ("missing a threshold", _("Enter a threshold for each school level it applies to.")),
                         ("must be the code of a school indicator", _("Choose at least one indicator from the "
                                                                      "list.")),
                         ("needs exactly one of", _("Choose the kind of target and enter its value.")),
                         ("no county section", _("The template this one extends has no county part to add "
                                                 "targets to.")),
                         ("a shortfall needs a number", _("Choose at least or at most.")),
                         ("must be a decimal", _("Enter a number such as 4.5.")),
                         ("cannot be changed", _("A yes/no check of the parent cannot be changed.")),
                         ("is already used", _("This code is already used; choose another.")),
                         ("already has a template", _("Your area already has a template; add a version to it.")),
                         ("no published version in force", _("The parent template has no published version in "
                                                             "force on that date.")),
                         ("only a draft can be published", _("This version is already published.")),
                         ("unknown indicator", _("There is no such indicator.")),
                         ("is not scored for", _("This indicator is not scored at that level.")),
                         ("already exists", _("This code is already used; choose another.")),
                         ("loosen", _("A local template may only tighten or add, never loosen.")),
                         ("drop", _("A local template may only tighten or add, never loosen."))):
        if start in text:
            return words
    return forms.message(text)
