"""Benchmark Trialdesk on a generated portfolio: every operation against its hand-written SQL floor, then a
concurrent load test against gunicorn.

    .venv/bin/python bench/run.py --scale M --db sqlite|postgres [--runs 20] [--database-url URL]
                                  [--only TEXT] [--no-load] [--load-seconds 60] [--users 20] [--workers 4]

(`make bench SCALE=M DB=postgres` runs this.) The database is BENCH_DATABASE_URL / --database-url, else
var/bench/<scale>-sqlite/trialdesk.sqlite3 or postgres://postgres@127.0.0.1:5432/td_bench_<scale>; when it
holds no studies it is migrated and filled with `trialdesk generate_portfolio --scale <scale>` first.

For each operation: `--warmup` untimed runs, then `--runs` timed runs, each immediately followed by a timed
run of its floor (the SQL that returns the same numbers), so both see the same machine load. Prints p50/p95
of both and the ratio p50 / floor p50, and writes bench/results/<scale>-<db>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
BENCH_USERNAME = "bench-cpm"


def default_database_url(scale: str, db: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{REPO / 'var' / 'bench' / f'{scale.lower()}-sqlite' / 'trialdesk.sqlite3'}"
    return f"{PG_SERVER}/td_bench_{scale.lower()}"


def _ensure_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _trialdesk(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "trialdesk", *args], check=True, env=os.environ.copy())


def prepare_database(scale: str, db: str, url: str) -> None:
    """Migrate; generate the portfolio when the database holds no study yet."""
    if url.startswith("sqlite:"):
        Path(url.split("sqlite:///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    else:
        _ensure_pg_database(url)
    _trialdesk("migrate", "--noinput", "-v", "0")
    import django
    django.setup()
    from trialdesk.studies.models import Study

    if not Study.all_objects.exists():
        print(f"The database holds no portfolio: generating scale {scale} (this takes a while) ...", flush=True)
        from django.db import connections
        connections.close_all()
        _trialdesk("generate_portfolio", "--scale", scale)
    _vacuum_if_never_vacuumed()


def _vacuum_if_never_vacuumed() -> None:
    """PostgreSQL after a bulk load: statistics and visibility maps as autovacuum would leave them (index-only
    scans need the visibility map), so the first run measures the steady state, not the load's aftermath."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE n_live_tup > 10000 "
                       "AND last_vacuum IS NULL AND last_autovacuum IS NULL")
        tables = [row[0] for row in cursor.fetchall()]
    if tables:
        print(f"VACUUM ANALYZE of {len(tables)} bulk-loaded tables ...", flush=True)
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f'VACUUM ANALYZE "{table}"')


