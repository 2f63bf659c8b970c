"""Template helpers for "My work": severity badges."""

from django import template
from django.utils.html import format_html

from trialdesk.workqueue.selectors import SEVERITY_LABELS, kind_label

register = template.Library()

_TONES = {"overdue": "danger", "due": "warning", "upcoming": "info", "info": "neutral"}


@register.simple_tag
def severity_badge(severity: str, count=None):
    text = SEVERITY_LABELS.get(severity, severity)
    if count is not None:
        text = f"{text}: {count}"
    return format_html('<span class="badge badge--{}" data-severity="{}">{}</span>', _TONES.get(severity, "neutral"),
                       severity, text)


@register.filter
def work_kind_label(kind: str) -> str:
    return kind_label(kind)
