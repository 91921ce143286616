"""Schools and accounts pages: the lists keep to the user's scope, a page outside it is a 404, roles without
the page a 403, words in both languages and no id in the visible text."""
from __future__ import annotations

import re

import pytest

from tests.factories import GOOD_PRIMARY, make_world, run_jobs, submit_visit, token_for
from tests.web.helpers import login

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _visible(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html.split("<main>", 1)[1])


@pytest.fixture
def world(session):
    return make_world(session)


def test_an_office_lists_and_opens_the_schools_of_its_county(app, client, session, world):
    submit_visit(client, token_for(session, world.inspector_a1), world.school_a1.id, GOOD_PRIMARY)
    run_jobs(app)
    login(client, world.office_a1.username)
    page = client.get("/web/schools?lang=en").get_data(as_text=True)
    listed = re.search(r'data-testid="schools">(.*?)</table>', page, re.S).group(1)
    assert world.school_a1.name in listed and world.school_a1b.name in listed
    assert world.school_a2.name not in listed and world.school_b1.name not in listed
    assert "Primary school" in listed and "Junior secondary school" in listed
    assert not UUID.search(_visible(page))
    found = client.get(f"/web/schools?q={world.school_a1b.code}").get_data(as_text=True)
    assert world.school_a1b.name in found and f">{world.school_a1.code} " not in found
    detail = client.get(f"/web/schools/{world.school_a1.id}?lang=zh-CN").get_data(as_text=True)
    assert world.county_a1.name in detail and "小学" in detail and "/web/visits/" in detail
    assert not UUID.search(_visible(detail))
    assert client.get(f"/web/schools/{world.school_b1.id}").status_code == 404
    assert client.get("/web/schools/nope").status_code == 404


def test_an_inspector_sees_only_their_schools_and_no_accounts(client, world):
    login(client, world.inspector_assigned.username)
    page = client.get("/web/schools").get_data(as_text=True)
    assert world.school_a2.name in page and world.school_a1.name not in page
    assert client.get(f"/web/schools/{world.school_a1.id}").status_code == 404
    assert client.get("/web/users").status_code == 403
    assert client.get(f"/web/users/{world.office_a1.id}").status_code == 403


def test_a_school_account_has_neither_page(client, world):
    login(client, world.school_user_a1.username)
    assert client.get("/web/schools").status_code == 403
    assert client.get("/web/users").status_code == 403


@pytest.mark.parametrize("lang,role_word", [("en", "Inspector"), ("zh-CN", "督学")])
def test_an_office_lists_and_opens_the_accounts_it_manages(client, world, lang, role_word):
    login(client, world.office_a1.username)
    page = client.get(f"/web/users?lang={lang}").get_data(as_text=True)
    listed = re.search(r'data-testid="users">(.*?)</table>', page, re.S).group(1)
    assert world.inspector_a1.username in listed and world.school_user_a1.username in listed
    assert world.office_a.username not in listed  # the city office above is not its to manage
    assert not UUID.search(_visible(page))
    only = client.get("/web/users?role=inspector").get_data(as_text=True)
    assert world.inspector_a1.username in only and world.school_user_a1.username not in only
    assert client.get("/web/users?role=king").status_code == 400
    detail = client.get(f"/web/users/{world.inspector_a1.id}").get_data(as_text=True)
    assert role_word in detail and world.county_a1.name in detail and not UUID.search(_visible(detail))
    assert client.get(f"/web/users/{world.office_a.id}").status_code == 404


def test_an_assigned_inspector_shows_their_schools(client, world):
    login(client, world.admin.username)
    detail = client.get(f"/web/users/{world.inspector_assigned.id}?lang=en").get_data(as_text=True)
    assigned = re.search(r'data-testid="assigned">(.*?)</ul>', detail, re.S).group(1)
    assert world.school_a2.name in assigned and f"/web/schools/{world.school_a2.id}" in assigned
