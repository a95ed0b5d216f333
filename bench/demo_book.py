"""Benchmark of ``insurecrm demo``: build a demo book into a fresh database and time it.

    .venv/bin/python bench/demo_book.py --backend sqlite --policyholders 10000
    .venv/bin/python bench/demo_book.py --backend sqlite postgresql --policyholders 1000 10000

Each run gets a new database (an SQLite file in a temporary directory, or a new PostgreSQL database
on the server of ``INSURECRM_TEST_DATABASE_URL``, default ``postgres`` at 127.0.0.1:5432, dropped
afterwards), with the schema from ``metadata.create_all`` (no migrations). Prints the rows written
per table, the seconds taken and the book's digest (equal for equal seeds and days on any backend).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere: the repository's packages

from sqlalchemy import func, select  # noqa: E402

from insurecrm import create_app  # noqa: E402
from insurecrm.db import db  # noqa: E402
from insurecrm.demo import build_demo_book  # noqa: E402
from insurecrm.demo.digest import book_digest  # noqa: E402
from insurecrm.registry import metadata  # noqa: E402
from tests import databases  # noqa: E402


def run(backend: str, policyholders: int, *, seed: int, today: date, digest: bool) -> dict:
    """Build one book on a fresh database of ``backend``; returns the measurements."""
    with tempfile.TemporaryDirectory(prefix="insurecrm-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}" if backend == "sqlite" else databases.create_pg_database(
            "insurecrm_bench")
        try:
            app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
            with app.app_context():
                metadata.create_all(db.engine)
                started = time.perf_counter()
                counts = build_demo_book(policyholders=policyholders, seed=seed, password="demo", today=today)
                seconds = time.perf_counter() - started
                stored = {table.name: db.session.scalar(select(func.count()).select_from(table))
                          for table in metadata.sorted_tables}
                fingerprint = book_digest(db.session) if digest else None
                db.session.remove()
            db.engine.dispose()
        finally:
            if backend == "postgresql":
                databases.drop_pg_database(url)
    # every row the builder wrote is stored; the task jobs, the night's work and the demo's campaigns add more after it
    assert all(stored[table] >= count for table, count in counts.items()), "rows written were not all stored"
    return {"backend": backend, "policyholders": policyholders, "seconds": seconds, "rows": stored,
            "digest": fingerprint}


def report(result: dict) -> None:
    rows = {table: count for table, count in result["rows"].items() if count}
    total = sum(rows.values())
    print(f"\n{result['backend']}, {result['policyholders']:,} policyholders: {result['seconds']:.1f} s, "
          f"{total:,} rows ({total / result['seconds']:,.0f} rows/s)")
    for table, count in sorted(rows.items(), key=lambda item: -item[1]):
        print(f"  {table:<28} {count:>12,}")
    if result["digest"]:
        print(f"  digest {result['digest']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite"])
    parser.add_argument("--policyholders", nargs="+", type=int, default=[10_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(),
                        help="the day the book is built as of (ISO date; default today)")
    parser.add_argument("--no-digest", dest="digest", action="store_false", help="skip the book digest")
    args = parser.parse_args(argv)
    results = [run(backend, size, seed=args.seed, today=args.today, digest=args.digest)
               for size in args.policyholders for backend in args.backend]
    for result in results:
        report(result)
    print("\nbackend      policyholders        rows   seconds")
    for r in results:
        print(f"{r['backend']:<12} {r['policyholders']:>13,} {sum(r['rows'].values()):>11,} {r['seconds']:>9.1f}")


if __name__ == "__main__":
    main()
