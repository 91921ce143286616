"""The Flask application factory."""
from __future__ import annotations

import logging

from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment plus `config` overrides (tests pass a mapping)."""
    from server import config as config_module

    app = Flask(__name__)
    from server.jsonio import OrjsonProvider
    from server.textguard import Request, refuse_bad_text_in_url
    app.json = OrjsonProvider(app)
    app.request_class = Request  # text PostgreSQL cannot store, in bodies and forms, is a 422
    app.config.update(config_module.from_env(config))
    from inspections import clock
    clock.configure(app.config["BUSINESS_TIMEZONE"])  # a wrong zone name stops the start-up
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["TRUSTED_PROXIES"]), x_proto=1)

    from inspections.db import import_models
    from server import cli, errors, extensions, health
    from server.api import register as register_api

    import_models()
    import sync.models  # noqa: F401 - sync's tables belong to the same schema
    from inspections.accounts.service import configure_hasher
    configure_hasher(time_cost=int(app.config["ARGON2_TIME_COST"]), memory_kib=int(app.config["ARGON2_MEMORY_KIB"]))
    extensions.init_app(app)
    from server import ratelimit
    ratelimit.init_app(app)
    from sync.changelog import install as install_change_log
    install_change_log()  # explicit: the change log is written in the data's own transaction
    from inspections.tickets.stats import install as install_ticket_stats
    install_ticket_stats()  # the dashboard's counts, kept in each ticket change's own transaction
    from server.jobs import install as install_job_relay
    install_job_relay(app)  # outbox effects go to RQ after their transaction commits
    from server.openapi import DocumentedApi
    api = DocumentedApi(app, spec_kwargs={
        "info": {"description": "Field inspections for high-quality balanced compulsory education (教育督导)."},
    })
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    app.extensions["api"] = api
    register_api(api)
    from server.web import bp as web_bp
    app.register_blueprint(web_bp)  # server-rendered pages at /web (session login, CSRF)
    from server.field import bp as field_bp
    app.register_blueprint(field_bp)  # the offline field app (PWA) at /field/
    errors.register(app)
    from server.auth import authenticate_api_request
    app.before_request(authenticate_api_request)
    app.before_request(refuse_bad_text_in_url)
    api.register_blueprint(health.blp)
    api.finish_document()  # error responses are documented as what they are: problem+json
    ratelimit.apply_limits(app)  # every sign-in path shares one budget; uploads are counted per user
    from server import security
    security.init_app(app)
    _register_docs_assets(app)
    cli.register(app)
    return app


def _register_docs_assets(app: Flask) -> None:
    """Serve Swagger UI's files locally for the browsable API docs at /api/v1/docs."""
    from flask import send_from_directory
    from swagger_ui_bundle import swagger_ui_path

    @app.get("/api/v1/docs-assets/<path:filename>")
    def docs_assets(filename):
        return send_from_directory(swagger_ui_path, filename, max_age=86400)
