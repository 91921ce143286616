"""The OpenAPI document says what the server does: errors are problem+json, decimals sent as text are strings."""
from __future__ import annotations

from apispec.utils import build_reference
from flask_smorest.spec import prepare_response
from marshmallow import Schema, fields

from server.errors import PROBLEM, ProblemApi


class ProblemOut(Schema):
    """RFC 9457 problem details, as every error of this API is sent."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "Field path -> messages (validation errors)."})
    offset = fields.Integer(metadata={"description": "Uploads: where to resume (409)."})
    code = fields.String(metadata={"description": (
        "The refusal's kind, for a client to tell its user from (README, Offline sync): e.g. visit.frozen, "
        "answer.invalid_value, conflict.record_changed; else the HTTP family: invalid, unauthenticated, "
        "forbidden, not_found, conflict, too_large, rate_limited, unavailable."), "example": "visit.frozen"})
    current = fields.Dict(metadata={"description": "Conflicts: the record's current version and fields (409)."})
    dependency = fields.String(metadata={"description": "503: the part that is down (database, queue, storage)."})


def _decimal_as_string(self, field, ret):
    """A Decimal dumped with as_string=True is a JSON string: document it as one (not as a number)."""
    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    return {}


class DocumentedApi(ProblemApi):
    """ProblemApi whose document names application/problem+json and ProblemOut for every error response."""

    ERROR_SCHEMA = ProblemOut

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(_decimal_as_string)

    def _register_responses(self):
        import http
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM if status >= 400 else self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def finish_document(self) -> None:
        """After every blueprint: error responses written inline in a view's doc get the problem content too."""
        ref = build_reference("schema", self.spec.openapi_version.major, "ProblemOut")
        for ops in self.spec._paths.values():
            for op in ops.values():
                if not isinstance(op, dict):
                    continue
                for code, resp in (op.get("responses") or {}).items():
                    if not isinstance(resp, dict) or "$ref" in resp or not str(code)[:1] in "45":
                        continue
                    content = resp.setdefault("content", {})
                    if "application/json" in content:
                        content[PROBLEM] = content.pop("application/json")
                    content.setdefault(PROBLEM, {"schema": ref})
