"""Template helpers for visits: status badges, highlight flags, and the subject page's visit panel."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.html import format_html

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound
from trialdesk.visits import selectors
from trialdesk.visits.models import MODALITIES, SubjectVisit

register = template.Library()

_STATUS_TONES = {"planned": "info", "completed": "success", "missed": "danger", "cancelled": "done"}
_STATUS_LABELS = dict(SubjectVisit.STATUSES)
_FLAGS = {
    "overdue": ("warning", "Overdue"),
    "upcoming": ("info", "Upcoming"),
    "missed": ("danger", "Missed"),
    "out_of_window": ("danger", "Out of window"),
}


@register.simple_tag
def visit_status(status: str):
    return format_html('<span class="badge badge--{}" data-status="{}">{}</span>', _STATUS_TONES.get(status, "neutral"),
                       status, _STATUS_LABELS.get(status, status))


@register.simple_tag
def visit_flag(flag: str):
    """A highlight chip for a visit that needs attention; nothing for an ordinary one."""
    if flag not in _FLAGS:
        return ""
    tone, label = _FLAGS[flag]
    return format_html('<span class="badge badge--{} visit-flag" data-flag="{}">{}</span>', tone, flag, label)


@register.filter
def signed_days(value: int) -> str:
    return f"+{value}" if value > 0 else str(value)


@register.simple_tag(takes_context=True)
def subject_visits_panel(context, subject) -> dict | None:
    """Everything `visits/_subject_visits.html` shows for one subject, for the current user (None: not allowed)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    try:
        visits = selectors.subject_visits_of(user, subject)
    except NotFound:
        return None
    return {
        "visits": visits,
        "can_record": permissions.has_perm(user, "visit.edit", subject),
        "modalities": MODALITIES,
        "next": request.get_full_path() if request is not None else "",
        "today": timezone.localdate(),
        "deviations": sum(1 for v in visits if v.out_of_window or (v.status == "missed" and v.definition.required)),
    }
