"""Checklist templates: the built-in national standard, versions, publishing and lookup."""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Mapping

from sqlalchemy import case, literal, or_, select
from sqlalchemy.orm import Session, defer

from inspections.accounts.enums import Role
from inspections import clock
from inspections.accounts.scope import Principal
from inspections.db import utcnow
from inspections.errors import Conflict, ValidationFailed
from inspections.org.models import Jurisdiction, School
from inspections.templates.enums import VersionStatus
from inspections.templates.models import ChecklistTemplate, TemplateVersion
from inspections.visits.models import Visit, VisitInspector

NATIONAL_CODE = "national-2017"


def content_hash(definition: dict) -> str:
    """SHA-256 of a definition's canonical JSON: the fingerprint a score refers to."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest()


def builtin_definitions() -> list[dict]:
    """Definitions shipped with the code (the national standard)."""
    from inspections.scoring.national import NATIONAL_2017
    return [NATIONAL_2017]


def ensure_builtin(session: Session) -> list[TemplateVersion]:
    """Create the built-in templates' first published version where missing (idempotent)."""
    out = []
    for definition in builtin_definitions():
        tpl = session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.code == definition["code"]))
        if tpl is None:
            name = definition.get("name")
            tpl = ChecklistTemplate(code=definition["code"], name=name.get("zh") if isinstance(name, dict) else str(name))
            session.add(tpl)
            session.flush()
        current = session.scalar(select(TemplateVersion).where(TemplateVersion.template_id == tpl.id)
                                 .order_by(TemplateVersion.number.desc()).limit(1))
        digest = content_hash(definition)
        if current is None or current.content_sha256 != digest:
            # The code's definition changed: publish it as the next version, keep the old one for old visits.
            now = utcnow()
            current = TemplateVersion(template_id=tpl.id, number=(current.number + 1) if current else 1,
                                      status=VersionStatus.published, effective_from=date(2017, 4, 26),
                                      definition=definition, content_sha256=digest, created_at=now, published_at=now)
            session.add(current)
            session.flush()
        out.append(current)
    return out


def _path_ids(path: str) -> list[uuid.UUID]:
    return [uuid.UUID(x) for x in path.strip("/").split("/") if x]


def visible_filter(session: Session, p: Principal):
    """The one rule for who reads which templates (SQL criterion on ChecklistTemplate); a version is
    readable when its template is. Every read goes through it: the REST list and by-id, pull, the web
    pages and previews, so a version outside it is a 404 like an unknown id everywhere.

    A principal reads the national templates and those of every jurisdiction on the path of a school
    it may see (what applies to that school), which includes every version a visit it may see is
    pinned to (a visit pins a version of a template on its school's path); an office or a bound
    inspector also reads those of the jurisdictions below it (what it oversees). The schools come
    from its anchor (jurisdiction, or a school account's school), its assigned schools and, for an
    inspector, the schools of the visits it is on.
    """
    if p.role == Role.admin:
        return ChecklistTemplate.id.isnot(None)
    clauses = [ChecklistTemplate.jurisdiction_id.is_(None)]
    above: set[uuid.UUID] = set()
    for path in p.anchor_paths:
        above.update(_path_ids(path))
        clauses.append(ChecklistTemplate.jurisdiction_id.in_(
            select(Jurisdiction.id).where(Jurisdiction.path.startswith(path, autoescape=True))))
    if p.role == Role.inspector:
        # Schools it sees without a jurisdiction: assigned ones, and those of the visits it is on.
        on_visits = select(Visit.school_id).join(VisitInspector, VisitInspector.visit_id == Visit.id) \
            .where(VisitInspector.inspector_id == p.user_id)
        others = School.id.in_(on_visits)
        if p.assigned_school_ids:
            others = or_(School.id.in_(p.assigned_school_ids), others)
        for path in session.scalars(select(School.jurisdiction_path).where(others).distinct()):
            above.update(_path_ids(path))
    if above:
        clauses.append(ChecklistTemplate.jurisdiction_id.in_(sorted(above)))
    return or_(*clauses)


def version_in_scope(session: Session, p: Principal, version_id: uuid.UUID) -> TemplateVersion | None:
    """A template version the principal may read (`visible_filter`), or None like an unknown id."""
    return session.scalar(select(TemplateVersion).join(ChecklistTemplate)
                          .where(TemplateVersion.id == version_id, visible_filter(session, p)))


