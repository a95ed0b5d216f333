"""Committing a daily job's work in batches: short row locks for the users, every batch exactly once.

A job that wrote its whole day in one transaction kept every row it touched locked until the end: a user saving
such a policy waited for the whole job. :func:`in_batches` commits the work ``INSURECRM_JOBS_BATCH_SIZE`` rows
(500 by default) at a time, so a user's edit waits at most for one batch.

**Exactly once.** A batch is committed or not at all. The job selects *what is still to do* (a row is done when
its result is in the database: a task or outbox row with its unique key, a case, a status change), so a run that
crashed between batches and is run again for its date finds the committed batches done and does only the rest:
nothing is redone, nothing is skipped. Each step re-checks every condition of the work for its keys, so a row
that changed between the selection and its batch (a user's edit) is judged as it is.

Why keys first, then ``… WHERE id IN (:batch)``, rather than repeating a ``LIMIT``ed ``INSERT … SELECT`` until
it inserts nothing: each repetition would evaluate the whole candidate set again (quadratic in a large backfill,
such as the first run opening 130,000 renewal cases), and ``ORDER BY id LIMIT n`` tempts the planner to walk the
primary key of the whole book looking for ``n`` matches. The keys of one day's work are a few integers per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import current_app
from sqlalchemy import Select

from insurecrm.db import db


def batch_size() -> int:
    """``INSURECRM_JOBS_BATCH_SIZE``: how many rows a daily job writes per committed batch."""
    return max(int(current_app.config.get("JOBS_BATCH_SIZE", 500)), 1)


def in_batches(keys: Select, step: Callable[[Sequence[Any]], int], size: int | None = None) -> int:
    """Run ``step(batch)`` for the keys that ``keys`` selects (one column: what is still to do), ``size`` keys
    at a time (default :func:`batch_size`), committing after each step; returns the sum of what the steps
    return (rows written). ``step`` must write only for its keys and re-check the conditions of the work (see
    the module's docstring). Nothing to do: no step, no commit."""
    size = size or batch_size()
    todo = list(dict.fromkeys(db.session.scalars(keys)))
    done = 0
    for start in range(0, len(todo), size):
        done += max(step(todo[start:start + size]), 0)
        db.session.commit()
    return done
