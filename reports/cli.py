"""``insurecrm report NAME --format pdf|xlsx|csv [filters] -o FILE``: a report of the catalogue written to a file,
exactly as the page's downloads write it, with a progress bar over the rows.

The report runs in the scope of ``--as USERNAME`` (an agent's own book, a manager's branch, the actuary's
pseudonymised company) or, by default, of the whole company as an administrator sees it. Filters are those of the
page and the API: ``--start``, ``--end``, ``--org-unit``, ``--channel``, ``--product`` and the report's own as
``--set key=value`` (``--set by=region``); bad ones are refused with their messages (exit 2) and nothing is written.
"""

from __future__ import annotations

import os
import tempfile

import click
from flask import g
from flask.cli import with_appcontext
from flask_babel import refresh
from marshmallow import ValidationError
from sqlalchemy import func, select
from tqdm import tqdm

from insurecrm import clock
from insurecrm.db import db
from insurecrm.i18n import LANGUAGES
from insurecrm.models import Role, User


def _report_names() -> list[str]:
    from reports import modules  # noqa: F401 - registers the reports
    from reports.catalogue import REPORTS

    return sorted(REPORTS)


@click.command("report")
@click.argument("name")
@click.option("--format", "output_format", type=click.Choice(["csv", "xlsx", "pdf"]), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The file to write (replaced only once the report is complete).")
@click.option("--as", "username", default=None, help="Run in this user's scope (default: the whole company).")
@click.option("--start", default=None, help="First day of the period (YYYY-MM-DD).")
@click.option("--end", default=None, help="Last day of the period, included (YYYY-MM-DD).")
@click.option("--org-unit", "org_unit_id", default=None, help="Only this unit (id) and the units below it.")
@click.option("--channel", default=None, help="Only this sales channel.")
@click.option("--product", "product_id", default=None, help="Only this product (id).")
@click.option("--set", "extra", multiple=True, metavar="KEY=VALUE", help="A filter of the report's own; repeatable.")
@click.option("--table", default=None, help="For CSV: which of the report's tables (default: the first).")
@click.option("--language", type=click.Choice(list(LANGUAGES)), default="en", show_default=True)
@with_appcontext
def report_command(name, output_format, output, username, start, end, org_unit_id, channel, product_id, extra, table,
                   language) -> None:
    """Write the report NAME (`insurecrm reports` lists them) as CSV, XLSX or PDF."""
    from reports.catalogue import REPORTS

    _report_names()
    if name not in REPORTS:
        raise click.UsageError(f"No report {name!r}. Reports: {', '.join(_report_names())}.")
    report = REPORTS[name]
    g.language = language
    refresh()  # the language of this work, not one a request or an earlier command left behind
    user = _user(username)
    if user.role not in report.roles:
        raise click.UsageError(f"The role of {user.username} may not run the report {name}.")
    g.user = user  # whose scope the figures are in, and whether people are pseudonymised
    given = {"start": start, "end": end, "org_unit_id": org_unit_id, "channel": channel, "product_id": product_id}
    for pair in extra:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.UsageError(f"--set takes KEY=VALUE, not {pair!r}.")
        given[key.strip()] = value.strip()
    try:
        args = report.args().load({key: value for key, value in given.items() if value not in (None, "")})
    except ValidationError as exc:
        messages = "; ".join(f"{key}: {' '.join(map(str, v))}" for key, v in exc.normalized_messages().items())
        raise click.UsageError(messages) from exc
    _write(report, args, user, output_format, output, table)
    click.echo(f"{report.name} written to {output}.")


def _user(username: str | None) -> User:
    if username is None:
        # the whole company as an administrator sees it: the first active administrator's scope
        user = db.session.scalar(select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id))
        if user is None:
            raise click.UsageError("No active administrator: name the user whose scope to use with --as.")
        return user
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None or not user.active:
        raise click.UsageError(f"No active user {username!r}.")
    return user


def _write(report, args: dict, user: User, output_format: str, output: str, table_key: str | None) -> None:
    """Build the report and write it to a temporary file beside ``output``, then put it in place: a failed run
    leaves no half-written file."""
    from reports.exports import csv_chunks, pdf_bytes, write_xlsx
    from reports.report_views import heading

    result = report.build(user, args, clock.today())
    pseudonymise = user.role == Role.ACTUARY
    directory = os.path.dirname(os.path.abspath(output))
    handle, partial = tempfile.mkstemp(dir=directory, prefix=".report-", suffix=f".{output_format}")
    try:
        with os.fdopen(handle, "wb") as target:
            if output_format == "csv":
                table = result.tables[0] if table_key is None else next(
                    (t for t in result.tables if t.key == table_key), None)
                if table is None:
                    raise click.UsageError(f"The report has no table {table_key!r}: "
                                           f"{', '.join(t.key for t in result.tables)}.")
                with _bar([table]) as bar:
                    for chunk in csv_chunks(table, pseudonymise=pseudonymise, progress=bar.update):
                        target.write(chunk)
            elif output_format == "xlsx":
                with _bar(result.tables) as bar:
                    write_xlsx(result, heading(report, args, user=user), target, pseudonymise=pseudonymise,
                               progress=bar.update)
            else:
                with tqdm(total=1, desc="PDF", unit="report") as bar:
                    target.write(pdf_bytes(result, heading(report, args, user=user), pseudonymise=pseudonymise))
                    bar.update(1)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o666 & ~umask)  # the permissions any new file gets, not mkstemp's owner-only ones
        os.replace(partial, output)
    except BaseException:
        os.unlink(partial)
        raise


def _bar(tables) -> tqdm:
    total = sum(table.page(1, 1)[1] for table in tables)
    return tqdm(total=total, desc="Rows", unit="row")


@click.command("reports")
@with_appcontext
def reports_list_command() -> None:
    """List the reports: name, title and the roles that may run them."""
    from reports.catalogue import REPORTS

    _report_names()
    for name in _report_names():
        report = REPORTS[name]
        roles = ", ".join(sorted(role.value for role in report.roles))
        click.echo(f"{name:<16} {report.title}  [{roles}]")
