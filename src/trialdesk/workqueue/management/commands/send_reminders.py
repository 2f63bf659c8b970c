"""Daily job (cron): e-mail each active user with an e-mail address their overdue and due work items.

Idempotent per day: a user already reminded for the day gets nothing on a second run. Exit status 1 when an
e-mail could not be sent or an area's items could not be loaded (so cron reports it); the rest is still sent.
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from trialdesk.core.errors import ValidationFailed
from trialdesk.core.request_context import use_context
from trialdesk.workqueue.services import reminders_send

LABELS = {"sent": "sent", "would_send": "would send", "already_sent": "already reminded today",
          "nothing_due": "nothing due", "failed": "FAILED"}


class Command(BaseCommand):
    help = ("E-mail each active user with an e-mail address the overdue and due items of their work queue "
            "(once per day; run daily from cron). Uses Django's mail settings (TRIALDESK_EMAIL_*).")

    def add_arguments(self, parser):
        parser.add_argument("--date", help="Remind as of this day (YYYY-MM-DD) instead of today")
        parser.add_argument("--dry-run", action="store_true",
                            help="Show who would get which items; send and record nothing")
        parser.add_argument("--user", action="append", dest="users", metavar="USERNAME",
                            help="Only this user (repeat for several)")

    def handle(self, *args, date=None, dry_run=False, users=None, **options):
        today = None
        if date:
            try:
                today = dt.date.fromisoformat(date)
            except ValueError:
                raise CommandError(f"--date: not a date in YYYY-MM-DD form: {date!r}") from None
        try:
            with use_context(channel="cli"):
                run = reminders_send(today=today, dry_run=dry_run, usernames=users)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from None

        verbosity = int(options.get("verbosity", 1))
        for o in run.outcomes:
            if o.status == "nothing_due" and verbosity < 2:
                continue
            line = f"{o.username} <{o.email}>: {LABELS[o.status]}"
            if o.items:
                line += f" ({len(o.items)} item{'s' if len(o.items) != 1 else ''})"
            if o.error:
                line += f" — {o.error}"
            (self.stderr if o.status == "failed" else self.stdout).write(line)
            if dry_run and o.status == "would_send" and verbosity >= 2:
                self.stdout.write(f"  Subject: {o.subject}\n" + "".join(f"  {ln}\n" for ln in o.body.splitlines()))
        for path in run.failed_providers:
            self.stderr.write(f"Work-queue provider {path} failed (see the log); reminders may be incomplete.")

        counts = {s: len(run.with_status(s)) for s in LABELS}
        verb = "would be sent" if dry_run else "sent"
        summary = (f"{run.as_of}: {counts['would_send' if dry_run else 'sent']} reminder"
                   f"{'s' if counts['would_send' if dry_run else 'sent'] != 1 else ''} {verb}, "
                   f"{counts['already_sent']} already sent today, {counts['nothing_due']} with nothing due"
                   + (f", {counts['failed']} failed" if counts["failed"] else "") + ".")
        if run.ok:
            self.stdout.write(self.style.SUCCESS(summary))
        else:
            self.stderr.write(summary)
            raise CommandError("Some reminders failed or may be incomplete (see above).", returncode=1)
