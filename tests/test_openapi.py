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
