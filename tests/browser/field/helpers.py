"""Shared steps of the field app's browser tests."""
from __future__ import annotations

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from pathlib import Path

FIELD = Path(__file__).resolve().parents[3] / "field"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN", "timezone_id": "Asia/Shanghai", "service_workers": "allow"}  # a phone in China


def sign_in(page, base, username, *, wait_for_visits=True):
    """Sign in through the app's form and wait for the first sync to finish."""
    page.goto(f"{base}/field/")
    page.fill("#username", username)
    page.fill("#password", "password-123")
    page.get_by_test_id("sign-in").click()
    page.wait_for_selector('[data-testid="sync-now"]')
    if wait_for_visits:
        page.wait_for_selector('[data-testid="visit-card"]')
    wait_synced(page)


def wait_synced(page, timeout=30000):
    """Until no sync is running."""
    # Locator assertions, not page.wait_for_function: the app's Content-Security-Policy refuses the
    # string evaluation that one uses in the page.
    expect(page.get_by_test_id("sync-now")).to_be_enabled(timeout=timeout)


def sync_fully(page, timeout: float = 30.0) -> None:
    """Until a sync that started after this call has completed, so that its push carried everything queued
    before the call; one is started (as the sync button does) while none is under way. The app numbers its
    syncs on <body>: data-syncs-started (the last one started), data-sync-reached (the last one completed:
    pushed and pulled). A sync already under way when this is called may have read the outbox before the
    last change, and one may end without reaching the server (the signal just back): neither counts. Nor does the sync button being enabled, which it is before a sync scheduled after an
    edit starts."""
    import time
    body = page.locator("body")
    since = int(body.get_attribute("data-syncs-started") or 0)
    deadline = time.monotonic() + timeout
    while int(body.get_attribute("data-sync-reached") or 0) <= since:
        assert time.monotonic() < deadline, f"no sync started after sync {since} completed within {timeout} s"
        button = page.get_by_test_id("sync-now")
        if button.is_enabled():  # a tap, as the user's (it takes the focus from a field, and the view is drawn)
            try:
                button.click(timeout=1000)
            except PlaywrightTimeout:
                pass  # a sync started meanwhile (the button is disabled while one is under way)
        page.wait_for_timeout(250)


def unsent(page) -> int:
    return int(page.get_by_test_id("unsent-count").inner_text())


def axe_serious(page) -> list[dict]:
    """axe-core (served from field/node_modules, no CDN) run on the page: serious and critical violations."""
    # Evaluated through the DevTools protocol (an inline <script> tag is refused by the page's CSP).
    page.evaluate((FIELD / "node_modules" / "axe-core" / "axe.min.js").read_text())
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
                          "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def touch_targets_too_small(page) -> list[str]:
    """Visible buttons, links and choice labels smaller than 44 x 44 CSS pixels."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('button, a.btn, .choice, label.btn, .badge'))
        .filter(e => e.offsetParent !== null)
        .map(e => [e, e.getBoundingClientRect()])
        .filter(([e, r]) => r.width < 44 || r.height < 44)
        .map(([e, r]) => `${e.textContent.trim().slice(0, 20)} ${Math.round(r.width)}x${Math.round(r.height)}`)""")


def two_inspectors_on_a_visit(session, client):
    """The tests' world (tests.factories.make_world) with a second inspector of county A1, both on one visit
    to school A1 planned for today (`w.visit`: its API record) and `w.inspector_2`."""
    from inspections import clock
    from inspections.accounts.enums import Role
    from tests.factories import make_user, make_world, token_for
    w = make_world(session)
    w.inspector_2 = make_user(session, Role.inspector, jurisdiction=w.county_a1)
    session.commit()
    w.visit = client.post("/api/v1/visits", headers=token_for(session, w.office_a1), json={
        "school_id": str(w.school_a1.id), "planned_for": clock.today().isoformat(),
        "inspector_ids": [str(w.inspector_a1.id), str(w.inspector_2.id)]}).json
    return w


def one_inspector_visit_today(session, client):
    """The tests' world (tests.factories.make_world) with one visit to school A1 planned for today by the
    county office, inspector A1 on it (`w.visit`: its API record)."""
    from inspections import clock
    from tests.factories import make_world, token_for
    w = make_world(session)
    w.visit = client.post("/api/v1/visits", headers=token_for(session, w.office_a1), json={
        "school_id": str(w.school_a1.id), "planned_for": clock.today().isoformat(),
        "inspector_ids": [str(w.inspector_a1.id)]}).json
    return w


def visit_started_offline(browser, base, world):
    """Inspector A1 signed in on a phone that then loses signal and starts `world.visit`: (context, page)."""
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sign_in(page, base, world.inspector_a1.username)
    ctx.set_offline(True)
    page.locator(f'[data-visit="{world.visit["id"]}"] [data-testid="start-visit"]').click()
    return ctx, page


def fill_checklist(page):
    """Answer every item of a primary school's checklist on the open visit page (the answers of
    test_offline_visit: R3 missed, everything else met)."""
    from tests.browser.field.test_offline_visit import NUMBERS, YES
    for code, value in NUMBERS.items():
        page.get_by_test_id(f"input-{code}").fill(value)
    for code in YES:
        page.locator(f'[data-testid="item-{code}"] input[value="true"]').check()
    page.locator('[data-testid="item-combined_school"] input[value="false"]').check()
    page.locator('[data-testid="item-moral_education_rating"] input[value="good"]').check()
