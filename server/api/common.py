"""Helpers shared by the API views."""
from __future__ import annotations

from flask_smorest import abort
from sqlalchemy import select

from server.extensions import session


def get_in_scope(model, obj_id, criterion):
    """Load one object that the caller may see, else 404 (the same answer whether or not it exists)."""
    obj = session().scalar(select(model).where(model.id == obj_id, criterion))
    if obj is None:
        abort(404, message=f"No {model.__name__.lower()} {obj_id} here.")
    return obj


def page_response(page, dump=None):
    """A page as the API returns it."""
    return {"items": [dump(x) if dump else x for x in page.items], "next_cursor": page.next_cursor}
