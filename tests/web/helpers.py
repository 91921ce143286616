"""Signing in to the pages through the test client."""
from __future__ import annotations

import re


def csrf(resp) -> str:
    """The CSRF token a page's forms carry."""
    return re.search(r'name="csrf_token" value="([^"]+)"', resp.get_data(as_text=True)).group(1)


def sign_in(client, username: str, password: str = "password-123"):
    """Post the login form with its CSRF token; returns the response."""
    return client.post("/web/login", data={"username": username, "password": password,
                                           "csrf_token": csrf(client.get("/web/login"))})


def login(client, username: str, password: str = "password-123") -> None:
    """Sign in, asserting it worked."""
    assert sign_in(client, username, password).status_code == 303
