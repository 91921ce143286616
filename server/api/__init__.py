"""HTTP API under /api/v1: one flask-smorest blueprint per feature."""
from __future__ import annotations

from server.errors import ProblemApi


def register(api: ProblemApi) -> None:
    """Register every API blueprint (explicit list: nothing is registered by import)."""
    from server.api import (auth, jurisdictions, photos, planning, reports, schools, scoring, sync, templates, tickets,
                            users, visits)

    for module in (auth, jurisdictions, schools, users, templates, visits, scoring, photos, tickets, sync,
                   planning, reports):
        api.register_blueprint(module.blp, url_prefix=f"/api/v1{module.PREFIX}")
