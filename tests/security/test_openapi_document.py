"""Review finding 12: the OpenAPI document says what the server does (error content type, decimals as text)."""
from __future__ import annotations

from decimal import Decimal

from tests.factories import make_world, token_for


def test_every_error_response_is_documented_as_problem_json(client):
    spec = client.get("/api/v1/openapi.json").json
    refs = spec["components"]["responses"]
    seen = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            assert "default" in op["responses"], (method, path)
            for code, resp in op["responses"].items():
                if "$ref" in resp:
                    resp = refs[resp["$ref"].rsplit("/", 1)[1]]
                if code == "default" or code[0] in "45":
                    seen += 1
                    assert list(resp.get("content", {})) == ["application/problem+json"], (method, path, code)
    assert seen > 60


def test_decimals_sent_as_text_are_documented_as_strings(client, session):
    spec = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    for schema, field in [("SchoolOut", "latitude"), ("SchoolOut", "longitude"), ("TicketOut", "shortfall"),
                          ("PhotoOut", "latitude")]:
        assert spec[schema]["properties"][field]["type"] == "string", (schema, field)
    w = make_world(session)
    w.school_a1.latitude, w.school_a1.longitude = Decimal("26.647000"), Decimal("106.630000")
    session.commit()
    r = client.get(f"/api/v1/schools/{w.school_a1.id}", headers=token_for(session, w.office_a1))
    assert r.json["latitude"] == "26.647000"
    problem = client.get("/api/v1/schools/not-a-uuid", headers=token_for(session, w.office_a1))
    assert problem.content_type == "application/problem+json"
    assert set(problem.json) <= set(spec["ProblemOut"]["properties"])