def get_version(session: Session, version_id: uuid.UUID) -> TemplateVersion | None:
    """One template version."""
    return session.get(TemplateVersion, version_id)


def effective_version(session: Session, *, jurisdiction_path: str, on: date) -> TemplateVersion | None:
    """The published version that applies to a school under `jurisdiction_path` on a date.

    The nearest jurisdiction's template wins (county over city over national); within it, the
    latest version already effective.
    """
    ids = [uuid.UUID(x) for x in jurisdiction_path.strip("/").split("/") if x]
    # One query: rank 0 is the school's own county, then upwards; the national template last.
    nearest = case({jid: rank for rank, jid in enumerate(reversed(ids))}, value=ChecklistTemplate.jurisdiction_id,
                   else_=len(ids)) if ids else literal(0)
    # Without its definition and overlay (JSON of the whole checklist, read and decoded on every push
    # that plans a visit): a published version's checklist is remembered (`checklist`), and an
    # attribute left out is loaded when first read.
    return session.scalar(
        select(TemplateVersion).options(defer(TemplateVersion.definition), defer(TemplateVersion.overlay))
        .join(ChecklistTemplate)
        .where(or_(ChecklistTemplate.jurisdiction_id.is_(None), ChecklistTemplate.jurisdiction_id.in_(ids)),
               TemplateVersion.status == VersionStatus.published,
               or_(TemplateVersion.effective_from.is_(None), TemplateVersion.effective_from <= on))
        .order_by(nearest, TemplateVersion.effective_from.desc().nulls_last(), TemplateVersion.number.desc())
        .limit(1))


def create_template(session: Session, *, code: str, name: str, jurisdiction: Jurisdiction,
                    parent: ChecklistTemplate) -> ChecklistTemplate:
    """A local (city or county) template extending a parent template."""
    errors = {}
    if session.scalar(select(ChecklistTemplate.id).where(ChecklistTemplate.code == code)):
        errors["code"] = ["is already used"]
    if session.scalar(select(ChecklistTemplate.id).where(ChecklistTemplate.jurisdiction_id == jurisdiction.id)):
        errors["jurisdiction_id"] = ["already has a template; add a version to it instead"]
    if parent.jurisdiction_id is not None:
        owner = session.get(Jurisdiction, parent.jurisdiction_id)
        if not jurisdiction.path.startswith(owner.path) or owner.id == jurisdiction.id:
            errors["parent_id"] = ["must be the national template or one of a jurisdiction above this one"]
    if errors:
        raise ValidationFailed("Invalid template", errors)
    tpl = ChecklistTemplate(code=code, name=name, jurisdiction_id=jurisdiction.id, parent_id=parent.id)
    session.add(tpl)
    session.flush()
    return tpl


def latest_published(session: Session, template_id: uuid.UUID, on: date | None = None) -> TemplateVersion | None:
    """A template's newest published version in force on a date (any date when None)."""
    stmt = select(TemplateVersion).where(TemplateVersion.template_id == template_id,
                                         TemplateVersion.status == VersionStatus.published)
    if on is not None:
        stmt = stmt.where(or_(TemplateVersion.effective_from.is_(None), TemplateVersion.effective_from <= on))
    return session.scalar(stmt.order_by(TemplateVersion.number.desc()).limit(1))


