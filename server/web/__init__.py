"""Server-rendered pages over the same services and scope rules as the API.

This module holds the blueprint, sign-in, CSRF and the role check; each area (tickets, dashboard,
visit planning) lives in its own module that adds routes to `bp`, its words through the gettext catalogue (`i18n._`).
"""
from __future__ import annotations

import hmac
import secrets
import uuid

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session as web_session, url_for

from inspections.accounts import service as accounts
from inspections.accounts.enums import Role
from inspections.accounts.models import User
from inspections.accounts.scope import principal_for
from server.extensions import session
from server.web import i18n, words
from server.web.i18n import _
from schemas.common import normal_lang

bp = Blueprint("web", __name__, url_prefix="/web", template_folder="templates", static_folder="static")

# Endpoints whose forms may carry photos (multipart), and how many a form may carry.
FILE_FORMS = {"web.ticket_detail"}
FORM_FILES = 4

# The header's links: (endpoint, words, roles that see it). Areas append theirs with `nav_link`.
NAV_LINKS: list[tuple[str, object, tuple[str, ...]]] = []


def nav_link(endpoint: str, label, *roles: Role) -> None:
    """A header link; `label` is a lazy string (i18n._l) so it is shown in the reader's language."""
    NAV_LINKS.append((endpoint, label, tuple(r.value for r in roles)))


@bp.before_app_request
def _lang():
    lang = normal_lang(request.args.get("lang"))  # zh, zh_CN, en-US ... as the catalogue's locales
    if lang is not None:
        web_session["lang"] = lang


@bp.before_request
def _csrf_and_user():
    """Load the signed-in user; reject a POST whose CSRF token does not match the session's."""
    if request.method == "POST":
        if request.endpoint in FILE_FORMS:
            # Pages that take photos in a plain form: room for a few, each within one upload chunk.
            request.max_content_length = FORM_FILES * current_app.config["MAX_CHUNK_BYTES"] + (1 << 20)
        sent, expected = request.form.get("csrf_token", ""), web_session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent, expected):
            abort(400, "CSRF token missing or wrong")
    g.web_user = signed_in_user()


def signed_in_user() -> User | None:
    """The user of this request's session cookie, or None (and the session cleared) when that session has ended.

    The cookie is signed, not stored: it carries the user's session_version, and logout, a password
    change or deactivation raise that version, so every copy of an older cookie stops working at once.
    """
    uid, version = web_session.get("uid"), web_session.get("sv")
    if not uid:
        return None
    try:
        user = session().get(User, uuid.UUID(uid))
    except ValueError:
        user = None
    if user is None or not user.active or version != (user.session_version or 0):
        lang = web_session.get("lang")
        web_session.clear()
        if lang:
            web_session["lang"] = lang
        return None
    return user


@bp.app_context_processor
def _helpers():
    if "csrf" not in web_session:
        web_session["csrf"] = secrets.token_urlsafe(32)
    return {"csrf_token": web_session["csrf"], "lang": i18n.page_lang(), "label": i18n.label,
            "web_user": g.get("web_user"), "nav_links": NAV_LINKS, "lang_href": lang_href,
            "ticket_title": words.ticket_title, "measurement": words.measurement, "event_text": words.event_text,
            "photo_flags": words.photo_flags, "photo_place": words.photo_place, "value_text": words.value_text,
            "amount_text": words.amount_text, "name_of": words.name_of, "place": _place(g.get("web_user"))}


def _place(user: User | None) -> str:
    """The user's place in the jurisdiction tree, for the header: "省 › 市 › 县", or the school's."""
    if user is None:
        return ""
    node, names = user.jurisdiction, []
    if user.school is not None:
        names.append(user.school.name)
        node = None
    while node is not None and len(names) < 5:
        names.insert(0, node.name)
        node = node.parent
    return " › ".join(names)


def lang_href(lang: str) -> str:
    """This page in another language. A page shown in answer to a POST (a form that failed) links to its
    GET address (g.page_url, set by the view; the user's start page otherwise), never back to the POST."""
    if request.method == "GET" and request.url_rule is not None:
        args = request.args.to_dict(flat=False)
        args["lang"] = [lang]
        return url_for(request.endpoint, **(request.view_args or {}), **args)
    rule = request.url_rule
    if rule is not None and "GET" in (rule.methods or ()) and request.endpoint:
        return url_for(request.endpoint, **(request.view_args or {}), lang=lang)
    return f"{g.get('page_url') or url_for('web.home')}?lang={lang}"


def landing_endpoint(user: User | None) -> str:
    """Where a user starts: schools their tickets, inspectors their visits, offices the dashboard."""
    if user is None:
        return "web.login"
    return {Role.school: "web.ticket_list", Role.inspector: "web.my_visits"}.get(user.role, "web.dashboard")


@bp.get("/")
def home():
    """The signed-in user's start page (the sign-in page when signed out)."""
    return redirect(url_for(landing_endpoint(g.web_user)))


def _principal(*roles: Role):
    """The signed-in principal, redirecting to login when signed out; 403 for the wrong role."""
    if g.web_user is None:
        abort(redirect(url_for("web.login", next=request.path)))
    if roles and g.web_user.role not in roles:
        abort(403)
    return principal_for(session(), g.web_user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with username and password; a new session (and CSRF token) on success."""
    error = None
    if request.method == "POST":
        user = accounts.get_by_username(session(), request.form.get("username", ""))
        if accounts.check_password(user, request.form.get("password", "")) and user.active:
            lang = web_session.get("lang", "zh-CN")
            web_session.clear()
            web_session.update(uid=str(user.id), sv=user.session_version or 0, lang=lang,
                               csrf=secrets.token_urlsafe(32))
            nxt = request.args.get("next", "")
            return redirect(nxt if nxt.startswith("/web/") else url_for(landing_endpoint(user)), 303)
        error = _("Wrong username or password")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    """Sign out (POST with the CSRF token): every session of this user ends, copies of the cookie included."""
    user = g.get("web_user")
    if user is not None:
        accounts.end_sessions(session(), user, tokens=False)
        session().commit()
    web_session.clear()
    return redirect(url_for("web.login"), 303)


@bp.record_once
def _cookie_policy(state):
    i18n.init_app(state.app)
    # The address the README gives: the site's root leads to the user's start page.
    state.app.add_url_rule("/", "web.root", lambda: redirect(url_for("web.home")))
    # The session cookie carries the login: never readable by scripts, not sent on cross-site POSTs.
    state.app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not state.app.config.get("SESSION_COOKIE_SAMESITE"):
        state.app.config["SESSION_COOKIE_SAMESITE"] = "Lax"


# Each area of the site is its own module adding routes to this blueprint.
from server.web import tickets as _tickets  # noqa: E402,F401
from server.web import planning as _planning  # noqa: E402,F401
from server.web import visits as _visits  # noqa: E402,F401
from server.web import dashboard as _dashboard  # noqa: E402,F401
from server.web import yearly as _yearly  # noqa: E402,F401
from server.web import counties as _counties  # noqa: E402,F401
from server.web import checklists as _checklists  # noqa: E402,F401
from server.web import register as _register  # noqa: E402,F401
