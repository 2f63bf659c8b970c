from django.core.management.base import BaseCommand, CommandError

from trialdesk.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Walk the audit hash chain; exit non-zero naming the first event that fails."

    def handle(self, *args, **options):
        checked, failure = audit_chain_verify()
        if failure is not None:
            raise CommandError(f"Audit trail verification FAILED after {checked} good events: {failure}")
        self.stdout.write(self.style.SUCCESS(f"Audit trail verified: {checked} events, hash chain intact."))
