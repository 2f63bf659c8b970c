"""`trialdesk import_ctgov PATH... --user USERNAME`: import ClinicalTrials.gov API v2 study JSON files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from trialdesk.accounts import permissions
from trialdesk.accounts.selectors import user_by_username
from trialdesk.core.errors import ServiceError
from trialdesk.core.request_context import use_context
from trialdesk.ctgov.services import FileRejected, ctgov_import_file

USER_ENV = "TRIALDESK_CLI_USER"


def _expand(paths: list[str]) -> list[Path]:
    """Files as given; folders become all their *.json files (recursively, sorted)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        else:
            files.append(path)  # a missing file is reported as that file's error
    return files


class Command(BaseCommand):
    help = ("Import ClinicalTrials.gov API v2 study records (JSON files, or folders of them). "
            "Re-importing an NCT id updates its study. Exits 1 if any file failed.")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="A study JSON file or a folder of them")
        parser.add_argument("--user", default=None,
                            help=f"The acting user (needs ctgov.import portfolio-wide); default ${USER_ENV}")

    def _user(self, username: str | None):
        username = (username or os.environ.get(USER_ENV, "")).strip()
        if not username:
            raise CommandError(f"Name the acting user with --user USERNAME (or set {USER_ENV}); "
                               "every import is recorded in the audit trail under that user.")
        user = user_by_username(username)
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is deactivated.")
        if not permissions.is_portfolio_wide(user, "ctgov.import"):
            raise CommandError(f"User {username!r} may not import from ClinicalTrials.gov "
                               "(needs the ctgov.import permission across the portfolio, e.g. Admin or CPM).")
        return user

    def handle(self, *args, paths, user, **options):
        actor = self._user(user)
        files = _expand(paths)
        if not files:
            raise CommandError("No .json files found in " + ", ".join(paths) + ".")
        out = getattr(self.stdout, "_out", sys.stdout)
        err = getattr(self.stderr, "_out", sys.stderr)
        failed = 0
        with use_context(channel="cli"):
            # disable=None: the bar is drawn only when stderr is a terminal, not into logs.
            bar = tqdm(files, desc="Importing", unit="file", file=err, disable=None)
            for path in bar:
                try:
                    results = ctgov_import_file(user=actor, path_or_bytes=path, filename=path.name)
                except FileRejected as exc:
                    failed += 1
                    tqdm.write(f"ERROR {path}: {exc.detail}", file=err)
                    continue
                except ServiceError as exc:
                    failed += 1
                    tqdm.write(f"ERROR {path}: {exc.message.removeprefix(f'{path.name}: ')}", file=err)
                    continue
                for result in results:
                    verb = "created" if result.created else ("updated" if result.changed else "unchanged")
                    tqdm.write(
                        f"{path}: {verb} study {result.protocol_number} ({result.nct_id}): "
                        f"{result.sites_created} sites created, {result.sites_updated} updated", file=out)
                    for warning in result.warnings:
                        tqdm.write(f"  warning: {warning}", file=out)
            bar.close()
        done = len(files) - failed
        summary = f"{done} of {len(files)} files imported" + (f", {failed} failed." if failed else ".")
        if failed:
            err.write(summary + "\n")
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(summary))
