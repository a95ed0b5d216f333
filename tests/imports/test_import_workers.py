"""Who does a run: the request for a small file, a worker thread for a large one, and any host's scheduler for a
run left queued or abandoned by a process that stopped (insurecrm/imports/engine.py). A run is claimed by one
worker only."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import func, select

from insurecrm.db import db, utcnow
from insurecrm.imports import engine
from insurecrm.imports.models import ImportFileChunk, ImportRun, ImportStatus
from policyholders.models import Policyholder
from tests.imports.conftest import csv_bytes, resident_id

ROWS = [["ID number", "Name", "Owner agent code"]]


def queued(org, user, n: int = 2):
    rows = ROWS + [[resident_id("1990-03-07", i), f"持有人{i}", org.agent.code] for i in range(n)]
    return engine.create_run("policyholders", "queued.csv", io.BytesIO(csv_bytes(rows)), user=user)


def test_the_scheduler_does_runs_left_queued_or_abandoned_and_leaves_live_ones(app, org, session):
    waiting, abandoned, live = (queued(org, org.admin).id for _ in range(3))
    now = utcnow()
    session.get(ImportRun, abandoned).status = ImportStatus.RUNNING
    session.get(ImportRun, abandoned).heartbeat_at = now - timedelta(minutes=30)
    session.get(ImportRun, live).status = ImportStatus.RUNNING
    session.get(ImportRun, live).heartbeat_at = now
    session.commit()
    assert engine.resume_abandoned(app) == 2  # as the scheduler calls it: its session is removed afterwards
    assert db.session.get(ImportRun, waiting).status == ImportStatus.CHECKED
    assert db.session.get(ImportRun, abandoned).status == ImportStatus.CHECKED
    assert db.session.get(ImportRun, live).status == ImportStatus.RUNNING  # its worker is alive


def test_a_run_is_claimed_once(app, org, session):
    run = queued(org, org.admin)
    assert engine.perform(run.id) is True
    assert engine.perform(run.id) is False  # done: nothing to claim
    assert session.get(ImportRun, run.id).status == ImportStatus.CHECKED


def test_a_large_file_is_left_to_a_worker_and_a_small_one_done_at_once(app, org, session, monkeypatch):
    started = []
    monkeypatch.setattr(engine.threading, "Thread", lambda **kwargs: type("T", (), {
        "start": lambda self: started.append(kwargs["args"][1])})())
    small = queued(org, org.admin)
    engine.start(small)
    assert session.get(ImportRun, small.id).status == ImportStatus.CHECKED and started == []
    app.config["IMPORT_INLINE_BYTES"], limit = 10, app.config["IMPORT_INLINE_BYTES"]
    try:
        large = queued(org, org.admin)
        engine.start(large)
    finally:
        app.config["IMPORT_INLINE_BYTES"] = limit
    assert started == [large.id] and session.get(ImportRun, large.id).status == ImportStatus.QUEUED


def test_an_imported_files_chunks_are_deleted_and_old_files_too(app, org, session):
    run = queued(org, org.admin)
    engine.perform(run.id)
    engine.confirm(session.get(ImportRun, run.id))
    engine.perform(run.id)
    assert session.get(ImportRun, run.id).status == ImportStatus.IMPORTED
    chunks = select(func.count()).select_from(ImportFileChunk)
    assert session.scalar(chunks.where(ImportFileChunk.run_id == run.id)) == 0
    checked = queued(org, org.admin).id
    engine.perform(checked)
    session.get(ImportRun, checked).finished_at = utcnow() - timedelta(days=8)
    session.commit()
    assert session.scalar(chunks.where(ImportFileChunk.run_id == checked)) == 1
    engine.resume_abandoned(app)
    assert db.session.scalar(chunks.where(ImportFileChunk.run_id == checked)) == 0
    assert db.session.scalar(select(func.count()).select_from(Policyholder)) == 2


def test_a_file_is_stored_in_chunks_and_read_back_whole(app, org, session, monkeypatch):
    monkeypatch.setattr(engine, "CHUNK_BYTES", 64)
    run = queued(org, org.admin, n=30)
    assert session.scalar(select(func.count()).select_from(ImportFileChunk)
                          .where(ImportFileChunk.run_id == run.id)) > 10
    engine.perform(run.id)
    assert db.session.get(ImportRun, run.id).counts["created"] == 30


def test_a_large_import_refreshes_the_statistics_of_the_tables_it_wrote(app, org, session, monkeypatch):
    analysed = []
    monkeypatch.setattr(engine, "ANALYZE_AFTER_ROWS", 2)
    monkeypatch.setattr(engine, "_analyze", lambda tables: analysed.append(tables))
    run = queued(org, org.admin, n=1)
    engine.perform(run.id)
    engine.confirm(db.session.get(ImportRun, run.id))
    engine.perform(run.id)
    assert analysed == []  # one row: below the threshold
    run = queued(org, org.admin, n=3)
    engine.perform(run.id)
    assert analysed == []  # a dry run writes nothing
    engine.confirm(db.session.get(ImportRun, run.id))
    engine.perform(run.id)
    assert analysed == [("policyholders", "policyholder_tags", "policyholder_relationships", "audit_log")]


def test_the_statistics_refresh_runs_on_both_databases(app, session):
    engine._analyze(("policyholders", "audit_log"))  # noqa: SLF001 - the statement itself, on each backend


def test_a_long_run_refreshes_the_statistics_as_it_goes_inside_its_transaction(app, org, session, monkeypatch):
    refreshed = []
    real = engine._analyze_within  # noqa: SLF001 - the statement runs, inside the run's transaction

    def counted(tables):
        refreshed.append(tables)
        real(tables)

    monkeypatch.setattr(engine, "BATCH_ROWS", 2)
    monkeypatch.setattr(engine, "ANALYZE_EVERY_ROWS", 4)
    monkeypatch.setattr(engine, "_analyze_within", counted)
    run = queued(org, org.admin, n=9)
    engine.perform(run.id)
    assert len(refreshed) == 2  # after rows 4 and 8
    assert session.scalar(select(func.count()).select_from(Policyholder)) == 0  # the dry run's rows rolled back
    engine.confirm(db.session.get(ImportRun, run.id))
    engine.perform(run.id)
    assert db.session.get(ImportRun, run.id).counts["created"] == 9
