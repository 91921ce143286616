"""Text PostgreSQL cannot store, and bodies the server cannot read, are refused at the door: a NUL character (U+0000) or an unpaired
surrogate in any query argument, form field or JSON string (or key) is a 422 naming the fields,
before anything runs (`schemas.text`); one in the path is a 404.

JSON may spell NUL as the escape \\u0000 (and a lone surrogate as \\ud800), URLs NUL as %00, but
PostgreSQL's text and jsonb cannot hold them: left alone they fail the INSERT (or the bound query
parameter, or the encoding of the query) deep inside a view, a 500 after the request's work, on
every retry. The JSON check is a byte search of the raw body for those escapes, so a normal request
pays next to nothing; only a body that has one is parsed again to name the fields. It runs when the
body is first read (by the view's argument parser, after the blueprint has set its size limit), in
`Request.get_data`.
"""
from __future__ import annotations

import json
import re
import urllib.parse

from flask import Request as FlaskRequest
from flask import request
from flask_smorest import abort
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_content_length

from schemas.text import TEXT_MESSAGE, bad_text_paths, unstorable

# \u0000 preceded by an even number of backslashes (an odd one would make it the text "\u0000").
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Paths checked later, where a refusal is finer than a 422 for the whole request: anything inside a
# push's mutation (one bad mutation is `rejected`, the batch goes on: its envelope by `MutationIn`'s
# validators, its fields by `sync.fields.load`).
_LATER = {"/api/v1/sync/push": re.compile(r"^mutations\.\d+(\.|$)")}


def body_bad_text(raw: bytes) -> list[str]:
    """Paths of the unstorable strings in a JSON body ([] if none, or if it is not JSON: the parser
    says so). Byte searches first, ~50x faster than a regular expression over a big body; only a body
    with a NUL or surrogate escape is parsed again. A surrogate escape (\\ud800-\\udfff) may be
    half of a proper pair (an emoji written in ASCII): the walk decides."""
    nul = b"\\u0000" in raw and _ESCAPED_NUL.search(raw)
    if not (nul or b"\\ud" in raw or b"\\uD" in raw):
        return []
    try:
        return bad_text_paths(json.loads(raw))
    except (ValueError, RecursionError):
        return []


def _refuse(paths: list[str]):
    later = _LATER.get(request.path)
    paths = [p for p in paths if later is None or not later.match(p)]
    if paths:
        abort(422, message="Text may not contain NUL characters or unpaired surrogates.",
              errors={p: [TEXT_MESSAGE] for p in paths})


try:  # gunicorn's body parse errors (InvalidChunkSize, ChunkMissingTerminator, ...) are not OSErrors
    from gunicorn.http.errors import ParseException as _GunicornParseError
except ImportError:  # pragma: no cover - another WSGI server
    _GunicornParseError = OSError
UNREADABLE = (OSError, _GunicornParseError)


def _unreadable():
    # The WSGI server could not decode the body: a chunk size that is not hex (gunicorn's InvalidChunkSize,
    # werkzeug's "Invalid chunk header" are OSErrors), or the connection dropped mid-body. The client's fault.
    abort(400, message="The request body could not be read: broken chunked encoding or an interrupted upload.")


class _AtMost(LimitedStream):
    """A streamed body (chunked: no Content-Length) of at most `most` bytes. Werkzeug's own stream stops
    at the maximum without a word, so a longer body read whole came out cut at the limit (a JSON body
    then "not valid JSON", a form with its last field shortened); this one reads one byte past the
    maximum and is a 413 when there is one."""

    def __init__(self, stream, most: int):
        super().__init__(stream, most + 1, is_max=True)
        self.most = most

    def readinto(self, b) -> int | None:
        n = super().readinto(b)
        if self._pos > self.most:
            raise RequestEntityTooLarge()
        return n


class Request(FlaskRequest):
    """Flask's request, refusing unstorable text in JSON bodies and form fields as they are read, and a
    streamed body longer than `max_content_length` with a 413 (RFC 9110 15.5.14) rather than cut short."""

    _text_checked = False

    @cached_property
    def stream(self):
        environ = self.environ
        if (self.max_content_length is not None and "wsgi.input_terminated" in environ
                and get_content_length(environ) is None and not self.shallow):
            return _AtMost(environ["wsgi.input"], self.max_content_length)
        return super().stream

    def get_data(self, *args, **kwargs):
        try:
            data = super().get_data(*args, **kwargs)
        except UNREADABLE:
            _unreadable()
        if not self._text_checked and self.is_json:
            raw = data.encode() if isinstance(data, str) else data
            bad = body_bad_text(raw)
            if bad:
                _refuse(bad)  # again on every read: an early reader (a rate-limit key) may swallow the first
            self._text_checked = True
        return data

    def _load_form_data(self):
        try:
            if self.mimetype == "application/x-www-form-urlencoded":
                _refuse_unreadable_form(self.get_data(cache=True))  # parsed below from the cached bytes
            super()._load_form_data()
        except UNREADABLE:
            _unreadable()
        bad = [k for k, v in self.form.items(multi=True) if unstorable(k) or unstorable(v)]
        if bad:
            if self.path.startswith("/web/"):
                # A page's form: its error page names the fields and offers the typed input again, cleaned.
                from flask import g
                g.unstorable_form = {"fields": list(dict.fromkeys(_clean(k) for k in bad)),
                                     "items": [(_clean(k), _clean(v)) for k, v in self.form.items(multi=True)]}
            _refuse(bad)


def _refuse_unreadable_form(raw: bytes) -> None:
    """A 400 for a urlencoded form whose bytes, or whose %-escapes, are not UTF-8 (`name=bad%FFname`): werkzeug
    keeps such an escape as its literal text, which was stored as the school's name."""
    try:
        urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        abort(400, message="The form could not be read: its text is not UTF-8. Nothing was saved.")


def _clean(text: str) -> str:
    """The text without the characters that cannot be stored (NUL, unpaired surrogates)."""
    return text.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")


def refuse_bad_text_in_url():
    """before_request: unstorable text in the path is a 404, in a query argument a 422."""
    if unstorable(request.path):
        abort(404)  # no resource is named with a NUL character
    bad = [f"query.{k}" for k, v in request.args.items(multi=True) if unstorable(k) or unstorable(v)]
    if bad:
        _refuse(bad)
