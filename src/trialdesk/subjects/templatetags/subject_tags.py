"""Template helpers for subject pages: status badges with screening-log tones, arm display for blinding."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from trialdesk.subjects.lifecycle import SUBJECT_STATUSES

register = template.Library()

# Tones of the shared badge classes in core/static/trialdesk/app.css.
_TONES = {
    "pre_screened": "neutral", "screened": "info", "consented": "info", "screen_failed": "danger",
    "enrolled": "success", "randomized": "success", "active": "success", "completed": "done",
    "withdrawn": "danger", "lost_to_follow_up": "warning",
    "open": "warning", "done": "success", "not_required": "done",
    "draft": "neutral", "approved": "success", "superseded": "done",
}
_LABELS = {**SUBJECT_STATUSES, "open": "Open", "done": "Re-consented", "not_required": "No longer required",
           "draft": "Draft", "approved": "Approved", "superseded": "Superseded"}


@register.simple_tag
def subject_badge(status: str, count=None):
    """<span class="badge badge--tone">Label</span> for a subject, re-consent or consent-form status."""
    text = _LABELS.get(status, str(status).replace("_", " ").capitalize())
    if count is not None:
        text = f"{text}: {count}"
    return format_html('<span class="badge badge--{}" data-status="{}">{}</span>', _TONES.get(status, "neutral"),
                       status, text)


@register.simple_tag
def arm_label(randomization, show_arm: bool):
    """The randomized arm, or "Blinded" for blinded users (never the arm)."""
    if randomization is None:
        return "—"
    if not show_arm:
        return format_html('<span class="muted" data-testid="arm-blinded">{}</span>', "Blinded")
    return format_html('<span data-testid="arm">{}</span>', randomization.arm.label)
