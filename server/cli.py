"""Command-line tools: `flask --app wsgi db upgrade | create-user | load-demo | worker`."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

ROOT = Path(__file__).resolve().parent.parent
db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


def alembic_config(app: Flask | None = None):
    """Alembic configuration pointing at this app's database."""
    from alembic.config import Config
    app = app or current_app
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["engine"] = app.extensions["db_engine"]
    return cfg


def upgrade_database(app: Flask | None = None, revision: str = "head") -> None:
    """Migrate the schema to `revision`, then make sure the built-in templates exist."""
    from alembic import command

    from inspections.db import new_session
    from inspections.templates.service import ensure_builtin

    command.upgrade(alembic_config(app), revision)
    if revision == "head":
        with new_session() as s:
            ensure_builtin(s)
            s.commit()


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Apply migrations up to REVISION (default: head)."""
    upgrade_database(revision=revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision):
    """Revert migrations down to REVISION."""
    from alembic import command
    command.downgrade(alembic_config(), revision)
    click.echo(f"database at {revision}")


@db_cli.command("current")
def db_current():
    """Show the applied revision."""
    from alembic import command
    command.current(alembic_config())


@click.command("create-user")
@with_appcontext
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(["inspector", "school", "office", "admin"]), required=True)
@click.option("--jurisdiction", "jurisdiction_code", help="Code of the jurisdiction a staff user is bound to.")
@click.option("--school", "school_code", help="Code of the school a school user is bound to.")
@click.option("--name", "display_name")
def create_user(username, password, role, jurisdiction_code, school_code, display_name):
    """Create a user account."""
    from sqlalchemy import select

    from inspections.accounts import service as accounts
    from inspections.accounts.enums import Role
    from inspections.db import new_session
    from inspections.org.models import Jurisdiction, School

    with new_session() as s:
        jid = sid = None
        if jurisdiction_code:
            jid = s.scalar(select(Jurisdiction.id).where(Jurisdiction.code == jurisdiction_code))
            if jid is None:
                raise click.BadParameter(f"no jurisdiction with code {jurisdiction_code!r}", param_hint="--jurisdiction")
        if school_code:
            sid = s.scalar(select(School.id).where(School.code == school_code))
            if sid is None:
                raise click.BadParameter(f"no school with code {school_code!r}", param_hint="--school")
        try:
            user = accounts.create_user(s, username=username, password=password, role=Role(role),
                                        display_name=display_name, jurisdiction_id=jid, school_id=sid)
        except accounts.AccountError as err:
            raise click.ClickException(str(err)) from None
        s.commit()
        click.echo(f"created {user.role.value} {user.username} ({user.id})")


@click.command("load-demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has schools.")
def load_demo(if_empty):
    """Load a realistic demo county and print its logins."""
    from sqlalchemy import func, select

    from inspections import demo
    from inspections.db import new_session
    from inspections.org.models import School

    with new_session() as s:
        if if_empty and s.scalar(select(func.count()).select_from(School)):
            click.echo("demo: database already has data; not loading")
            logins = demo.DEMO_LOGINS
        else:
            logins = demo.load(s, progress=lambda msg: click.echo(f"demo: {msg}"))
            s.commit()
    click.echo("\nDemo logins (username / password / role):")
    for username, password, role, what in logins:
        click.echo(f"  {username:<16} {password:<14} {role:<10} {what}")


@click.command("worker")
@with_appcontext
@click.option("--queues", default="scoring,photos,default,periodic", show_default=True)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--sweep-every", type=click.IntRange(5, 3600), default=None,
              help="Seconds between outbox sweeps and RQ maintenance (default: JOBS_SWEEP_SECONDS, 30).")
@click.option("--fork/--no-fork", default=False, show_default=True,
              help="Run each job in a forked work horse (RQ's default) instead of in the worker process.")
def worker(queues, burst, sweep_every, fork):
    """Run an RQ worker for the given queues (needs REDIS_URL); it also sweeps the job outbox.

    Jobs run in the worker process itself by default (RQ's SimpleWorker): a fork per job and a fresh
    import of Pillow's plugins in each cost more than a scoring batch or a photo's imaging. Job
    timeouts still apply (a signal in the worker); a job that crashes the process is the sweeper's.
    """
    from rq import SimpleWorker, Worker

    from server.extensions import queue, redis_connection
    from server.jobs import clear_stale_scheduler_locks, sweep
    if not current_app.config.get("REDIS_URL"):
        click.echo("REDIS_URL is not set: jobs already run in-process; no worker is needed.", err=True)
        sys.exit(2)
    app = current_app._get_current_object()
    interval = sweep_every or int(current_app.config.get("JOBS_SWEEP_SECONDS", 30))
    qs = [queue(name.strip()) for name in queues.split(",") if name.strip()]
    # A scheduler killed with SIGKILL leaves its lock behind: this worker would run without one
    # (no retries) until RQ's next maintenance. A lock whose process is gone is dropped now.
    for name in clear_stale_scheduler_locks(app, [q.name for q in qs]):
        click.echo(f"cleared a stale scheduler lock for {name}")

    class SweepingWorker(Worker if fork else SimpleWorker):
        """RQ's worker whose maintenance (every `interval` s, not 10 min) also sweeps the outbox."""

        def run_maintenance_tasks(self):
            super().run_maintenance_tasks()
            try:
                counts = sweep(app)
                if any(counts.values()):
                    self.log.info("outbox sweep: %s", counts)
            except Exception:  # a sweep must never stop the worker; the next one tries again
                self.log.exception("outbox sweep failed")

    from server.jobs import prepare_worker_process
    prepare_worker_process()
    click.echo(f"worker listening on: {', '.join(q.name for q in qs)}")
    SweepingWorker(qs, connection=redis_connection(), maintenance_interval=interval,
                   worker_ttl=interval + 15).work(burst=burst, with_scheduler=True)


jobs_cli = AppGroup("jobs", help="Background jobs and their outbox.")


@jobs_cli.command("sweep")
@click.option("--grace", type=click.FloatRange(0, 3600), default=30, show_default=True,
              help="Seconds a freshly queued job is left to the after-commit relay.")
def jobs_sweep(grace):
    """Enqueue again every recorded job with no live RQ job (missing, failed with tries left, abandoned)."""
    from server.jobs import sweep
    counts = sweep(current_app._get_current_object(), grace_seconds=grace)
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@click.command("periodic")
@with_appcontext
def periodic():
    """Enqueue today's periodic jobs (escalating overdue tickets, ...); run it daily from cron."""
    from inspections.db import utcnow
    from server.jobs import enqueue_periodic
    with current_app.test_request_context(method="POST"):  # a writer's session
        for rec in enqueue_periodic(utcnow().strftime("%Y%m%d")):
            click.echo(f"{rec.id}: {rec.status}")


@click.command("plan-visits")
@with_appcontext
@click.option("--horizon", "horizon_days", type=click.IntRange(1, 730), default=None,
              help="Days ahead to plan (default: PLAN_HORIZON_DAYS, 60).")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Plan as of this date (default: today in BUSINESS_TIMEZONE).")
def plan_visits(horizon_days, today):
    """Make the planned visits of every active schedule (idempotent; the daily job does the same)."""
    from inspections.db import new_session, utcnow
    from inspections.planning import service as planning
    from inspections import clock
    day = today.date() if today else clock.today()
    horizon_days = horizon_days or int(current_app.config["PLAN_HORIZON_DAYS"])
    with new_session() as s:
        out = planning.generate(s, today=day, horizon_days=horizon_days, progress=lambda m: click.echo(f"plan: {m}"))
        s.commit()
    click.echo(f"{out['schedules']} schedules: {out['created']} visits planned, {out['existing']} already there, "
               f"{out['skipped']} skipped (through {day.isoformat()} + {horizon_days} days)")


ticket_stats_cli = AppGroup("ticket-stats", help="The dashboard's kept ticket counts.")


@ticket_stats_cli.command("rebuild")
def ticket_stats_rebuild():
    """Recount everything from the tickets (after a bulk load, or to repair); ticket writes wait meanwhile."""
    from inspections.db import new_session
    from inspections.tickets import stats
    with new_session() as s:
        rows = stats.rebuild(s.connection(), progress=lambda n: click.echo(f"counted {n} tickets"))
        s.commit()
    click.echo(f"ticket counts rebuilt: {rows} rows")


@ticket_stats_cli.command("check")
def ticket_stats_check():
    """Compare the kept counts with the tickets; exit 1 and list the differences if they disagree."""
    from inspections.db import new_session
    from inspections.tickets import stats
    with new_session() as s:
        problems = stats.check(s.connection())
    for line in problems[:50]:
        click.echo(line)
    if problems:
        click.echo(f"{len(problems)} differences; `flask ticket-stats rebuild` recounts", err=True)
        raise SystemExit(1)
    click.echo("ticket counts agree with the tickets")


def _load_json(path: str):
    import json
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{path} is not valid JSON: {exc}") from None


def _preview_definition(template_code: str | None) -> dict:
    from sqlalchemy import select

    from inspections.db import new_session
    from inspections.templates.models import ChecklistTemplate, TemplateVersion
    from inspections.templates.service import builtin_definitions
    if not template_code:
        return builtin_definitions()[0]
    with new_session() as s:
        v = s.scalar(select(TemplateVersion).join(ChecklistTemplate).where(ChecklistTemplate.code == template_code,
                                                                           TemplateVersion.status == "published")
                     .order_by(TemplateVersion.number.desc()).limit(1))
        if v is None:
            raise click.BadParameter(f"no published template {template_code!r}", param_hint="--template")
        return v.definition


def _print_scored(scorer, template_code: str | None, level: str, facts) -> None:
    """Run an engine scorer and print its JSON; invalid facts print their field errors and exit 2."""
    import json

    from inspections.errors import ValidationFailed
    try:
        result = scorer(_preview_definition(template_code), level, facts).to_json_dict()
    except ValidationFailed as exc:
        click.echo(json.dumps({"error": str(exc), "errors": exc.fields}, ensure_ascii=False, indent=2), err=True)
        sys.exit(2)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@click.command("score-preview")
@with_appcontext
@click.option("--level", type=click.Choice(["primary", "junior"]), required=True)
@click.option("--facts", "facts_path", required=True, help="JSON file: {fact code: value}.")
@click.option("--template", "template_code", help="A published template's code (default: the national standard).")
def score_preview(level, facts_path, template_code):
    """Score one school's facts (a self-assessment check); prints JSON, stores nothing."""
    from inspections.scoring import engine
    _print_scored(engine.score_school, template_code, level, _load_json(facts_path))


@click.command("county-preview")
@with_appcontext
@click.option("--level", type=click.Choice(["primary", "junior"]), required=True)
@click.option("--facts", "facts_path", required=True, help='JSON file: [{"school": name, "facts": {...}}, ...].')
@click.option("--template", "template_code", help="A published template's code (default: the national standard).")
def county_preview(level, facts_path, template_code):
    """Judge a county's schools (差异系数 and the school rule); prints JSON, stores nothing."""
    from inspections.scoring import engine
    schools = _load_json(facts_path)
    if not isinstance(schools, list) or not all(isinstance(x, dict) and "facts" in x for x in schools):
        raise click.BadParameter('expected a JSON list of {"school": name, "facts": {...}}', param_hint="--facts")
    _print_scored(engine.score_county, template_code, level, schools)


def register(app: Flask) -> None:
    """Attach the commands to the app."""
    app.cli.add_command(db_cli)
    app.cli.add_command(ticket_stats_cli)
    app.cli.add_command(jobs_cli)
    from server.photos_cli import photos_cleanup
    for cmd in (create_user, load_demo, worker, score_preview, county_preview, periodic, photos_cleanup,
                plan_visits):
        app.cli.add_command(cmd)