def bench_user():
    from trialdesk.accounts.models import User
    from trialdesk.accounts.roles import Role
    from trialdesk.accounts.services import membership_grant, user_create

    user = User.objects.filter(username=BENCH_USERNAME).first()
    if user is None:
        user = user_create(actor=None, username=BENCH_USERNAME, first_name="Bench", last_name="CPM", password=None)
        membership_grant(actor=None, user=user, role=Role.CPM)
    return user


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def measure(op, runs: int, warmup: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        if op.before:
            op.before()
        op.app()
        op.floor()
    app, floor = [], []
    for _ in range(runs):
        if op.before:
            op.before()
        start = time.perf_counter()
        op.app()
        app.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        op.floor()
        floor.append((time.perf_counter() - start) * 1000)
    if op.before:
        op.before()
    with CaptureQueriesContext(connection) as queries:
        op.app()
    p50, floor_p50 = percentile(app, 50), percentile(floor, 50)
    return {"operation": op.name, "p50_ms": round(p50, 2), "p95_ms": round(percentile(app, 95), 2),
            "floor_p50_ms": round(floor_p50, 2), "floor_p95_ms": round(percentile(floor, 95), 2),
            "ratio": round(p50 / floor_p50, 2) if floor_p50 > 0 else None, "queries": len(queries),
            "runs": runs, "target_p95_ms": op.target_ms if op.target_ms != float("inf") else None,
            "note": op.note}


def print_table(rows: list[dict]) -> None:
    width = max(len(r["operation"]) for r in rows)
    head = f"{'operation'.ljust(width)}  {'p50 ms':>8}  {'p95 ms':>8}  {'floor p50':>9}  {'ratio':>6}  {'queries':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        target = r["target_p95_ms"]
        flag = "" if target is None or (r["p95_ms"] <= target and (r["ratio"] or 0) <= 2) else "  *"
        print(f"{r['operation'].ljust(width)}  {r['p50_ms']:8.1f}  {r['p95_ms']:8.1f}  {r['floor_p50_ms']:9.2f}  "
              f"{(r['ratio'] or 0):6.1f}  {r['queries']:7d}{flag}")
    print("* misses a target: p95 over its limit (300 ms; forecast 1 s) or more than 2x its SQL floor")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="M", choices=["XS", "S", "M", "L"])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--only", default="", help="run only operations whose name contains this text")
    parser.add_argument("--skip", default="", help="skip operations whose name contains any of these "
                                                   "comma-separated texts")
    parser.add_argument("--no-load", action="store_true", help="skip the concurrent load test")
    parser.add_argument("--load-seconds", type=int, default=60)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--cold", action="store_true", help="load test without first computing every study's "
                                                            "forecast (cache as the benchmark left it)")
    parser.add_argument("--output", default=None, help="results file (default bench/results/<scale>-<db>.json)")
    args = parser.parse_args(argv)

    url = args.database_url or default_database_url(args.scale, args.db)
    if args.db == "postgres" and not url.startswith("postgres"):
        parser.error(f"--db postgres but the database URL is {url}")
    if args.db == "sqlite" and not url.startswith("sqlite"):
        parser.error(f"--db sqlite but the database URL is {url}")
    home = REPO / "var" / "bench" / "home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["TRIALDESK_HOME"] = str(home)
    os.environ["TRIALDESK_DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "trialdesk.settings"
    # Subprocesses (migrate, the generator, gunicorn) import this checkout's code, whatever is installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    prepare_database(args.scale, args.db, url)

    import machine
    import operations
    from django.db import connection

    user = bench_user()
    targets = operations.find_targets(user)
    info = machine.describe(connection)
    print(f"Trialdesk benchmark, scale {args.scale} on {info['database']} ({url})")
    print(f"{info['cores']} cores ({info['cpu_model']}), {info['memory_gb']} GB, Python {info['python']}, "
          f"load average {info['load_average_at_start']}")
    print(f"largest study {targets.largest_study} ({targets.largest_sites} sites); {targets.subjects_total} "
          f"subjects; {args.runs} runs per operation after {args.warmup} warm-up runs")
    for note in targets.notes:
        print(f"note: {note}")
    results, failed = [], []
    for op in operations.build(targets):
        if args.only and args.only.lower() not in op.name.lower():
            continue
        if any(text.strip() and text.strip().lower() in op.name.lower() for text in args.skip.split(",")):
            continue
        print(f"  {op.name} ...", end="", flush=True)
        try:
            row = measure(op, args.runs, args.warmup)
        except Exception as exc:  # noqa: BLE001 - one failing operation is reported, the others still run
            print(f" FAILED: {exc}", flush=True)
            failed.append({"operation": op.name, "error": str(exc)[:500]})
            continue
        print(f" p50 {row['p50_ms']:.1f} ms, floor {row['floor_p50_ms']:.2f} ms", flush=True)
        results.append(row)
    print()
    print_table(results)
    for item in failed:
        print(f"FAILED {item['operation']}: {item['error']}")

    load = None
    if not args.no_load:
        import loadtest
        from django.db import connections
        connections.close_all()
        load = loadtest.run(url=url, home=home, user=user, seconds=args.load_seconds, users=args.users,
                            workers=args.workers, targets=targets, warm=not args.cold)
        loadtest.print_summary(load)

    out = Path(args.output) if args.output else REPO / "bench" / "results" / f"{args.scale}-{args.db}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"scale": args.scale, "db": args.db, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": info, "targets": {"largest_study": targets.largest_study,
                                             "largest_study_sites": targets.largest_sites,
                                             "subjects": targets.subjects_total, "notes": targets.notes},
                "results": results, "failed": failed, "load": load}
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
