"""Settings from environment variables, with embedded defaults for a laptop."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _secret_key(var_dir: Path) -> str:
    # Several instances must share SECRET_KEY in production; locally keep one in ./var so it
    # survives restarts without anyone having to set it.
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = var_dir / "secret_key"
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()
    except OSError:
        return secrets.token_urlsafe(48)


def _zone(name: str) -> str:
    """An IANA time zone name, or a clear error at start-up."""
    from zoneinfo import ZoneInfo
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        raise ValueError(f"BUSINESS_TIMEZONE must be an IANA time zone such as Asia/Shanghai, not {name!r}") from None
    return name


def _days(env, name: str, default: int) -> int:
    """A whole number of days from the environment (1-730), or a clear error at start-up."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of days, not {raw!r}") from None
    if not 1 <= value <= 730:
        raise ValueError(f"{name} must be between 1 and 730 days, not {value}")
    return value


def _flag(env, name: str, default: bool) -> bool:
    """A yes/no setting: 1/true/yes/on or 0/false/no/off (anything else is an error at start-up)."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def from_env(overrides: dict | None = None) -> dict:
    """Build the settings mapping: environment, then embedded defaults, then overrides."""
    env = os.environ
    overrides = overrides or {}
    var_dir = Path(overrides.get("VAR_DIR") or env.get("VAR_DIR") or "var").resolve()
    cfg = {
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'inspections.db'}",
        "REDIS_URL": env.get("REDIS_URL") or None,
        "STORAGE_URL": env.get("STORAGE_URL") or str(var_dir / "blobs"),
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or None,
        "S3_REGION": env.get("S3_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        # JSON bodies are small; photo chunks go through their own endpoint with its own cap.
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", 1 << 20)),
        # Photo uploads: chunks have their own body limit; partial uploads expire; pixel cap against bombs.
        "UPLOAD_MAX_BYTES": int(env.get("UPLOAD_MAX_BYTES", 50 << 20)),
        "MAX_CHUNK_BYTES": int(env.get("MAX_CHUNK_BYTES", 8 << 20)),
        "UPLOAD_EXPIRY_HOURS": float(env.get("UPLOAD_EXPIRY_HOURS", 48)),
        "PHOTO_MAX_PIXELS": int(env.get("PHOTO_MAX_PIXELS", 60_000_000)),
        # PNG, WebP and HEIF have no reduced decoding: a lower cap bounds a worker's memory per photo.
        "PHOTO_MAX_PIXELS_FULL_DECODE": int(env.get("PHOTO_MAX_PIXELS_FULL_DECODE", 24_000_000)),
        "PHOTO_MAX_DISTANCE_M": float(env.get("PHOTO_MAX_DISTANCE_M", 2000)),
        "PHOTO_TIME_TOLERANCE_HOURS": float(env.get("PHOTO_TIME_TOLERANCE_HOURS", 12)),
        "PHOTO_URL_EXPIRY_SECONDS": int(env.get("PHOTO_URL_EXPIRY_SECONDS", 300)),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Photo declarations, chunks and evidence forms per signed-in user (a 50 MiB photo is 7 chunks).
        "UPLOAD_RATE_LIMIT": env.get("UPLOAD_RATE_LIMIT", "120 per minute;2000 per hour"),
        "KEY_PREFIX": env.get("KEY_PREFIX", ""),
        # Jobs: seconds between a worker's outbox sweeps; tries of a request hit by a deadlock.
        "JOBS_SWEEP_SECONDS": int(env.get("JOBS_SWEEP_SECONDS", 30)),
        "DB_RETRY_ATTEMPTS": int(env.get("DB_RETRY_ATTEMPTS", 5)),
        "ARGON2_TIME_COST": int(env.get("ARGON2_TIME_COST", 2)),
        "ARGON2_MEMORY_KIB": int(env.get("ARGON2_MEMORY_KIB", 19 * 1024)),
        # Offline sync: mutations per push, push body cap, how long a pull cursor stays valid.
        "SYNC_MAX_BATCH": int(env.get("SYNC_MAX_BATCH", 500)),
        "SYNC_MAX_PUSH_BYTES": int(env.get("SYNC_MAX_PUSH_BYTES", 8 << 20)),
        "SYNC_CURSOR_RETENTION_DAYS": float(env.get("SYNC_CURSOR_RETENTION_DAYS", 30)),
        # How long a push's results are kept to answer its retries as `duplicate`.
        "SYNC_MUTATION_RETENTION_DAYS": _days(env, "SYNC_MUTATION_RETENTION_DAYS", 90),
        # Visit planning: days a planned visit counts as late before it is missed; days ahead the
        # daily job turns schedules into planned visits.
        "VISIT_GRACE_DAYS": _days(env, "VISIT_GRACE_DAYS", 7),
        # Days (due dates, overdue, late and missed visits, dashboard dates, months, exports) are decided,
        # and times shown, in this zone; storage stays UTC.
        "PLAN_HORIZON_DAYS": _days(env, "PLAN_HORIZON_DAYS", 60),
        # Largest evidence file a county attaches to its self-report (PDF, Word, Excel, images).
        "DOCUMENT_MAX_BYTES": int(env.get("DOCUMENT_MAX_BYTES", 20 << 20)),
        # The zone business days and years are decided in (yearly reports, the county's assessment year).
        "BUSINESS_TIMEZONE": _zone(env.get("BUSINESS_TIMEZONE") or "Asia/Shanghai"),
        # Behind HTTPS (production): the session cookie is sent only over TLS. Off by default so the
        # embedded `make run` on http://127.0.0.1 can sign in.
        "SESSION_COOKIE_SECURE": _flag(env, "SESSION_COOKIE_SECURE", False),
        "PREFERRED_URL_SCHEME": "https" if _flag(env, "SESSION_COOKIE_SECURE", False) else "http",
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES") or 0),
        "JSON_AS_ASCII": False,
        "API_TITLE": "Education supervision inspections API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        # Swagger UI is served from the swagger-ui-bundle package: the docs work with no internet.
        "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs-assets/",
    }
    cfg.update(overrides)
    if "SECRET_KEY" not in cfg:
        cfg["SECRET_KEY"] = _secret_key(Path(cfg["VAR_DIR"]))
    return cfg
