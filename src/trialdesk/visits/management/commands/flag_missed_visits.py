"""Daily job: planned visits whose window ended before today become missed (audited as the system)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from trialdesk.core.request_context import use_context
from trialdesk.studies.models import Study
from trialdesk.visits.services import subject_visits_flag_missed


class Command(BaseCommand):
    help = "Mark planned visits whose window ended before today as missed; print how many per study. Run daily."

    def add_arguments(self, parser):
        parser.add_argument("--today", help="Treat this date (YYYY-MM-DD) as today, e.g. to catch up after downtime")

    def handle(self, *args, **options):
        today = None
        if options.get("today"):
            try:
                today = dt.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(f"--today: not a date in YYYY-MM-DD form: {options['today']!r}") from None
        with use_context(channel="cli"):
            counts = subject_visits_flag_missed(today=today)
        total = sum(counts.values())
        names = dict(Study.all_objects.filter(pk__in=counts).values_list("pk", "protocol_number"))
        for study_id, n in sorted(counts.items(), key=lambda item: names.get(item[0], "")):
            self.stdout.write(f"{names.get(study_id, study_id)}: {n} visit{'s' if n != 1 else ''} marked missed")
        self.stdout.write(self.style.SUCCESS(f"{total} visit{'s' if total != 1 else ''} marked missed."))
