"""Every main page of each user, at 390 px (phone) and 1366 px, in Chinese and English: no horizontal
overflow, no id in the visible text, no untranslated string (strict catalogue lookups fail the page),
touch targets of 44 px on the phone, and axe-core finds nothing serious or critical."""
from __future__ import annotations

import re

import pytest

from inspections.templates.models import TemplateVersion
from inspections.tickets.models import Ticket
from inspections.visits.models import Visit
from tests.browser.field.helpers import axe_serious
from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}


@pytest.fixture
def world(app, client, session):
    w = make_world(session)
    submit_visit(client, token_for(session, w.inspector_a1), w.school_a1.id, {**GOOD_PRIMARY, "pe_art_teachers": 4})
    run_jobs(app)
    # A county judgement, so the county page shows its verdict and reasons.
    assert client.post(f"/api/v1/counties/{w.county_a1.id}/scoring-runs?level=primary",
                       headers=token_for(session, w.office_a1)).status_code == 202
    run_jobs(app)
    w.visit = session.query(Visit).filter(Visit.school_id == w.school_a1.id).one()
    w.ticket = session.query(Ticket).one()
    w.national = session.query(TemplateVersion).filter(TemplateVersion.status == "published").first()
    # County A1's local template with a draft: its page carries the new-version form, the draft a publish button.
    from inspections.templates import service as templates
    local = templates.create_template(session, code="a1-local", name="A1", jurisdiction=w.county_a1,
                                      parent=w.national.template)
    # The draft tightens R1 and adds a measured item, its indicator and a county target (shown as added).
    psy = {"code": "psychology_teachers", "kind": "integer", "unit": "teachers", "section": "C",
             "levels": ["primary", "junior"], "photo_required": True,
             "help": {"zh": "专职心理健康教师数", "en": "Full-time mental-health teachers"}}
    w.draft = templates.create_version(session, local, overlay={
        "set_thresholds": {"R1": {"primary": "4.5"}}, "add_items": [psy],
        "add_indicators": [{"code": "L.psychology_teachers", "name": psy["help"], "section": "C",
                            "levels": psy["levels"], "expr": {"op": "fact", "fact": "psychology_teachers"},
                            "comparator": "ge", "threshold": {"primary": "2", "junior": "3"},
                            "unit": "teachers", "shortfall": {"unit": "teachers", "round": "whole"},
                            "severity": "high", "weight": "1", "school_rule": False}],
        "add_county_targets": [{"code": "B5-70", "name": {"zh": "七成学校班额达标", "en": "70% of schools meet class size"},
                                "section": "B", "indicator": "B5", "min_share_met": "0.7"}]}, effective_from=None)
    session.commit()
    return w


def _pages(world) -> dict[str, list[str]]:
    t, v = f"/web/tickets/{world.ticket.id}", f"/web/visits/{world.visit.id}"
    return {
        world.school_user_a1.username: ["/web/tickets", t],
        world.inspector_a1.username: ["/web/my-visits", "/web/visits", v, t],
        world.office_a1.username: ["/web/dashboard", "/web/dashboard/tickets?state=open", "/web/visits", v, t,
                                   "/web/planning", "/web/dashboard/counties", "/web/templates",
                                   f"/web/templates/{world.national.template_id}",
                                   f"/web/templates/versions/{world.national.id}",
                                   f"/web/templates/{world.draft.template_id}", f"/web/templates/versions/{world.draft.id}",
                                   "/web/schools", f"/web/schools/{world.school_a1.id}", "/web/users",
                                   f"/web/users/{world.inspector_a1.id}", "/web/schools/new",
                                   f"/web/schools/{world.school_a1.id}/edit", "/web/users/new",
                                   f"/web/users/{world.inspector_a1.id}/deactivate"],
    }


def _sign_in(page, base, username):
    page.goto(f"{base}/web/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', "password-123")
    page.locator('main button').click()
    page.wait_for_url(re.compile(r".*/web/(?!login).*"))


def _check(page, size: str) -> list[str]:
    problems = []
    wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if wide[0] > wide[1]:
        problems.append(f"overflows: {wide[0]} px wide in {wide[1]} px")
    text = page.inner_text("body")
    if UUID.search(text):
        problems.append(f"an id in the visible text: {UUID.search(text).group(0)}")
    if size == "phone":
        small = page.evaluate("""() => Array.from(document.querySelectorAll(
                'a, button, input:not([type=hidden]), select, textarea'))
            .filter(e => e.offsetParent !== null && !e.closest('svg'))
            .map(e => [e, e.getBoundingClientRect()])
            .filter(([e, r]) => r.height < 44)
            .map(([e, r]) => `${e.tagName} "${(e.textContent || e.name || '').trim().slice(0, 20)}" ${Math.round(r.height)}px`)""")
        problems += [f"touch target under 44 px: {s}" for s in small]
    problems += [f"axe {v['impact']}: {v['id']} {v['nodes']}" for v in axe_serious(page)]
    return problems


@pytest.mark.once  # layout and accessibility of the same pages: no backend changes them
@pytest.mark.parametrize("size", list(SIZES))
def test_main_pages_fit_read_and_pass_axe(world, live_server, browser, shots, size):
    problems = []
    for username, paths in _pages(world).items():
        context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone", has_touch=size == "phone")
        page = context.new_page()
        _sign_in(page, live_server, username)
        for lang in ("zh-CN", "en"):
            for path in paths:
                sep = "&" if "?" in path else "?"
                r = page.goto(f"{live_server}{path}{sep}lang={lang}")
                if r.status != 200:
                    problems.append(f"{username} {lang} {path}: HTTP {r.status}")
                    continue
                shots(page, f"{size}-{lang}-{re.sub(r'[^a-z]+', '-', path.split('?')[0])[:40]}")
                problems += [f"{username} {lang} {path}: {p}" for p in _check(page, size)]
        context.close()
    assert not problems, "\n".join(problems)
