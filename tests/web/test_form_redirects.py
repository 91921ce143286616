"""A form that succeeds answers 303 See Other (the browser then GETs the page; a reload never re-posts).

Each page test posts its own forms and expects 303; this test holds every POST handler of server/web to it,
so a new form cannot bring a 302 (or a bare redirect) back."""
from __future__ import annotations

import ast
from pathlib import Path

import server.web

WEB = Path(server.web.__file__).parent


def _accepts_post(fn: ast.FunctionDef) -> bool:
    for dec in fn.decorator_list:
        if not isinstance(dec, ast.Call) or not isinstance(dec.func, ast.Attribute):
            continue
        if dec.func.attr == "post":
            return True
        if dec.func.attr == "route":
            for kw in dec.keywords:
                if kw.arg == "methods" and "POST" in ast.literal_eval(kw.value):
                    return True
    return False


def _status(call: ast.Call):
    for kw in call.keywords:
        if kw.arg == "code":
            return ast.literal_eval(kw.value)
    return ast.literal_eval(call.args[1]) if len(call.args) > 1 else 302


def _post_redirects():
    for path in sorted(WEB.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and _accepts_post(fn):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "redirect":
                        yield f"{path.name}:{node.lineno} {fn.name}", _status(node)


def test_every_post_handler_redirects_with_303():
    found = dict(_post_redirects())
    # The ticket step, planning forms, sign-in and sign-out are among them.
    names = " ".join(found)
    assert all(n in names for n in ("ticket_detail", "planning_create_schedule", "login", "logout"))
    assert {where: code for where, code in found.items() if code != 303} == {}
