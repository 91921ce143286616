"""Helpers shared by the API views."""
from __future__ import annotations

import flask_smorest
from flask_smorest import abort
from sqlalchemy import select
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from server.extensions import session


class JsonParser(FlaskParser):
    """webargs' parser, except that a body sent as something other than JSON to a view that reads JSON is
    a 415 (RFC 9110 15.5.16) saying what to send, instead of the body ignored and every required field
    reported missing. With no body at all, the fields are missing (422), as before."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            if req.content_length or "chunked" in (req.headers.get("Transfer-Encoding") or "").lower():
                abort(415, message="Send the body as JSON, with Content-Type: application/json.")
            return core.missing
        return super()._raw_load_json(req)


class Blueprint(flask_smorest.Blueprint):
    """The API's blueprints: flask-smorest's, with the JSON parser above."""

    ARGUMENTS_PARSER = JsonParser()


def get_in_scope(model, obj_id, criterion):
    """Load one object that the caller may see, else 404 (the same answer whether or not it exists)."""
    obj = session().scalar(select(model).where(model.id == obj_id, criterion))
    if obj is None:
        abort(404, message=f"No {model.__name__.lower()} {obj_id} here.")
    return obj


def page_response(page, dump=None):
    """A page as the API returns it."""
    return {"items": [dump(x) if dump else x for x in page.items], "next_cursor": page.next_cursor}
