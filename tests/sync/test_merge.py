"""The three-way field merge as a pure function."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.merge import same, three_way

values = st.one_of(st.none(), st.integers(-1, 2), st.sampled_from([0.0, 1.0, "1", "0"]), st.booleans(),
                   st.lists(st.sampled_from([0, 1, 1.0, True]), max_size=2))
records = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), values)


def test_cases():
    base = {"value": 1, "note": None, "flagged": False}
    assert three_way(base, {"value": 2, "note": None, "flagged": False}, {"note": "x"}) == ({"note": "x"}, {})
    assert three_way(base, {"value": 2, "note": None, "flagged": False}, {"value": 3}) == (
        {}, {"value": {"base": 1, "server": 2, "client": 3}})
    assert three_way(base, {"value": 2, "note": None, "flagged": False}, {"value": 2}) == ({}, {})  # same edit
    assert three_way(None, {"value": 2}, {"value": 3}) == ({}, {"value": {"base": None, "server": 2, "client": 3}})


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(records, records, records)
def test_properties(base, server, client):
    apply, contested = three_way(base, server, client)
    assert not set(apply) & set(contested)
    for f, v in apply.items():
        assert same(base.get(f), server.get(f)) and same(v, client[f])  # only fields the server left alone
    for f, c in contested.items():
        assert same(c["server"], server.get(f)) and same(c["client"], client[f]) and not same(c["server"], c["client"])
    # every client field is applied, already equal on the server, contested, or sent unchanged from the
    # base (the device did not change it: the server's value stands, whatever it is now)
    for f, v in client.items():
        unchanged = f in (base or {}) and same(base[f], v)
        assert f in apply or f in contested or same(server.get(f), v) or unchanged
        if unchanged:
            assert f not in contested and f not in apply


def test_a_field_sent_as_it_was_at_the_base_is_no_conflict():
    """A client that sends a whole record changed only `note`; the server moved `value` meanwhile."""
    base = {"value": 600, "note": None}
    assert three_way(base, {"value": 650, "note": None}, {"value": 600, "note": "checked"}) == \
        ({"note": "checked"}, {})


def test_values_compare_as_json_not_as_python():
    # true, 1, 1.0 and "1" are four JSON values (Python calls the first three equal).
    for a, b in ((True, 1), (1, 1.0), (1, "1"), (False, 0), ([1], [True]), ({"a": 1}, {"a": 1.0})):
        assert not same(a, b) and not same(b, a)
    assert same({"a": [1, None]}, {"a": [1, None]}) and same(1.5, 1.5)
    base = {"value": 1}
    assert three_way(base, {"value": 1}, {"value": True}) == ({"value": True}, {})
    assert three_way(None, {"value": 1}, {"value": 1.0})[1] == {"value": {"base": None, "server": 1, "client": 1.0}}
