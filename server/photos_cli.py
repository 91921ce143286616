"""`flask photos-cleanup`: expire abandoned partial photo uploads (run it from cron or the scheduler)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("photos-cleanup")
@with_appcontext
def photos_cleanup():
    """Expire partial uploads past their expiry time and delete their chunks."""
    from inspections.photos.tasks import cleanup_expired_uploads
    cfg = current_app.config
    n = cleanup_expired_uploads(storage_url=cfg["STORAGE_URL"], endpoint_url=cfg.get("S3_ENDPOINT_URL"),
                                region=cfg.get("S3_REGION"))
    click.echo(f"{n} expired upload(s) cleaned")
