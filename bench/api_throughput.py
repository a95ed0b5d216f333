"""Benchmark of the API's throughput, as a fraction of a bare Flask "hello" on the same gunicorn.

    .venv/bin/python bench/api_throughput.py                    # 2,000 policyholders, 3 rounds of 10 s
    .venv/bin/python bench/api_throughput.py --policyholders 10000 --seconds 20 --rounds 5

Builds a demo book (``insurecrm demo``) on a fresh PostgreSQL database (on the server of
``INSURECRM_TEST_DATABASE_URL``, default ``postgres`` at 127.0.0.1:5432, dropped afterwards) and gives the demo
agent ``agent1`` a real bearer token. Each round then starts gunicorn (``--workers 2``, sync workers) with the
bare Flask app of ``bench/hello_app.py`` and measures ``GET /hello``; then the floor of ``bench/floor_app.py``
(the least an authenticated read of one record costs on Flask, SQLAlchemy Core and this database); then the same
gunicorn with InsureCRM (``insurecrm:create_app()``) and measures, as the agent,
``GET /api/v1/policyholders/<id>`` (one of the agent's policyholders) and
``GET /api/v1/policyholders?per_page=20``. The servers never run together.

The load comes from ``wrk`` (Debian: ``apt-get install wrk``): one thread of C, so that on a machine of two
cores the client takes as little as possible from the server; a small Lua script adds the Authorization
header. Each measurement follows a warm-up; a response other than 2xx fails the benchmark. The figures
reported are requests per second and their ratio to "hello" measured in the same round (the median over the
rounds), which cancels most of what a shared machine's load does to absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere: the repository's packages

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from insurecrm import create_app  # noqa: E402
from insurecrm.auth import issue_token  # noqa: E402
from insurecrm.db import db  # noqa: E402
from insurecrm.demo import build_demo_book  # noqa: E402
from insurecrm.models import User  # noqa: E402
from insurecrm.registry import metadata  # noqa: E402
from policyholders.models import Policyholder  # noqa: E402
from tests import databases  # noqa: E402

#: production refuses a key shorter than 32 bytes; the servers run as in production
BENCH_SECRET_KEY = "bench-" + "k" * 42
#: the targets of issue 7: requests per second as a fraction of "hello"
TARGETS = {"one": 0.25, "list20": 0.15}
#: ``nice -n N`` before the servers and wrk, set by ``--nice`` (see :func:`renice_backends`)
NICE: list[str] = []


def prepare_book(url: str, policyholders: int) -> dict:
    """Build the demo book into ``url``; returns the agent's token and the paths to measure."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": BENCH_SECRET_KEY})
    with app.app_context():
        metadata.create_all(db.engine)
        build_demo_book(policyholders=policyholders, seed=7, password="demo", progress=False)
        db.session.commit()
        agent = db.session.scalar(select(User).where(User.username == "agent1"))
        owned = Policyholder.owner_agent_id == agent.agent_id
        holder_id = db.session.scalar(select(Policyholder.id).where(owned).order_by(Policyholder.id).limit(1))
        book = db.session.scalar(select(func.count()).select_from(Policyholder).where(owned))
        token, _row = issue_token(agent)
        db.session.commit()
        db.session.remove()
    db.engine.dispose()
    if book < 20:
        raise SystemExit(f"agent1 owns {book} policyholders: too few for a list of 20; use a larger book")
    return {"token": token, "book": book,
            "paths": {"one": f"/api/v1/policyholders/{holder_id}", "list20": "/api/v1/policyholders?per_page=20"}}


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(app_spec: str, *, workers: int, env: dict, probe: str, headers: dict | None = None, cwd: Path = ROOT):
    """A gunicorn serving ``app_spec`` (imported from ``cwd``) on a free port until the block ends; yields its
    base URL."""
    port = free_port()
    command = [*NICE, str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers), "--bind",
               f"127.0.0.1:{port}", "--chdir", str(cwd), "--log-level", "warning", app_spec]
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, "PYTHONPATH": str(cwd), **env})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base + probe, headers or {}, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_serving(url: str, headers: dict, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within a minute")


def check(url: str, headers: dict, *, items: int | None = None) -> None:
    """The endpoint answers 200 (and a list has ``items`` items) before it is measured."""
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        body = json.load(response) if items is not None else None
    if items is not None and len(body["items"]) != items:
        raise SystemExit(f"{url} returned {len(body['items'])} items, expected {items}")


def wrk(url: str, *, seconds: int, connections: int, script: Path | None) -> float:
    """Requests per second of ``url`` under wrk; any non-2xx answer or socket error fails the benchmark."""
    command = [*NICE, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               *(["-s", str(script)] if script is not None else []), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for problem in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*"):
        found = re.search(problem, output)
        if found:
            raise SystemExit(f"wrk reported a problem on {url}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def renice_backends(url: str, niceness: int) -> None:
    """Give the PostgreSQL backends serving the benchmark's database the servers' priority: on a machine shared
    with other work, ``--nice`` then measures the stack as if it had the machine to itself (root only)."""
    if not niceness:
        return
    engine = create_engine(url)
    with engine.connect() as connection:
        pids = connection.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid <> pg_backend_pid()")).all()
    engine.dispose()
    for pid in pids:
        os.setpriority(os.PRIO_PROCESS, pid, niceness)


def measure_round(prepared: dict, url: str, args, script: Path) -> dict[str, float]:
    """One round: hello, then the two API calls (and those of ``--compare``'s code); requests per second of each."""
    rps = {}
    with gunicorn("hello_app:app", workers=args.workers, env={}, probe="/hello", cwd=ROOT / "bench") as base:
        wrk(base + "/hello", seconds=args.warmup, connections=args.connections, script=None)
        rps["hello"] = wrk(base + "/hello", seconds=args.seconds, connections=args.connections, script=None)
    headers = {"Authorization": f"Bearer {prepared['token']}"}
    floor_path = prepared["paths"]["one"].replace("/api/v1/policyholders/", "/floor/")
    with gunicorn("floor_app:app", workers=args.workers, env={"INSURECRM_DATABASE_URL": url}, probe=floor_path,
                  headers=headers, cwd=ROOT / "bench") as base:
        wrk(base + floor_path, seconds=args.warmup, connections=args.connections, script=script)
        rps["floor"] = wrk(base + floor_path, seconds=args.seconds, connections=args.connections, script=script)
    env = {"INSURECRM_ENV": "production", "INSURECRM_SECRET_KEY": BENCH_SECRET_KEY, "INSURECRM_DATABASE_URL": url,
           "INSURECRM_INSTANCE_PATH": args.instance}
    codes = [("", ROOT)] + ([(" (compared)", args.compare)] if args.compare else [])
    for suffix, code in codes:
        with gunicorn("insurecrm:create_app()", workers=args.workers, env=env, probe=prepared["paths"]["one"],
                      headers=headers, cwd=code) as base:
            for name, path in prepared["paths"].items():
                check(base + path, headers, items=20 if name == "list20" else None)
                wrk(base + path, seconds=args.warmup, connections=args.connections, script=script)
                renice_backends(url, args.nice)
                rps[name + suffix] = wrk(base + path, seconds=args.seconds, connections=args.connections,
                                         script=script)
    return rps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policyholders", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections of wrk")
    parser.add_argument("--seconds", type=int, default=10, help="length of each measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before each measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another checkout of InsureCRM (e.g. the code before a change), "
                        "measured in the same rounds: `git archive <commit> | tar -x -C DIR`")
    parser.add_argument("--nice", type=int, default=0, help="run servers, wrk and the database's backends at this "
                        "niceness (e.g. -10, as root) to measure on a machine shared with other work")
    args = parser.parse_args(argv)
    if args.nice:
        NICE[:] = ["nice", "-n", str(args.nice)]
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    url = databases.create_pg_database("insurecrm_bench_api")
    try:
        with tempfile.TemporaryDirectory(prefix="insurecrm-bench-") as tmp:
            args.instance = tmp
            started = time.perf_counter()
            prepared = prepare_book(url, args.policyholders)
            print(f"demo book of {args.policyholders:,} policyholders in {time.perf_counter() - started:.1f} s; "
                  f"agent1 owns {prepared['book']}", flush=True)
            script = Path(tmp) / "auth.lua"
            script.write_text(f'wrk.headers["Authorization"] = "Bearer {prepared["token"]}"\n')
            rounds = []
            for number in range(1, args.rounds + 1):
                rps = measure_round(prepared, url, args, script)
                rounds.append(rps)
                print(f"round {number}: " + ", ".join(f"{name} {value:,.0f} req/s" for name, value in rps.items()),
                      flush=True)
    finally:
        databases.drop_pg_database(url)
    report(rounds, prepared["paths"], args)
    return 0


def report(rounds: list[dict[str, float]], paths: dict[str, str], args) -> None:
    print(f"\ngunicorn --workers {args.workers}, wrk -t1 -c{args.connections}, {args.seconds} s per measurement, "
          f"median of {len(rounds)} rounds")
    print(f"{'request':<60} {'req/s':>8} {'× hello':>8} {'target':>7}")
    hello = statistics.median(r["hello"] for r in rounds)
    print(f"{'GET /hello (bare Flask)':<60} {hello:>8,.0f} {1:>8.2f}")
    floor = statistics.median(r["floor"] for r in rounds)
    floor_ratio = statistics.median(r["floor"] / r["hello"] for r in rounds)
    print(f"{'GET /floor/<id> (Flask + Core: token query, record query)':<60} {floor:>8,.0f} {floor_ratio:>8.3f}")
    for suffix in ("", " (compared)") if args.compare else ("",):
        for name, path in paths.items():
            rps = statistics.median(r[name + suffix] for r in rounds)
            ratio = statistics.median(r[name + suffix] / r["hello"] for r in rounds)
            print(f"{'GET ' + path + suffix:<60} {rps:>8,.0f} {ratio:>8.3f} {TARGETS[name]:>7.2f}")


if __name__ == "__main__":
    sys.exit(main())
