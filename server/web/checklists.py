"""Checklist template pages for offices and admins: the templates that apply in my scope, a version's items
and indicators in the page's language, and, for the office whose area a local template belongs to, a
local template, a new version that tightens thresholds (a draft, previewed against its parent) and its
publication. The template service decides every rule (a local template may only tighten or add); the
pages only translate its field errors."""
from __future__ import annotations

import re
import uuid

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from inspections.accounts.enums import Role
from inspections.accounts.scope import can_manage_jurisdiction
from inspections.audit import service as audit
from inspections.errors import DomainError
from inspections.org.enums import JurisdictionLevel
from inspections.org.models import Jurisdiction
from inspections.templates import service as templates
from inspections.templates.models import ChecklistTemplate, TemplateVersion
from server.extensions import session
from server.web import _principal, bp, nav_link
from server.web import forms
from server.web.i18n import _, _l, label
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
    v = db.scalar(select(TemplateVersion).join(ChecklistTemplate)
                  .where(TemplateVersion.id == vid, templates.visible_filter(db, p)))
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
        abort(403)
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
    base = templates.latest_published(session(), tpl.parent_id) if manages and tpl.parent_id else None
    current = templates.latest_published(session(), tpl.id) or base
    return render_template("checklist.html", tpl=tpl, owner=_owners([tpl]).get(tpl.jurisdiction_id),
                           manages=manages, indicators=_tightenable(current.definition) if current else [],
                           statuses=VERSION_STATUS, word=_word, symbol=lambda c: SYMBOL.get(c, ""), error=error,
                           fields=fields, form=form or {}), status


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
    form = request.form
    changes: dict[str, dict[str, str]] = {}
    for key, value in form.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "t" and value.strip():
            changes.setdefault(parts[1], {})[parts[2]] = value.strip()
    fields: dict[str, list[str]] = {}
    overlay: dict = {"set_thresholds": changes} if changes else {}
    check = _new_check(form, fields)
    if check:
        overlay |= check
    effective = None
    if form.get("effective_from"):
        from datetime import date
        try:
            effective = date.fromisoformat(form["effective_from"])
        except ValueError:
            fields["effective_from"] = ["is not a date"]
    if not overlay and not fields:
        fields["set_thresholds"] = [forms.Said(_("Enter at least one new threshold, or a new check."))]
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
    return _template_page(p, tpl, _("The version was not made."), _errors(fields, tpl), form, 422)


CHECK_CODE = re.compile(r"^[a-z][a-z0-9_]{2,39}$")


def _new_check(form, fields: dict) -> dict | None:
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
    section = form.get("check_section") if form.get("check_section") in ("B", "C") else "C"
    severity = form.get("check_severity") if form.get("check_severity") in ("low", "medium", "high") else "medium"
    if fields:
        return None
    levels = ["primary", "junior"]
    item = {"code": code, "kind": "boolean", "unit": "", "section": section, "levels": levels,
            "photo_required": False, "help": {"zh": zh, "en": en}}
    indicator = {"code": f"L.{code}", "name": {"zh": zh, "en": en}, "section": section, "levels": levels,
                 "expr": {"op": "fact", "fact": code}, "comparator": "eq", "threshold": True, "unit": "",
                 "shortfall": None, "severity": severity, "weight": "1", "school_rule": False}
    return {"add_items": [item], "add_indicators": [indicator]}


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
    if parent is not None:
        for row in _tightenable(parent.definition):
            before[(row["code"], row["level"])] = row["threshold"]
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
                           "severity": label("severity", ind.get("severity")) if ind.get("severity") else ""})
    items = [{"code": i["code"], "text": name_of(i.get("help") or i.get("name"), i["code"]),
              "kind": _word(KIND, i.get("kind")), "unit": _word(UNIT, i.get("unit")),
              "photo": bool(i.get("photo_required"))}
             for i in d.get("items", []) if i.get("enabled", True)]
    tpl = v.template
    return render_template("checklist_version.html", v=v, tpl=tpl, indicators=indicators, items=items,
                           name=name_of(d.get("name"), tpl.name), statuses=VERSION_STATUS, word=_word,
                           manages=_manages(p, tpl), changed=any(l["was"] for i in indicators for l in i["levels"]),
                           error=error, fields=fields), status


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


LOOSEN = re.compile(r"^([^\s:]+) would loosen the parent threshold ([^\s:]+)")


def _errors(fields: dict, tpl) -> list[tuple[str, list[str]]]:
    """The service's field errors as the form names them, in the page's words."""
    out: dict[str, list[str]] = {}
    for path, msgs in (fields or {}).items():
        parts = str(path).split(".")
        if parts[0] == "set_thresholds" and len(parts) >= 2:
            where = parts[1] + (f" · {label('level', parts[2])}" if len(parts) > 2 else "")
        else:
            where = {"code": _("Code"), "name": _("Name"), "parent_id": _("Extends"),
                     "jurisdiction_id": _("Area"), "effective_from": _("Effective from"),
                     "set_thresholds": _("New thresholds"), "check_code": _("Check code"),
                     "check_text": _("Question"), "add_items[0]": _("New check"),
                     "add_indicators[0]": _("New check")}.get(parts[0]) or forms.field_label(path)
        for m in msgs if isinstance(msgs, list) else [msgs]:
            out.setdefault(str(where), []).append(_message(m))
    return list(out.items())


def _message(m) -> str:
    if isinstance(m, forms.Said):
        return str(m)
    text = str(m)
    loosen = LOOSEN.match(text)
    if loosen:
        return _("%(value)s would loosen the parent's threshold %(old)s; a local template may only make it stricter.",
                 value=loosen.group(1), old=loosen.group(2))
    for start, words in (("must be a decimal", _("Enter a number such as 4.5.")),
                         ("cannot be changed", _("A yes/no check of the parent cannot be changed.")),
                         ("is already used", _("This code is already used; choose another.")),
                         ("already has a template", _("Your area already has a template; add a version to it.")),
                         ("no published version in force", _("The parent template has no published version in "
                                                             "force on that date.")),
                         ("only a draft can be published", _("Only a draft can be published.")),
                         ("unknown indicator", _("There is no such indicator.")),
                         ("is not scored for", _("This indicator is not scored at that level.")),
                         ("already exists", _("This code is already used; choose another.")),
                         ("loosen", _("A local template may only tighten or add, never loosen.")),
                         ("drop", _("A local template may only tighten or add, never loosen."))):
        if start in text:
            return words
    return forms.message(text)
