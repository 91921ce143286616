"""Domain errors the web layer maps to HTTP problems."""
from __future__ import annotations


class DomainError(Exception):
    """Base for rule violations; `fields` maps a field name to messages."""

    status = 422
    code: str | None = None  # a kind's stable code where a class stands for one kind (e.g. visit.frozen)

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None, *, extra: dict | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}  # further members of the problem document (e.g. the record's current values)
        # What a client tells its user from (the problem document's and a push result's `code`), never the
        # English sentence: given here, else the message's kind (a Message), else the class's.
        self.code = code or getattr(message, "code", None) or type(self).code


# The code of a refusal with no kind of its own: its HTTP family (problem documents and push results alike).
FAMILIES = {400: "invalid", 422: "invalid", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
            409: "conflict", 410: "gone", 413: "too_large", 415: "unsupported_media_type", 405: "method_not_allowed",
            429: "rate_limited", 500: "server_error", 503: "unavailable"}


def family_code(status: int) -> str:
    """The family code of an HTTP status ("refused" for one with none)."""
    return FAMILIES.get(status, "refused")


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


# -- Messages as codes and facts. A service says what went wrong with a kind of message (a stable code and
# its English sentence) and the facts of this case; the API shows the English sentence (a Message is a str),
# the web pages look the code up in their catalogue and say it in the reader's language. Every kind is
# registered here, so a test can check that each one has its words on the pages.
KINDS: dict[str, "Says"] = {}


class Message(str):
    """An English sentence with the code of its kind and the facts it was made from."""

    code: str
    facts: dict

    def __new__(cls, code: str, text: str, facts: dict | None = None):
        obj = super().__new__(cls, text)
        obj.code, obj.facts = code, dict(facts or {})
        return obj

    def __reduce__(self):  # pickles (RQ, copies) keep the code
        return (Message, (self.code, str(self), self.facts))


class Says:
    """A kind of domain message: `Says("ticket.note_required", "a reason is required")`, called with the
    case's facts (`{name}` fields of the sentence) to make the Message a service raises."""

    def __init__(self, code: str, text: str):
        if code in KINDS:
            raise ValueError(f"message kind {code!r} defined twice")
        self.code, self.text = code, text
        KINDS[code] = self

    def __call__(self, **facts) -> Message:
        return Message(self.code, self.text.format(**facts) if facts else self.text, facts)

    def fact_names(self) -> list[str]:
        """The facts the sentence takes (its `{name}` fields)."""
        import string
        return [name for _, name, _, _ in string.Formatter().parse(self.text) if name]

    def __repr__(self) -> str:
        return f"Says({self.code!r})"
