"""The daily reminder job: e-mail each active user with an address their overdue and due work items.

A system action (no acting user): each e-mail sent is recorded as a `ReminderLog` row and an audit event by the
system actor, in one transaction after the mail server accepted the message. The unique (user, day) row makes
the job idempotent: run it again the same day and users already reminded get nothing. A failure to send to one
user is reported and the job goes on with the next; nothing is recorded for that user, so the next run retries.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from trialdesk.accounts.models import User
from trialdesk.audit.services import Action, audit_event_create
from trialdesk.core.errors import ValidationFailed
from trialdesk.workqueue import batch, digest
from trialdesk.workqueue.items import WorkItem
from trialdesk.workqueue.models import ReminderLog
from trialdesk.workqueue.selectors import REMINDER_SEVERITIES, area_label, area_of, work_items_for

logger = logging.getLogger("trialdesk.workqueue")


@dataclass
class ReminderOutcome:
    """What the job did for one user. status: sent | would_send (dry run) | already_sent | nothing_due | failed."""

    username: str
    email: str
    status: str
    items: list[WorkItem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    error: str = ""
    subject: str = ""
    body: str = ""


@dataclass
class ReminderRun:
    as_of: dt.date
    dry_run: bool
    outcomes: list[ReminderOutcome]
    failed_providers: list[str] = field(default_factory=list)

    def with_status(self, status: str) -> list[ReminderOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ok(self) -> bool:
        """False when an e-mail could not be sent or a provider failed (the job should exit non-zero)."""
        return not self.with_status("failed") and not self.failed_providers


def reminder_recipients(usernames: list[str] | None = None):
    """Active users with an e-mail address (by username). Named users must exist, be active and have one."""
    qs = User.objects.filter(is_active=True).exclude(email="").select_related("person").order_by("username")
    if not usernames:
        return list(qs)
    found = {u.username: u for u in User.objects.filter(username__in=usernames).select_related("person")}
    problems = []
    for name in usernames:
        user = found.get(name)
        if user is None:
            problems.append(f"No user named {name!r}.")
        elif not user.is_active:
            problems.append(f"User {name!r} is deactivated.")
        elif not user.email.strip():
            problems.append(f"User {name!r} has no e-mail address.")
    if problems:
        raise ValidationFailed(" ".join(problems), errors={"user": problems})
    return [found[name] for name in sorted(set(usernames))]


def reminder_message(user, items: list[WorkItem], today: dt.date, notices: list[str]) -> tuple[str, str]:
    subject = digest.reminder_subject(items, today, prefix=settings.EMAIL_SUBJECT_PREFIX)
    body = digest.reminder_body(items, today, name=user.display_name, base_url=settings.TRIALDESK_BASE_URL,
                                my_work_path=reverse("my-work"), notices=notices)
    return subject, body


def _record(user, email: str, items: list[WorkItem], today: dt.date, failed: list[str]) -> ReminderLog:
    with transaction.atomic():
        log = ReminderLog.objects.create(user=user, sent_on=today, sent_at=timezone.now(), email=email,
                                         item_count=len(items), items_digest=digest.items_digest(items),
                                         incomplete=sorted({area_label(area_of(p)) for p in failed}))
        audit_event_create(actor=None, action=Action.CREATE, record=log, changes={
            "user": user.username, "sent_on": today, "email": email, "item_count": len(items),
            "items_digest": log.items_digest, "incomplete": log.incomplete})
    return log


def reminders_send(*, today: dt.date | None = None, dry_run: bool = False, usernames: list[str] | None = None
                   ) -> ReminderRun:
    """Send today's reminders (system job; `trialdesk send_reminders`). Returns what happened per user."""
    today = today or timezone.localdate()
    recipients = reminder_recipients(usernames)
    already = set(ReminderLog.objects.filter(sent_on=today, user__in=recipients).values_list("user_id", flat=True))
    run = ReminderRun(as_of=today, dry_run=dry_run, outcomes=[])
    failed_providers: set[str] = set()
    connection = None
    with batch.batch():
        for user in recipients:
            email = user.email.strip()
            if user.pk in already:
                run.outcomes.append(ReminderOutcome(user.username, email, "already_sent"))
                continue
            queue = work_items_for(user, today)
            failed_providers.update(queue.failed)
            items = [i for i in queue.items if i.severity in REMINDER_SEVERITIES]
            outcome = ReminderOutcome(user.username, email, "nothing_due", items=items, notices=queue.notices)
            run.outcomes.append(outcome)
            if not items:
                continue
            outcome.subject, outcome.body = reminder_message(user, items, today, queue.notices)
            if dry_run:
                outcome.status = "would_send"
                continue
            message = EmailMessage(outcome.subject, outcome.body, from_email=settings.DEFAULT_FROM_EMAIL,
                                   to=[email], headers={"Auto-Submitted": "auto-generated",
                                                        "X-Auto-Response-Suppress": "All"})
            try:
                connection = connection or get_connection(fail_silently=False)
                message.connection = connection
                message.send()
            except Exception as exc:  # the mail server refused or is unreachable: report, retry next run
                logger.exception("Reminder e-mail to %s (%s) failed", user.username, email)
                outcome.status = "failed"
                outcome.error = f"{type(exc).__name__}: {exc}"
                continue
            try:
                _record(user, email, items, today, queue.failed)
            except IntegrityError:
                # A second run recorded the same day's reminder between our check and now: both sent one.
                outcome.error = "Another run sent this user's reminder for the same day at the same time."
            outcome.status = "sent"
    if connection is not None:
        connection.close()
    run.failed_providers = sorted(failed_providers)
    return run
