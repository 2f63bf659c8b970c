"""Time the ClinicalTrials.gov import on a fresh database.

    .venv/bin/python bench/ctgov_import.py [--locations 1000] [--db sqlite|postgres]

Sets up a throwaway database (a temporary SQLite file, or the PostgreSQL database
`trialdesk_bench` on postgres://postgres@127.0.0.1:5432, dropped afterwards), migrates it,
creates an admin user and imports, each time first and again:

  (a) the largest shared record, NCT02210780 (42 locations), and
  (b) a synthetic record with --locations locations (NCT02210780's real locations cycled,
      each a distinct facility), plus a re-import in which every location's status changed.

Prints wall time (ms) and the number of SQL queries for each step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DATABASE = "trialdesk_bench"


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def _setup_environment(db: str, home: Path) -> None:
    os.environ["TRIALDESK_HOME"] = str(home)  # secret key and media stay in the temporary folder
    os.environ["DJANGO_SETTINGS_MODULE"] = "trialdesk.settings"
    if db == "sqlite":
        os.environ["TRIALDESK_DATABASE_URL"] = f"sqlite:///{home / 'bench.sqlite3'}"
    else:
        _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE}")
        _pg_admin(f"CREATE DATABASE {PG_DATABASE}")
        os.environ["TRIALDESK_DATABASE_URL"] = f"{PG_SERVER}/{PG_DATABASE}"


def _run(locations: int) -> list[tuple[str, float, int, str]]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from trialdesk.accounts.services import membership_grant, user_create
    from trialdesk.core.request_context import use_context
    from trialdesk.ctgov.services import ctgov_import_file
    from trialdesk.ctgov.tests.conftest import DATA_DIR, LARGEST, synthetic_record

    call_command("migrate", verbosity=0)
    user = user_create(actor=None, username="bench", password=None)
    membership_grant(actor=None, user=user, role="admin")

    largest = (DATA_DIR / f"{LARGEST}.json").read_bytes()
    synthetic = synthetic_record(locations)
    synthetic_bytes = json.dumps(synthetic).encode()
    for location in synthetic["protocolSection"]["contactsLocationsModule"]["locations"]:
        location["status"] = "COMPLETED"
    synthetic_changed = json.dumps(synthetic).encode()

    steps = [
        (f"{LARGEST} ({LARGEST}.json), first import", largest),
        (f"{LARGEST}, re-import (unchanged)", largest),
        (f"synthetic {locations} locations, first import", synthetic_bytes),
        (f"synthetic {locations} locations, re-import (unchanged)", synthetic_bytes),
        (f"synthetic {locations} locations, re-import (every site changed)", synthetic_changed),
    ]
    rows = []
    with use_context(channel="cli"):
        for label, data in steps:
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                [result] = ctgov_import_file(user=user, path_or_bytes=data, filename="bench.json")
                elapsed = (time.perf_counter() - start) * 1000
            summary = f"{result.sites_created} sites created, {result.sites_updated} updated"
            rows.append((label, elapsed, len(queries), summary))
    connection.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locations", type=int, default=1000, help="locations in the synthetic record")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    if args.locations < 1:
        parser.error("--locations must be at least 1")

    with tempfile.TemporaryDirectory(prefix="trialdesk-bench-") as tmp:
        _setup_environment(args.db, Path(tmp))
        try:
            rows = _run(args.locations)
        finally:
            if args.db == "postgres":
                from django.db import connections

                connections.close_all()
                _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE}")

    from django.db import connection

    print(f"ClinicalTrials.gov import benchmark on {connection.vendor} ({args.db})")
    width = max(len(label) for label, *_ in rows)
    print(f"{'step'.ljust(width)}  {'ms':>8}  {'queries':>7}  result")
    for label, ms, queries, summary in rows:
        print(f"{label.ljust(width)}  {ms:8.0f}  {queries:7d}  {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
