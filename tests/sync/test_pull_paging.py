"""Pull pages deliver every visible change exactly once, whatever the page size and however many
changes one commit holds (a push batch, a bulk load, a planning run)."""
from __future__ import annotations

import uuid
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspections.accounts.enums import Role
from inspections.org import service as org
from inspections.org.enums import Locale, SchoolKind
from tests.factories import make_user, make_world, token_for
from tests.sync.helpers import mutation, pull_all, push


def _keys(changes) -> list[tuple]:
    return [(c["entity"], c["id"], c["op"], c["version"]) for c in changes]


def test_a_push_of_twelve_visits_arrives_whole_at_a_page_of_five(client, session):
    # Input from the issue: a device up to date, another pushes one batch of 12 new visits, the first
    # pulls with limit=5 (it used to get pages of 5 and 1 and never the other 6).
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    _, cursor = pull_all(client, h)
    ids = [str(uuid.uuid4()) for _ in range(12)]
    results = push(client, h, *[mutation("visit", "create", id=i, school_id=str(w.school_a1.id)) for i in ids],
                   device_id="other-device")
    assert {r["status"] for r in results} == {"applied"}
    changes, cursor = pull_all(client, h, cursor=cursor, limit=5)
    assert sorted(c["id"] for c in changes) == sorted(ids)
    assert pull_all(client, h, cursor=cursor, limit=5)[0] == []


def test_a_page_of_one_passes_commits_the_caller_cannot_see(client, session):
    """Found by the sync model: with limit=1 a commit holding nothing visible to the caller was the
    next page again, forever (has_more stayed true)."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    _, cursor = pull_all(client, h)
    other = token_for(session, w.office_a)  # county A2 is not inspector_a1's
    for _ in range(3):
        push(client, other, mutation("visit", "create", school_id=str(w.school_a2.id)), device_id="a2-office")
    mine = str(uuid.uuid4())
    push(client, h, mutation("visit", "create", id=mine, school_id=str(w.school_a1.id)))
    pages = 0
    changes = []
    while True:
        r = client.get("/api/v1/sync/pull", query_string={"cursor": cursor, "limit": 1}, headers=h).get_json()
        changes += r["changes"]
        cursor, pages = r["cursor"], pages + 1
        assert pages < 20, "pull made no progress"
        if not r["has_more"]:
            break
    assert [c["id"] for c in changes] == [mine]


def test_a_visit_with_twenty_answers_arrives_whole_at_a_page_of_ten(client, session):
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    _, cursor = pull_all(client, h)
    vid = str(uuid.uuid4())
    codes = ["enrolment", "pe_art_teachers", "teachers_above_required_qualification", "sports_area_m2",
             "key_teachers_county_level_or_above", "teaching_aux_area_m2", "equipment_value_yuan",
             "multimedia_classrooms"]
    batch = [mutation("visit", "create", id=vid, school_id=str(w.school_a1.id))]
    batch += [mutation("response", "create", visit_id=vid, item_code=c, value=i) for i, c in enumerate(codes)]
    push(client, h, *batch, device_id="other-device")
    changes, _ = pull_all(client, h, cursor=cursor, limit=3)
    whole, _ = pull_all(client, h, cursor=cursor, limit=1000)
    assert len(whole) >= len(batch)
    assert Counter(_keys(changes)) == Counter(_keys(whole))
    assert max(Counter(_keys(changes)).values()) == 1


def test_a_commit_far_larger_than_the_largest_page(client, session):
    """One commit of 2,100 school changes (a bulk load), pulled by an admin at the largest page and at a
    small odd page: every change once, in one order."""
    w = make_world(session)
    for n in range(2100):
        org.create_school(session, county=w.county_a1, code=f"BULK{n:05d}", name=f"Bulk school {n}",
                          kind=SchoolKind.primary, locale=Locale.rural, enrolment_primary=100)
    session.commit()
    admin = token_for(session, make_user(session, Role.admin))
    big, _ = pull_all(client, admin, limit=1000)
    schools = [c for c in big if c["entity"] == "school"]
    assert len({c["id"] for c in schools}) == 2100 + 4
    small, _ = pull_all(client, admin, limit=97)
    assert _keys(small) == _keys(big)


def test_any_page_size_from_any_cursor_delivers_each_change_once(client, session):
    """Commits of random sizes after a cursor taken anywhere (even mid-commit): pulling on from it at
    any page size gives exactly the changes a whole pull gives after that point."""
    w = make_world(session)
    h = token_for(session, w.inspector_a1)
    state = {"cursor": pull_all(client, h, limit=1000)[1], "n": 0}

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(sizes=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=3),
           page=st.integers(min_value=1, max_value=25), split=st.integers(min_value=0, max_value=20))
    def check(sizes, page, split):
        start = state["cursor"]
        for size in sizes:
            state["n"] += 1
            push(client, h, *[mutation("visit", "create", school_id=str(w.school_a1.id)) for _ in range(size)],
                 device_id=f"device-{state['n']}")
        whole, end = pull_all(client, h, cursor=start, limit=1000)
        assert len(whole) == sum(sizes)
        # A cursor from the middle: the first `split` changes pulled one at a time.
        cursor, seen = start, []
        while len(seen) < min(split, len(whole)):
            r = client.get("/api/v1/sync/pull", query_string={"cursor": cursor, "limit": 1}, headers=h).get_json()
            seen += r["changes"]
            cursor = r["cursor"]
        rest, _ = pull_all(client, h, cursor=cursor, limit=page)
        assert _keys(seen + rest) == _keys(whole)
        state["cursor"] = end

    check()
