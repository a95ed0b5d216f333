"""The ``insurecrm`` command: a Flask CLI group (``insurecrm run``, ``insurecrm db upgrade``, ...)."""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup, with_appcontext
from marshmallow import ValidationError

from insurecrm import create_app
from insurecrm.imports.cli import import_command
from insurecrm.jobs_cli import jobs_group
from insurecrm.models import Role
from insurecrm.simulate_cli import simulate
from reports.cli import report_command, reports_list_command


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False)
def main() -> None:
    """InsureCRM: a CRM for insurers. Settings come from INSURECRM_* environment variables."""


@main.group("db")
def db_group() -> None:
    """Database schema: migrate, check for drift."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    from insurecrm import migrate

    migrate.upgrade(revision)
    click.echo(f"Database at {revision}.")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Migrate the database back to REVISION."""
    from insurecrm import migrate

    migrate.downgrade(revision)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    from insurecrm import migrate

    migrate.revision(message)


@db_group.command("check")
@with_appcontext
def db_check() -> None:
    """Report drift between the database and the models; exits 1 when there is any."""
    from insurecrm import migrate

    differences = migrate.drift()
    if differences:
        click.echo("The database differs from the models:")
        for difference in differences:
            click.echo(f"  {difference}")
        sys.exit(1)
    click.echo("No drift: the database matches the models.")


@main.group("users")
def users_group() -> None:
    """Manage logins."""


@users_group.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", "display_name", default=None)
@click.option("--agent-code", default=None, help="For agents and specialists: their agent code.")
@click.option("--org-unit-code", default=None, help="For branch managers: the unit they lead.")
@click.option("--referrer-code", default=None, help="For bank referrers: their referrer code.")
@click.password_option()
@with_appcontext
def users_create(username, role, display_name, agent_code, org_unit_code, referrer_code, password) -> None:
    """Create a user."""
    from insurecrm.actor import acting_as
    from insurecrm.db import db
    from insurecrm.users import create_user

    with acting_as("cli:users.create"):
        try:
            create_user(
                {"username": username, "role": role, "display_name": display_name or username, "password": password,
                 "agent_code": agent_code, "org_unit_code": org_unit_code, "referrer_code": referrer_code}
            )
        except ValidationError as exc:
            db.session.rollback()
            errors = exc.normalized_messages().items()
            message = "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in errors)
            raise click.ClickException(message) from exc
        db.session.commit()
    click.echo(f"User {username} created.")


@main.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the daily jobs: catch up on missed dates, then every day (a process of its own)."""
    from flask import current_app

    from insurecrm import scheduler

    scheduler.run(current_app._get_current_object())


@main.command("demo")
@click.option("--policyholders", "n_policyholders", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--password", default="demo", show_default=True, help="Password of every demo user.")
@click.option("--if-empty", is_flag=True, help="Do nothing (successfully) when the book already has data.")
@with_appcontext
def demo(n_policyholders: int, seed: int, password: str, if_empty: bool) -> None:
    """Build a deterministic, realistic demo book with users for every role."""
    from insurecrm.demo import book_is_empty, build_demo_book, print_logins

    if not book_is_empty():
        if if_empty:
            click.echo("The book already has data; no demo loaded.")
            print_logins(password=None)
            return
        raise click.ClickException("The database already holds a book; the demo loads into an empty one only.")
    click.secho("Demo users share one password: for demonstrations only, never in production.", fg="yellow")
    build_demo_book(policyholders=n_policyholders, seed=seed, password=password)
    print_logins(password=password)


@main.group("outbox")
def outbox_group() -> None:
    """The outbox: deliver queued email and SMS."""


@outbox_group.command("send")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="Send at most this many messages.")
@with_appcontext
def outbox_send(limit: int) -> None:
    """Send the due email and SMS (safe beside other senders; see docs/outbox.md)."""
    from insurecrm.actor import acting_as
    from insurecrm.config import ConfigError
    from insurecrm.outbox.sender import send_pending

    with acting_as("cli:outbox.send"):
        try:
            counts = send_pending(limit)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(", ".join(f"{key}={value}" for key, value in counts.items()))


main.add_command(jobs_group)
main.add_command(import_command)
main.add_command(simulate)
main.add_command(report_command)
main.add_command(reports_list_command)


if __name__ == "__main__":
    main()
