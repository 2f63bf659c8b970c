"""`trialdesk generate_portfolio --scale S|M|L [--seed N]`: fill an empty database with a synthetic portfolio."""

from __future__ import annotations

import datetime as dt
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from trialdesk.demo import synth
from trialdesk.demo.generate import PUBLIC_SCALES, GenerationRefused, portfolio_generate

PASSWORD_ENV = "TRIALDESK_GENERATE_PASSWORD"


def _size(n: int | None) -> str:
    """Decimal units, as disk sizes are usually quoted (1 GB = 10^9 bytes)."""
    if n is None:
        return "unknown"
    return f"{n / 1e9:.2f} GB ({n:,} bytes)" if n >= 1e9 else f"{n / 1e6:.1f} MB ({n:,} bytes)"


class Command(BaseCommand):
    # The checks load every URL and API schema (seconds); nothing here depends on them.
    requires_system_checks: list = []
    help = ("Fill an empty database with a synthetic portfolio, written in bulk (COPY on PostgreSQL, batched "
            "inserts on SQLite): S = 20 studies, 500 sites, 10,000 subjects; M = 200 studies, 10,000 sites, "
            "200,000 subjects (about 3 million visits); L = 1,000 studies, 50,000 sites, 1,000,000 subjects "
            "(about 15 million visits). Refuses a database that already holds studies.")

    def add_arguments(self, parser):
        described = ", ".join(f"{s.name} ({s.studies} studies, {s.sites} sites, {s.subjects} subjects)"
                              for s in (synth.SCALES[k] for k in PUBLIC_SCALES))
        # XS (9 studies) exists for the tests; it is accepted but not advertised.
        parser.add_argument("--scale", required=True, choices=[*PUBLIC_SCALES, "XS"], metavar="{S,M,L}",
                            help=f"Portfolio size: {described}.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (same scale and seed, same portfolio).")
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None,
                            help="The day the portfolio is drawn up to (YYYY-MM-DD; default: today).")
        parser.add_argument("--password", default=None,
                            help=f"Password of every generated login (default: ${PASSWORD_ENV}, else no usable "
                                 "password). Logins: gen-admin, gen-cpm, gen-viewer (blinded), gen-auditor, "
                                 "cpm001..., cra0001...")
        parser.add_argument("--database", default="default", help="Database alias (default: default).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        parser.add_argument("--no-analyze", action="store_true",
                            help="Skip VACUUM ANALYZE / ANALYZE at the end.")

    def handle(self, *args, scale: str, seed: int, today, password, database: str, no_progress: bool,
               no_analyze: bool, **options):
        password = password or os.environ.get(PASSWORD_ENV) or None
        progress_factory = None
        if not no_progress:
            from tqdm import tqdm

            def progress_factory(total):
                return tqdm(total=total, unit=" subjects", unit_scale=True, file=sys.stderr,
                            desc=f"generate {scale}", dynamic_ncols=True, mininterval=1.0)

        try:
            report = portfolio_generate(scale=scale, seed=seed, today=today, password=password, using=database,
                                        progress_factory=progress_factory, log=self.stdout.write,
                                        analyze=not no_analyze)
        except GenerationRefused as exc:
            raise CommandError(str(exc)) from exc
        rows = report.rows
        total = sum(rows.values())
        self.stdout.write(self.style.SUCCESS(
            f"Generated scale {report.scale} (seed {report.seed}) on {report.vendor} in {report.seconds:.1f} s "
            f"(writing {report.write_seconds:.1f} s, indexes {report.index_seconds:.1f} s, statistics "
            f"{report.analyze_seconds:.1f} s): {total:,} rows; database size {_size(report.database_bytes)}."))
        for table, n in sorted(rows.items(), key=lambda kv: -kv[1]):
            if n:
                self.stdout.write(f"  {table:<36} {n:>12,}")
        if password:
            self.stdout.write(f"Logins (password as given): {', '.join(report.logins)}, cpm001..., cra0001...")
        else:
            self.stdout.write(f"Logins have no usable password (give --password or ${PASSWORD_ENV}).")
