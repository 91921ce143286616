"""The three-way field merge as a pure function."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.merge import three_way

values = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=2), st.booleans())
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
        assert base.get(f) == server.get(f) and v == client[f]  # only fields the server left alone
    for f, c in contested.items():
        assert c["server"] == server.get(f) and c["client"] == client[f] and c["server"] != c["client"]
    # every client field is either applied, already equal on the server, or contested
    for f, v in client.items():
        assert f in apply or f in contested or server.get(f) == v
