"""Error pages for browsers: the status in the reader's language, what to do next, a way home.

server.errors.problem() answers with this page when the request prefers text/html and is not an API
address; API clients keep application/problem+json. No detail of the failure is shown (it is English,
may name internals, and is logged anyway)."""
from __future__ import annotations

from flask import Response, g, render_template

from server.web.i18n import N_, _

HEADINGS = {
    400: (N_("The request could not be read"), N_("A form may have been open too long. Go back, reload the page "
                                                  "and try again.")),
    401: (N_("Please sign in"), N_("Your session has ended. Sign in again to continue.")),
    403: (N_("This page is not open to you"), N_("Your account does not have access to this page.")),
    404: (N_("Page not found"), N_("The address may be mistyped, or the record is not in your area.")),
    405: (N_("This address cannot be opened this way"), N_("Go back to the page and use its buttons.")),
    409: (N_("The record changed meanwhile"), N_("Reload the page to see its current state, then try again.")),
    413: (N_("Too much was sent"), N_("Send fewer or smaller photos at a time.")),
    422: (N_("Some fields need attention"), N_("Go back, check the form and try again.")),
    429: (N_("Too many requests"), N_("Wait a minute, then try again.")),
    503: (N_("The service is busy"), N_("Nothing was saved. Try again in a moment.")),
}
FALLBACK = (N_("Something went wrong"), N_("It has been logged. Try again later."))


def error_page(status: int, headers: dict | None = None) -> Response:
    heading, advice = HEADINGS.get(status, FALLBACK)
    if "web_user" not in g:
        from server.web import signed_in_user
        try:
            g.web_user = signed_in_user()
        except Exception:  # noqa: BLE001 - the database may be what failed
            g.web_user = None
    try:
        bad_text = g.get("unstorable_form") if status == 422 else None
        if bad_text:
            from flask import request
            from server.web.forms import field_label
            heading, advice = (N_("Some fields need attention"),
                               N_("A field held a character that cannot be stored (an invisible NUL character). "
                                  "It has been removed from what you typed below; check it and send the form again."))
            bad_text = {"labels": list(dict.fromkeys(field_label(n) for n in bad_text["fields"])),
                        "label_of": {n: field_label(n) for n in bad_text["fields"]}, "items": bad_text["items"],
                        "action": request.full_path.rstrip("?")}
        html = render_template("error.html", status=status, heading=_(heading), advice=_(advice), bad_text=bad_text)
    except Exception:  # noqa: BLE001 - never fail while reporting a failure
        html = f"<!doctype html><title>{status}</title><h1>{status}</h1>"
    resp = Response(html, status=status, mimetype="text/html")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp
