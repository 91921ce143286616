"""Addresses a person meets: the root, start pages per role, error pages for browsers, language switching
after a failed form."""
from __future__ import annotations

import re

import pytest

from inspections.accounts.enums import Role
from tests.factories import make_user, make_world
from tests.web.helpers import csrf, login

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def world(session):
    return make_world(session)


def test_root_and_web_lead_to_sign_in_when_signed_out(client):
    r = client.get("/", headers=HTML)
    assert r.status_code == 302 and r.headers["Location"].endswith("/web/")
    r = client.get("/web/", headers=HTML)
    assert r.status_code == 302 and "/web/login" in r.headers["Location"]


@pytest.mark.parametrize("role,start", [(Role.school, "/web/tickets"), (Role.inspector, "/web/my-visits"),
                                        (Role.office, "/web/dashboard"), (Role.admin, "/web/dashboard")])
def test_each_role_lands_on_its_start_page(client, session, world, role, start):
    user = {Role.school: world.school_user_a1, Role.inspector: world.inspector_a1,
            Role.office: world.office_a1}.get(role) or make_user(session, Role.admin)
    session.commit()
    r = client.post("/web/login", data={"username": user.username, "password": "password-123",
                                        "csrf_token": csrf(client.get("/web/login"))})
    assert r.status_code == 303 and r.headers["Location"].endswith(start)
    assert client.get("/web/").headers["Location"].endswith(start)
    assert client.get(start).status_code == 200


def _page(r) -> str:
    assert r.mimetype == "text/html", r.mimetype
    return r.get_data(as_text=True)


def test_browser_errors_are_pages_in_the_readers_language(client, world):
    r = client.get("/web/no-such-page", headers=HTML)
    assert r.status_code == 404 and "页面不存在" in _page(r) and 'data-status="404"' in _page(r)
    r = client.get("/web/no-such-page?lang=en", headers=HTML)
    assert r.status_code == 404 and "Page not found" in _page(r)
    r = client.get("/web/logout", headers=HTML)  # POST only
    assert r.status_code == 405 and "cannot be opened this way" in _page(r)
    login(client, world.school_user_a1.username)
    r = client.get("/web/dashboard", headers=HTML)
    assert r.status_code == 403 and "This page is not open to you" in _page(r)
    assert "/web/tickets" in client.get(re.search(r'href="([^"]+)"[^>]*>Go to my start page',
                                                  _page(r)).group(1)).headers["Location"]
    r = client.post("/web/tickets/x", data={}, headers=HTML)  # no CSRF token
    assert r.status_code == 400 and "The request could not be read" in _page(r)


def test_api_clients_keep_problem_json(client, world):
    r = client.get("/web/no-such-page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    r = client.get("/web/no-such-page")  # no Accept at all: the API's answer
    assert r.mimetype == "application/problem+json"
    r = client.get("/api/v1/no-such-thing", headers=HTML)  # the API stays the API, even for a browser
    assert r.status_code in (401, 404) and r.mimetype == "application/problem+json"


def test_switching_language_after_a_failed_form_opens_the_page(client, world):
    token = login(client, world.office_a1.username) or csrf(client.get("/web/planning"))
    for action in ("/web/planning", "/web/planning/schedules"):
        r = client.post(action, data={"csrf_token": token, "school_id": "", "recurrence": "monthly"}, headers=HTML)
        assert r.status_code == 422
        english = re.search(r'href="([^"]+)" lang="en"', _page(r)).group(1).replace("&amp;", "&")
        assert english.startswith("/web/planning?")
        r = client.get(english, headers=HTML)
        assert r.status_code == 200 and "Visit planning" in _page(r)
