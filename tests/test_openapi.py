"""The OpenAPI document is valid and describes every endpoint."""
from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_openapi_is_valid_and_lists_every_endpoint(app, client):
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    documented = {(path, m.upper()) for path, ops in spec["paths"].items() for m in ops if m != "parameters"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("api-docs", "static", "docs_assets", "web.", "field.")) or rule.rule.startswith("/api/v1/openapi"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} missing from openapi.json"


def test_errors_are_documented_as_problems(client):
    spec = client.get("/api/v1/openapi.json").json
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    post = spec["paths"]["/api/v1/schools"]["post"]
    assert "422" in post["responses"]


def test_browsable_docs_are_served_without_internet(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and b"/api/v1/docs-assets/swagger-ui-bundle.js" in page.data
    js = client.get("/api/v1/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.data) > 100_000


def test_every_version_a_request_sends_has_the_stored_range(client):
    """A version (or base version) taken from a request is a whole number within a stored version's range, so a
    huge one is a 422 on the field: one shared definition (schemas.common.Version) wherever a request has one."""
    spec = client.get("/api/v1/openapi.json").json
    schemas = spec["components"]["schemas"]

    def resolve(node):
        return schemas[node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node

    def walk(node, where, depth=0):
        node = resolve(node)
        if depth > 6:
            return
        if node.get("items"):
            walk(node["items"], f"{where}[]", depth + 1)
        for name, prop in (node.get("properties") or {}).items():
            prop = resolve(prop)
            if name in ("version", "base_version") and not prop.get("readOnly"):
                found.append((where, name, prop.get("minimum"), prop.get("maximum")))
            walk(prop, f"{where}.{name}", depth + 1)

    found = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                walk(body, f"{method.upper()} {path}")
    assert len(found) >= 5, found  # answers, visit and schedule patches, assignments, push mutations
    assert [f for f in found if f[2:] != (0, 2**31 - 1)] == []
