"""Domain errors the web layer maps to HTTP problems."""
from __future__ import annotations


class DomainError(Exception):
    """Base for rule violations; `fields` maps a field name to messages."""

    status = 422

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationFailed(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The request is well-formed but the record's state forbids it (HTTP 409)."""

    status = 409


class Forbidden(DomainError):
    """The caller's role may not do this (HTTP 403)."""

    status = 403