def create_version(session: Session, template: ChecklistTemplate, *, overlay: dict,
                   effective_from: date | None) -> TemplateVersion:
    """A draft version: the template's latest published overlay with `overlay` on top (so a new version
    starts from the previous one), applied to the parent's version in force on `effective_from`."""
    from inspections.scoring.definition import DefinitionError
    from inspections.scoring.overlay import apply_overlay, merge_overlays
    if template.parent_id is None:
        raise Conflict("built-in templates change only with the code that ships them")
    parent_version = latest_published(session, template.parent_id, effective_from)
    if parent_version is None:
        raise ValidationFailed("Invalid version", {"effective_from": ["the parent template has no published version "
                                                                      "in force on that date"]})
    previous = latest_published(session, template.id)
    overlay = merge_overlays(previous.overlay if previous is not None else None, overlay)
    overlay = {**overlay, "code": template.code, "parent": parent_version.definition["code"]}
    definition = apply_overlay(parent_version.definition, overlay)
    problems = standards_above_problems(session, template, definition, effective_from, overlay)
    if problems:
        raise DefinitionError(problems, "A local template may not be looser than a standard above it")
    if effective_from is not None and effective_from < clock.today():
        raise ValidationFailed("Invalid version", {"effective_from": ["must be today or later (or no date: left out "
                                                                      "or null, to apply from publication)"]})
    base = previous.definition if previous is not None and previous.parent_version_id == parent_version.id \
        else parent_version.definition
    if _substance(definition) == _substance(base):
        raise ValidationFailed("Invalid version", {"set_thresholds": ["nothing would change: tighten a threshold "
                                                                      "or add something"]})
    number = (session.scalar(select(TemplateVersion.number).where(TemplateVersion.template_id == template.id)
                             .order_by(TemplateVersion.number.desc()).limit(1)) or 0) + 1
    v = TemplateVersion(template_id=template.id, number=number, status=VersionStatus.draft,
                        effective_from=effective_from, definition=definition, overlay=overlay,
                        parent_version_id=parent_version.id, created_at=utcnow())
    session.add(v)
    session.flush()
    return v


def superseded_by(session: Session, version: TemplateVersion) -> int | None:
    """The number of a version of the same template published after this draft was made (None if there
    is none): such a draft can no longer be published."""
    return session.scalar(select(TemplateVersion.number).where(
        TemplateVersion.template_id == version.template_id, TemplateVersion.status == VersionStatus.published,
        TemplateVersion.published_at > version.created_at).order_by(TemplateVersion.number.desc()).limit(1))


def publish(session: Session, version: TemplateVersion) -> TemplateVersion:
    """Freeze a draft version so visits can pin it (its definition is checked once more first). A version with
    no `effective_from` is in force from publication: where the template has a dated version already, its
    date is set to the business day it is published (otherwise it applies to any day, as the first one)."""
    from inspections.scoring.definition import DefinitionError, check_definition
    from inspections.scoring.overlay import weakening_problems
    if version.status != VersionStatus.draft:
        raise Conflict(f"version {version.number} is {version.status.value}; only a draft can be published")
    check_definition(version.definition)
    # A draft is its base (the latest published version when it was made) plus its changes: once another
    # version is published, publishing this one would drop what that one added.
    newer = superseded_by(session, version)
    if newer is not None:
        raise Conflict(f"version {newer} was published after this draft was made; make a new draft from the "
                       "current version")
    template = session.get(ChecklistTemplate, version.template_id)
    problems = standards_above_problems(session, template, version.definition, version.effective_from)
    if problems:
        raise DefinitionError(problems, "A local template may not be looser than a standard above it")
    parent = session.get(TemplateVersion, version.parent_version_id) if version.parent_version_id else None
    if parent is not None:
        # A draft stored before a rule existed (or edited by hand) must not publish a weaker standard.
        problems = weakening_problems(parent.definition, version.definition)
        if problems:
            raise DefinitionError(problems, "A local template may not drop or loosen its parent's items")
    if version.effective_from is None and session.scalar(
            select(TemplateVersion.id).where(TemplateVersion.template_id == version.template_id,
                                             TemplateVersion.status == VersionStatus.published,
                                             TemplateVersion.effective_from.is_not(None)).limit(1)) is not None:
        # "No date: in force from publication". Among dated versions an undated one would rank last
        # (effective_version) and never take over: it starts on the business day it is published.
        version.effective_from = clock.today()
    version.status = VersionStatus.published
    version.published_at = utcnow()
    version.content_sha256 = content_hash(version.definition)
    session.flush()
    return version


def _substance(definition: dict) -> dict:
    """A definition without its names and labels: what scoring uses."""
    return {k: v for k, v in definition.items() if k not in ("code", "name", "parent", "effective_from", "notes")}


