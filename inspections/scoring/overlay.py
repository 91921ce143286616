"""Local templates: a parent definition plus an overlay that may only tighten thresholds and add items.

A local template never drops, switches off or loosens anything of its parent (item, indicator or
rule): `weakening_problems` checks a resolved definition against its parent, at creation and again
at publication.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from inspections.scoring import expressions as ex
from inspections.scoring.definition import (EVERY_SCHOOL, LEVELS, NA_ALLOWED, PER_SCHOOL, DefinitionError,
                                             definition_problems, threshold_for, threshold_range_problem)
from inspections.scoring.enums import Comparator

OVERLAY_KEYS = {"code", "name", "parent", "effective_from", "notes", "set_thresholds", "set_rules", "add_items",
                "add_county_targets",
                "add_indicators", "disable"}

ADDED_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def apply_overlay(parent: dict, overlay: dict) -> dict:
    """A new definition: `parent` with the overlay applied; raises DefinitionError listing every problem."""
    if not isinstance(overlay, dict):
        raise DefinitionError([("overlay", "must be an object")])
    broken = definition_problems(parent)
    if broken:
        raise DefinitionError([(f"parent.{path}", msg) for path, msg in broken], "Invalid parent template")
    p: list[tuple[str, str]] = [(k, "unknown overlay key") for k in overlay if k not in OVERLAY_KEYS]
    if not isinstance(overlay.get("code"), str) or not overlay.get("code"):
        p.append(("code", "required: a non-empty string"))
    if overlay.get("parent", parent.get("code")) != parent.get("code"):
        p.append(("parent", f"the overlay is for {overlay.get('parent')!r}, not {parent.get('code')!r}"))
    result = copy.deepcopy(parent)
    result.update(code=overlay.get("code"), name=copy.deepcopy(overlay.get("name", parent.get("name"))),
                  parent=parent.get("code"))
    for key in ("effective_from", "notes"):
        if key in overlay:
            result[key] = copy.deepcopy(overlay[key])
    indicators = {i["code"]: i for i in result["indicators"]}
    items = {i["code"]: i for i in result["items"]}
    # County indicators (B1, C1, ...) are tightened the same way, e.g. Baoshan's retention >= 99.5%.
    county = result.get("county") if isinstance(result.get("county"), dict) else {}
    tightenable = {**{i["code"]: i for i in county.get("indicators", []) if isinstance(i, dict)}, **indicators}
    p += _set_thresholds(overlay.get("set_thresholds", {}), tightenable)
    p += _set_rules(overlay.get("set_rules", {}), result["rules"])
    p += _disable(overlay.get("disable", []), items, indicators)
    for key, target in (("add_items", result["items"]), ("add_indicators", result["indicators"])):
        added = overlay.get(key, [])
        if not isinstance(added, list):
            p.append((key, "must be a list"))
            continue
        for i, obj in enumerate(added):
            code = obj.get("code") if isinstance(obj, dict) else None
            if code in items or code in indicators:
                p.append((f"{key}[{i}].code", f"{code!r} already exists in {parent.get('code')!r}"))
            elif isinstance(code, str) and code and not ADDED_CODE.match(code):
                # Visits answer items and tickets name indicators by these codes (the wire's item-code format).
                p.append((f"{key}[{i}].code", "use 1 to 64 letters, digits, '.', '_' or '-'"))
            target.append(copy.deepcopy(obj))
    targets = overlay.get("add_county_targets", [])
    if not isinstance(targets, list):
        p.append(("add_county_targets", "must be a list"))
    elif targets:
        if not county:
            p.append(("add_county_targets", f"{parent.get('code')!r} has no county section to add targets to"))
        else:
            # A target's code must not be one an item, indicator or target already has (B5 is an indicator).
            have = {x.get("code") for key in ("targets", "items", "indicators") for x in county.get(key, [])
                    if isinstance(x, dict)} | set(items) | set(indicators)
            for i, t in enumerate(targets):
                if isinstance(t, dict) and t.get("code") in have:
                    p.append((f"add_county_targets[{i}].code", f"{t.get('code')!r} already exists in the parent"))
            county["targets"] = list(county.get("targets", [])) + copy.deepcopy(targets)
    # Overlay-level problems first; the resolved definition's own checks catch bad added items and indicators.
    # A threshold the overlay set is reported once, under set_thresholds, not again as the indicator's.
    said = {_threshold_path(path) for path, _ in p if path.startswith("set_thresholds.")}
    # An added code already in the parent is reported once, as the overlay's, not again as a duplicate.
    taken = {m.group(1) for _, msg in p if (m := re.match(r"^'(.+)' already exists in ", msg))}
    p += [pr for pr in definition_problems(result) if pr not in p and _threshold_path(pr[0]) not in said
          and not (pr[1].startswith("duplicate code") and _code_of(pr[0]) in taken)]
    if not p:  # the safety net: whatever the overlay said, the result keeps every parent check at full strength
        p += weakening_problems(parent, result)
    if p:
        raise DefinitionError(p, "Invalid template overlay")
    return result


def _threshold_path(path: str) -> str:
    """'set_thresholds.R1.primary' and 'indicators[R1].threshold.primary' (or county.indicators[..]) -> 'R1.primary'."""
    if path.startswith("set_thresholds."):
        return path[len("set_thresholds."):]
    m = re.match(r"^(?:county\.)?indicators\[(.+)\]\.threshold(?:\.(\w+))?$", path)
    return f"{m.group(1)}.{m.group(2)}" if m and m.group(2) else (m.group(1) if m else path)


def _code_of(path: str) -> str | None:
    """'indicators[R1].code' -> 'R1'."""
    m = re.match(r"^(?:county\.)?(?:items|indicators|targets)\[(.+)\]\.code$", path)
    return m.group(1) if m else None


def merge_overlays(previous: dict | None, new: dict) -> dict:
    """The overlay a new version of a local template stands for: its previous version's overlay with
    the new one on top (thresholds and rules per key, added items and indicators by code, new wins)."""
    if not isinstance(previous, dict) or not isinstance(new, dict):
        return copy.deepcopy(new)
    out = copy.deepcopy(previous)
    out.pop("disable", None)  # a version published before switching off was refused does not pass it on
    for key, value in new.items():
        if key == "set_thresholds" and isinstance(value, dict) and isinstance(out.get(key), dict):
            for code, t in value.items():
                old = out[key].get(code)
                out[key][code] = {**old, **t} if isinstance(old, dict) and isinstance(t, dict) else copy.deepcopy(t)
        elif key == "set_rules" and isinstance(value, dict) and isinstance(out.get(key), dict):
            for group, changes in value.items():
                old = out[key].get(group)
                merged = {**old, **changes} if isinstance(old, dict) and isinstance(changes, dict) else changes
                if group == "county" and isinstance(old, dict) and isinstance(changes, dict) and \
                        isinstance(old.get("cv_limit"), dict) and isinstance(changes.get("cv_limit"), dict):
                    merged["cv_limit"] = {**old["cv_limit"], **changes["cv_limit"]}
                out[key][group] = copy.deepcopy(merged)
        elif key in ("add_items", "add_indicators", "add_county_targets") and isinstance(value, list) and \
                isinstance(out.get(key), list):
            new_codes = {x.get("code") for x in value if isinstance(x, dict)}
            out[key] = [x for x in out[key] if not (isinstance(x, dict) and x.get("code") in new_codes)] + \
                copy.deepcopy(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _set_thresholds(changes: Any, indicators: dict[str, dict]) -> list[tuple[str, str]]:
    if not isinstance(changes, dict):
        return [("set_thresholds", "must be an object of indicator code -> {level: threshold}")]
    p = []
    for code, new in changes.items():
        path = f"set_thresholds.{code}"
        ind = indicators.get(code)
        if ind is None:
            p.append((path, "unknown indicator"))
            continue
        if not isinstance(new, dict):
            new = {level: new for level in ind["levels"]}
        merged = {level: ind["threshold"] for level in ind["levels"]} if not isinstance(ind["threshold"], dict) \
            else dict(ind["threshold"])
        for level, value in new.items():
            lpath = f"{path}.{level}"
            if level not in ind["levels"]:
                p.append((lpath, f"{code} is not scored for {level!r}"))
                continue
            problem = _tightening_problem(ind, level, value)
            if problem:
                p.append((lpath, problem))
            merged[level] = value
        ind["threshold"] = merged
    return p


def _tightening_problem(ind: dict, level: str, value: Any) -> str | None:
    old, comparator = threshold_for(ind, level), ind["comparator"]
    if comparator == Comparator.eq:
        return None if value == old else "a yes/no check of the parent cannot be changed"
    new = None if isinstance(value, float) or (isinstance(value, str) and not value.isascii()) \
        else ex.parse_threshold(value)
    if new is None:
        return "must be a decimal string such as '4.5'"
    out_of_range = threshold_range_problem(ind, value)
    if out_of_range and new >= 0:
        return out_of_range
    if comparator == Comparator.ge and new < old:
        return f"{value} would loosen the parent threshold {old}: a local template may only raise it (>= {old})"
    if comparator in (Comparator.le, Comparator.lt) and new > old:
        return f"{value} would loosen the parent threshold {old}: a local template may only lower it (<= {old})"
    return None


def _set_rules(changes: Any, rules: dict) -> list[tuple[str, str]]:
    if not isinstance(changes, dict):
        return [("set_rules", "must be an object")]
    p = []
    school, county = changes.get("school", {}), changes.get("county", {})
    p += [(f"set_rules.{k}", "unknown rule group") for k in changes if k not in ("school", "county")]
    if "max_not_met" in school:
        new = school["max_not_met"]
        if not isinstance(new, int) or isinstance(new, bool) or not 0 <= new <= rules["school"]["max_not_met"]:
            p.append(("set_rules.school.max_not_met", f"may only be lowered from {rules['school']['max_not_met']}"))
        rules["school"]["max_not_met"] = new
    if "min_ratio_not_met" in school:
        new = ex.parse_decimal(school["min_ratio_not_met"])
        old = ex.parse_decimal(rules["school"]["min_ratio_not_met"])
        if new is None or not old <= new <= 1:
            p.append(("set_rules.school.min_ratio_not_met", f"may only be raised from {old} (up to 1)"))
        rules["school"]["min_ratio_not_met"] = school["min_ratio_not_met"]
    for level, value in (county.get("cv_limit") or {}).items():
        old = ex.parse_decimal(rules["county"]["cv_limit"].get(level)) if level in LEVELS else None
        new = ex.parse_decimal(value)
        if old is None or new is None or not 0 < new <= old:
            p.append((f"set_rules.county.cv_limit.{level}", f"may only be lowered from {old}"))
        else:
            rules["county"]["cv_limit"][level] = value
    if "require_all_schools_pass" in county:
        if county["require_all_schools_pass"] is not True:
            p.append(("set_rules.county.require_all_schools_pass", "may only be switched on"))
        rules["county"]["require_all_schools_pass"] = True
    return p


def _disable(codes: Any, items: dict[str, dict], indicators: dict[str, dict]) -> list[tuple[str, str]]:
    # Kept as a key only to refuse it by name: the standard lets a local template add, never drop.
    if not isinstance(codes, list):
        return [("disable", "must be a list of item or indicator codes")]
    p = []
    for i, code in enumerate(codes):
        if code in indicators:
            p.append((f"disable[{i}]", f"{code} is an indicator of the parent template; a local template may "
                                       "tighten it but never switch it off"))
        elif code in items:
            p.append((f"disable[{i}]", f"{code} is an item of the parent template; a local template may "
                                       "never switch it off"))
        else:
            p.append((f"disable[{i}]", f"unknown item or indicator {code!r}"))
    return p


def weakening_problems(parent: dict, child: dict) -> list[tuple[str, str]]:
    """Every way `child` drops, switches off or loosens an item, indicator or rule of `parent`, as (path, message)."""
    p: list[tuple[str, str]] = []
    child_items = {i.get("code"): i for i in child.get("items", []) if isinstance(i, dict)}
    child_inds = {i.get("code"): i for i in child.get("indicators", []) if isinstance(i, dict)}
    for item in parent.get("items", []):
        code, path = item["code"], f"items[{item['code']}]"
        mine = child_items.get(code)
        if not item.get("enabled", True):
            continue
        if mine is None:
            p.append((path, f"{code} is an item of the parent template and may not be dropped"))
            continue
        if not mine.get("enabled", True):
            p.append((path, f"{code} is an item of the parent template and may not be switched off"))
        if mine.get("kind") != item.get("kind"):
            p.append((f"{path}.kind", f"{code} must stay a {item.get('kind')} item as in the parent"))
        missing = [lv for lv in item.get("levels", ()) if lv not in mine.get("levels", ())]
        if missing:
            p.append((f"{path}.levels", f"{code} must still be asked for {', '.join(missing)}"))
        if mine.get(NA_ALLOWED, False) and not item.get(NA_ALLOWED, False):
            p.append((f"{path}.{NA_ALLOWED}", f"{code} may not be answered n/a in the parent; a local template "
                                              "may not let it be"))
    for ind in parent.get("indicators", []):
        code, path = ind["code"], f"indicators[{ind['code']}]"
        mine = child_inds.get(code)
        if not ind.get("enabled", True):
            continue
        if mine is None:
            p.append((path, f"{code} is an indicator of the parent template and may not be dropped"))
            continue
        if not mine.get("enabled", True):
            p.append((path, f"{code} is an indicator of the parent template and may not be switched off"))
        for key in ("expr", "applies_if", "comparator"):
            if mine.get(key) != ind.get(key):
                p.append((f"{path}.{key}", f"{code}'s {key} may not differ from the parent's"))
        for flag in ("school_rule", EVERY_SCHOOL, PER_SCHOOL):
            if bool(mine.get(flag)) != bool(ind.get(flag)):
                p.append((f"{path}.{flag}", f"{code}'s {flag} may not differ from the parent's"))
        levels = [lv for lv in ind.get("levels", ()) if lv in LEVELS]
        missing = [lv for lv in levels if lv not in mine.get("levels", ())]
        if missing:
            p.append((f"{path}.levels", f"{code} must still be scored for {', '.join(missing)}"))
        if ind.get("comparator") != mine.get("comparator"):
            continue
        for level in levels:
            if level in missing:
                continue
            old, new = threshold_for(ind, level), threshold_for(mine, level)
            comparator = ind.get("comparator")
            looser = new is None or (new != old if comparator == Comparator.eq else
                                     new < old if comparator == Comparator.ge else new > old
                                     if comparator in (Comparator.le, Comparator.lt) else new != old)
            if looser:
                p.append((f"{path}.threshold.{level}", f"{code} at {new} would loosen the parent threshold {old}"))
    p += _rules_weakening(parent.get("rules") or {}, child.get("rules") or {})
    if isinstance(parent.get("county"), dict):
        mine = child.get("county") if isinstance(child.get("county"), dict) else {}
        sub_parent = {"items": parent["county"].get("items", []), "indicators": parent["county"].get("indicators", [])}
        sub_child = {"items": mine.get("items", []), "indicators": mine.get("indicators", [])}
        p += [(f"county.{path}", msg) for path, msg in weakening_problems(sub_parent, sub_child)]
        old_s, new_s = parent["county"].get("survey") or {}, mine.get("survey") or {}
        dropped = [g for g in old_s.get("groups", []) if g not in (new_s.get("groups") or [])]
        if dropped:
            p.append(("county.survey.groups", f"the parent surveys {', '.join(dropped)}; a local template may not drop them"))
        old_m, new_m = ex.parse_decimal(old_s.get("min_percent")), ex.parse_decimal(new_s.get("min_percent"))
        if old_m is not None and (new_m is None or new_m < old_m):
            p.append(("county.survey.min_percent", f"may not be lowered below the parent's {old_m}"))
        mine_t = {t.get("code"): t for t in mine.get("targets", []) if isinstance(t, dict)}
        for t in parent["county"].get("targets", []):
            got = mine_t.get(t["code"])
            if "min_fewer_per_year" in t:
                lowered = got is not None and not (isinstance(got.get("min_fewer_per_year"), int)
                                                   and got["min_fewer_per_year"] >= t["min_fewer_per_year"])
            else:
                old_share = ex.parse_decimal(t.get("min_share_met"))
                lowered = got is not None and (ex.parse_decimal(got.get("min_share_met")) or 0) < old_share
            if got is None or got.get("indicator") != t.get("indicator") or lowered:
                p.append((f"county.targets[{t['code']}]", f"{t['code']} is a target of the parent and may not be "
                                                          "dropped, moved or lowered"))
    return p


def _rules_weakening(parent: dict, child: dict) -> list[tuple[str, str]]:
    p = []
    ps, cs = parent.get("school") or {}, child.get("school") or {}
    pc, cc = parent.get("county") or {}, child.get("county") or {}
    n_old, n_new = ps.get("max_not_met"), cs.get("max_not_met")
    if isinstance(n_old, int) and (not isinstance(n_new, int) or n_new > n_old):
        p.append(("rules.school.max_not_met", f"may not be raised above the parent's {n_old}"))
    r_old, r_new = ex.parse_decimal(ps.get("min_ratio_not_met")), ex.parse_decimal(cs.get("min_ratio_not_met"))
    if r_old is not None and (r_new is None or r_new < r_old):
        p.append(("rules.school.min_ratio_not_met", f"may not be lowered below the parent's {r_old}"))
    for level in LEVELS:
        old = ex.parse_decimal((pc.get("cv_limit") or {}).get(level))
        new = ex.parse_decimal((cc.get("cv_limit") or {}).get(level))
        if old is not None and (new is None or new > old):
            p.append((f"rules.county.cv_limit.{level}", f"may not be raised above the parent's {old}"))
    if pc.get("require_all_schools_pass") and not cc.get("require_all_schools_pass"):
        p.append(("rules.county.require_all_schools_pass", "the parent requires every school to pass"))
    return p
