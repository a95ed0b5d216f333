"""``insurecrm simulate``: run the daily jobs over simulated days and print what they did (see
:mod:`insurecrm.simulation`)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.command("simulate")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="The first simulated day (YYYY-MM-DD).")
@click.option("--days", type=click.IntRange(min=1), required=True, help="How many days to simulate.")
@click.option("--on-time", "on_time", type=click.FloatRange(0, 1), default=0.9, show_default=True,
              help="The probability that an installment is paid on its due date.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the payers' random choices.")
@with_appcontext
def simulate(start, days: int, on_time: float, seed: int) -> None:
    """Run every daily job day by day from START for DAYS days on a simulated clock, premiums arriving as
    they would, and print a summary. It writes to the database: use a demo book or a copy."""
    from insurecrm.simulation import simulate as run_simulation

    try:
        result = run_simulation(start.date(), days, on_time_probability=on_time, seed=seed, progress=True)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in summary_lines(result):
        click.echo(line)


def summary_lines(result: dict) -> list[str]:
    """The summary of a simulation as the lines of a table: a heading per section, one row per figure."""
    lines = [f"Simulated {result['days']} days: {result['start'].isoformat()} to {result['end'].isoformat()}"]
    lines += _section("Premium payments", result["payments"].items())
    job_rows = [(f"{job_id}  {name}", total) for job_id, counts in result["jobs"].items()
                for name, total in counts.items()]
    lines += _section("Daily jobs (totals)", job_rows)
    lines += _section("Policies by status", result["policies"].items())
    lines += _section("Renewal cases by status", result["renewal_cases"].items())
    outbox_rows = [(f"{kind}  {channel}", count) for kind, channels in result["outbox"].items()
                   for channel, count in channels.items()]
    lines += _section("Outbox by kind and channel", outbox_rows)
    lines += _section("Tasks by reason and status", result.get("tasks", {}).items())
    return lines


def _section(title: str, rows) -> list[str]:
    rows = list(rows)
    width = max((len(label) for label, _ in rows), default=0)
    body = [f"  {label:<{width}}  {value:>8}" for label, value in rows] or ["  (none)"]
    return ["", title, *body]
