"""`trialdesk import_screening_log FILE --study PROTOCOL --user USERNAME [--dry-run]`.

Checks a site's screening log (CSV or XLSX) and imports it all or nothing. Problems are printed as
FILE:ROW:COLUMN: message (the header is row 1); any problem exits 1 and nothing is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trialdesk.accounts.selectors import user_by_username
from trialdesk.core.errors import NotFound, ServiceError
from trialdesk.core.request_context import use_context
from trialdesk.studies.models import Study
from trialdesk.studies.selectors import study_get
from trialdesk.subjects import services

USER_ENV = "TRIALDESK_CLI_USER"


class Command(BaseCommand):
    help = ("Check a screening log (CSV or XLSX, laid out like the import template) and import its subjects into a "
            "study, all or nothing. --dry-run only checks. Exits 1 when the file has problems.")

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="The screening log (.csv or .xlsx)")
        parser.add_argument("--study", required=True, metavar="PROTOCOL", help="The study's protocol number")
        parser.add_argument("--user", default=None, help=f"The acting user (needs subject.import); default ${USER_ENV}")
        parser.add_argument("--dry-run", action="store_true", help="Only check the file; write nothing")

    def _user(self, username: str | None):
        username = (username or os.environ.get(USER_ENV, "")).strip()
        if not username:
            raise CommandError(f"Name the acting user with --user USERNAME (or set {USER_ENV}); every import is "
                               "recorded in the audit trail under that user.")
        user = user_by_username(username)
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is deactivated.")
        return user

    def handle(self, *args, file, study, user, dry_run, **options):
        actor = self._user(user)
        row = Study.objects.filter(protocol_number=study).values_list("pk", flat=True).first()
        try:
            target = study_get(actor, row) if row is not None else None
        except NotFound:
            target = None
        if target is None:
            raise CommandError(f"No study {study!r} that user {actor.username!r} may see.")
        path = Path(file)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: cannot read the file ({exc.strerror or exc}).") from None
        with use_context(channel="cli"):
            try:
                report = services.screening_log_import(user=actor, study=target, content=content,
                                                       filename=path.name, dry_run=dry_run)
            except ServiceError as exc:
                report = getattr(exc, "report", None)
                if report is None:
                    raise CommandError(exc.message) from None
        for warning in report.warnings:
            self.stderr.write(f"{path}: warning: {warning}")
        if not report.ok:
            for p in report.problems:
                self.stderr.write(f"{path}:{p.row or 0}:{p.column}: {p.message}")
            count = len(report.problems)
            self.stderr.write(f"{count} problem{'s' if count != 1 else ''} in {report.rows} rows; "
                              "nothing was imported.")
            raise SystemExit(1)
        if dry_run:
            counts = ", ".join(f"{n} {status}" for status, n in report.by_status.items())
            self.stdout.write(self.style.SUCCESS(f"{path}: {report.rows} rows, no problems; importing would create "
                                                 f"{len(report.planned)} subjects ({counts}). Nothing was written."))
            return
        self.stdout.write(self.style.SUCCESS(f"{path}: imported {len(report.created)} subjects into "
                                             f"{target.protocol_number}."))