def standards_above_problems(session: Session, template: ChecklistTemplate, definition: dict,
                             on: date | None, overlay: dict | None = None) -> list[tuple[str, str]]:
    """Where `definition` is looser than a standard in force above its template's area.

    Scoring takes the nearest area's template alone (effective_version), so a county template that
    extends the national one must still be no looser than its city's template published since: every
    template of an area above, in force on `on`, is checked on the indicators and rules both have.
    """
    from inspections.scoring.overlay import weakening_problems
    if template.jurisdiction_id is None:
        return []
    area = session.get(Jurisdiction, template.jurisdiction_id)
    above = [uuid.UUID(x) for x in area.path.strip("/").split("/") if x and x != str(area.id)]
    if not above:
        return []
    set_codes = set((overlay or {}).get("set_thresholds") or {})
    problems: list[tuple[str, str]] = []
    for tpl in session.scalars(select(ChecklistTemplate).where(ChecklistTemplate.jurisdiction_id.in_(above))):
        standard = latest_published(session, tpl.id, on)
        if standard is None:
            continue
        shared = _shared_part(standard.definition, definition)
        for path, msg in weakening_problems(shared, definition):
            m = re.match(r"^(?:county\.)?indicators\[(.+)\]\.threshold\.(\w+)$", path)
            if m and m.group(1) in set_codes:
                path = f"set_thresholds.{m.group(1)}.{m.group(2)}"
            problem = (path, f"{msg} ({tpl.code})")
            if problem not in problems:
                problems.append(problem)
    return problems


def _shared_part(standard: dict, child: dict) -> dict:
    """`standard` reduced to the items, indicators and targets `child` has too (a county template need
    not carry what a city template added; it may not be looser on what both have)."""
    out = dict(standard)
    codes = {x.get("code") for x in child.get("items", []) + child.get("indicators", []) if isinstance(x, dict)}
    out["items"] = [x for x in standard.get("items", []) if x.get("code") in codes]
    out["indicators"] = [x for x in standard.get("indicators", []) if x.get("code") in codes]
    if isinstance(standard.get("county"), dict):
        mine = child.get("county") if isinstance(child.get("county"), dict) else {}
        have = {x.get("code") for key in ("items", "indicators", "targets") for x in mine.get(key, [])
                if isinstance(x, dict)}
        out["county"] = {**standard["county"], **{key: [x for x in standard["county"].get(key, []) if
                                                        x.get("code") in have]
                                                  for key in ("items", "indicators", "targets")}}
    return out


@dataclass(frozen=True)
class Checklist:
    """What writing an answer needs of a version's checklist: its template's code, and its enabled items
    by code, each with only the keys the answer rule reads (`engine.ANSWER_KEYS`: code, kind, choices,
    na_allowed, levels), so a process keeps thousands of checklists in little memory."""

    template: str | None
    items: Mapping[str, Mapping]
    codes: frozenset[str]


def _checklist(definition: dict | None) -> Checklist:
    from inspections.scoring.engine import ANSWER_KEYS
    definition = definition or {}
    items = {item["code"]: MappingProxyType({k: tuple(v) if isinstance(v, list) else v
                                             for k, v in item.items() if k in ANSWER_KEYS})
             for item in definition.get("items", []) if item.get("enabled", True)}
    return Checklist(template=definition.get("code"), items=MappingProxyType(items), codes=frozenset(items))


def checklist(version: TemplateVersion) -> Checklist:
    """The checklist of a loaded version (a published version's is remembered for `checklist_of`)."""
    if version.status == VersionStatus.published and version.id is not None:
        found = _published_checklists.get(version.id)
        if found is None:
            found = _published_checklists.setdefault(version.id, _checklist(version.definition))
        return found
    return _checklist(version.definition)


def item_codes(version: TemplateVersion) -> set[str]:
    """Codes of the items a version's checklist asks for (a published version's are remembered for
    `item_codes_of`)."""
    return set(checklist(version).items)


# Checklists of published versions by id: a published definition never changes (models._freeze_published).
_published_checklists: dict[uuid.UUID, Checklist] = {}


def checklist_of(session: Session, version_id) -> Checklist:
    """The checklist of the version with this id, without loading its definition again once published
    (every answer written, and every photo declared for an item, checks against it)."""
    found = _published_checklists.get(version_id)
    if found is None:
        status, definition = session.execute(select(TemplateVersion.status, TemplateVersion.definition)
                                             .where(TemplateVersion.id == version_id)).one()
        found = _checklist(definition)
        if status == VersionStatus.published:
            found = _published_checklists.setdefault(version_id, found)
    return found


def item_codes_of(session: Session, version_id) -> frozenset[str]:
    """item_codes of the version with this id, without loading its definition again once published."""
    return checklist_of(session, version_id).codes
