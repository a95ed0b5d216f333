"""``insurecrm import KIND FILE [--dry-run]``: check or import a file from the command line, with a progress bar.

The import acts for a user (``--user``, an admin by default: the first active one), within that user's scope, and
is recorded in the history of imports like an upload on the page; its problems are printed (the first 50) and kept
in the run's report. Without ``--dry-run`` the file is checked and imported in one pass, all or nothing. The exit
status is 0 when the file was checked or imported without problems, 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

#: problems printed; the run's page and report have all those kept
SHOWN = 50


@click.command("import")
@click.argument("kind", type=click.Choice(["policyholders", "policies", "installments", "payments", "claims"]))
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check only: report what would be created, changed or refused.")
@click.option("--user", "username", help="Act as this user (an admin or a branch manager); default: an admin.")
@click.option("--encoding", type=click.Choice(["utf-8", "gb18030", "utf-16"]), help="Of a CSV file (detected).")
@with_appcontext
def import_command(kind: str, path: Path, dry_run: bool, username: str | None, encoding: str | None) -> None:
    """Check (--dry-run) or import a CSV or XLSX file of policyholders, policies, payments or claims, all or nothing."""
    from sqlalchemy import select
    from tqdm import tqdm

    from insurecrm.db import db
    from insurecrm.imports import engine
    from insurecrm.imports.models import ImportIssue, ImportMode, ImportRun, ImportStatus
    from insurecrm.models import Role, User

    roles = (Role.ADMIN, Role.BRANCH_MANAGER)
    query = select(User).where(User.active.is_(True), User.role.in_(roles))
    query = query.where(User.username == username) if username else query.where(User.role == Role.ADMIN)
    user = db.session.scalar(query.order_by(User.id).limit(1))
    if user is None:
        raise click.ClickException(f"No active admin or branch manager {username}." if username
                                   else "No active admin: give --user.")
    with path.open("rb") as stream:
        try:
            run = engine.create_run(kind, path.name, stream, user=user, encoding=encoding,
                                    mode=ImportMode.CHECK if dry_run else ImportMode.IMPORT)
        except engine.ImportRefused as refused:
            raise click.ClickException(str(refused)) from None
    with tqdm(unit=" rows", desc="Checking" if dry_run else "Importing") as bar:
        engine.perform(run.id, progress=lambda rows: bar.update(rows - bar.n))
    run = db.session.get(ImportRun, run.id)
    issues = db.session.scalars(select(ImportIssue).where(ImportIssue.run_id == run.id).order_by(ImportIssue.id)
                                .limit(SHOWN)).all()
    for issue in issues:
        where = f"row {issue.row}" if issue.row else "file"
        column = f", {issue.column}" if issue.column else ""
        value = f" ({issue.value})" if issue.value else ""
        click.echo(f"{issue.severity}: {where}{column}{value}: {issue.message}", err=True)
    if run.issues_count > len(issues):
        click.echo(f"... and {run.issues_count - len(issues)} more: see import {run.id} on the imports page.",
                   err=True)
    counts = ", ".join(f"{key}={value}" for key, value in run.counts.items())
    click.echo(f"Import {run.id}: {run.status.value} ({run.rows_total or 0} rows; {counts})")
    if run.status not in (ImportStatus.CHECKED, ImportStatus.IMPORTED):
        raise SystemExit(1)
