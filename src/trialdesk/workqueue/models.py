"""Reminder e-mails sent by `trialdesk send_reminders`: one row per user and day (append-only)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ReminderLog(models.Model):
    """The day's reminder e-mail to one user: what it listed (count and a digest of the items) and where it went.

    The unique (user, sent_on) makes the daily job idempotent: a second run the same day finds the row and
    sends nothing. Rows are written only by `workqueue.services.reminders_send` and never changed.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reminder_logs")
    sent_on = models.DateField(help_text="The day the reminder is for (the job's --date, default today)")
    sent_at = models.DateTimeField()
    email = models.CharField(max_length=254, help_text="The address the e-mail went to")
    item_count = models.PositiveIntegerField()
    items_digest = models.CharField(max_length=64, help_text="SHA-256 over the listed items' keys, severities, "
                                                              "due dates and titles")
    incomplete = models.JSONField(default=list, blank=True,
                                  help_text="Areas whose items could not be loaded when the e-mail was made")

    class Meta:
        ordering = ["-sent_on", "user_id"]
        constraints = [models.UniqueConstraint(fields=["user", "sent_on"], name="reminder_once_per_day")]

    def __str__(self) -> str:
        return f"Reminder to {self.user} for {self.sent_on}: {self.item_count} items"

    @property
    def audit_study_id(self) -> int | None:
        return None

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Reminder logs are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Reminder logs are never deleted.")
