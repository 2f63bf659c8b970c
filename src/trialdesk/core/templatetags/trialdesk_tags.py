"""Template helpers: status badges, UTC date formatting, permission checks, audit change rendering."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.html import format_html

from trialdesk.accounts import permissions
from trialdesk.sites.lifecycle import SITE_STATUSES
from trialdesk.studies.lifecycle import PROTOCOL_STATUSES, STUDY_STATUSES

register = template.Library()

# Badge tone per status value; every tone has a colour pair meeting WCAG AA contrast in app.css.
_TONES = {
    "planning": "neutral", "candidate": "neutral", "draft": "neutral",
    "start_up": "info", "selected": "info",
    "enrolling": "success", "activated": "success", "approved": "success", "active": "success",
    "closed_to_enrollment": "warning", "follow_up": "info", "on_hold": "warning",
    "completed": "done", "closed_out": "done", "superseded": "done", "revoked": "done", "expired": "done",
    "terminated": "danger", "withdrawn": "danger", "not_selected": "danger",
}

_LABELS = {**SITE_STATUSES, **STUDY_STATUSES, **PROTOCOL_STATUSES,
           "active": "Active", "revoked": "Revoked", "expired": "Expired"}


@register.simple_tag
def status_badge(status: str, label: str = "", count=None):
    """<span class="badge badge--tone">Label</span> for a study, site, protocol or token status.

    With count: "Label: N" (e.g. sites per status on the portfolio).
    """
    text = label or _LABELS.get(status, str(status).replace("_", " ").capitalize())
    if count is not None:
        text = f"{text}: {count}"
    return format_html('<span class="badge badge--{}" data-status="{}">{}</span>',
                       _TONES.get(status, "neutral"), status, text)


@register.filter
def status_label(status: str) -> str:
    return _LABELS.get(status, str(status).replace("_", " ").capitalize())


@register.filter
def utc(value, fmt: str = "") -> str:
    """A datetime as "YYYY-MM-DD HH:MM:SS UTC", a date as "YYYY-MM-DD"; empty values as an em dash."""
    if value in (None, ""):
        return "—"
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(dt.UTC)
        return value.strftime(fmt or "%Y-%m-%d %H:%M:%S") + " UTC"
    if isinstance(value, dt.date):
        return value.strftime(fmt or "%Y-%m-%d")
    return str(value)


@register.filter
def utc_iso(value) -> str:
    """Machine-readable UTC timestamp for <time datetime="...">."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if timezone.is_aware(value) else value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return ""


@register.simple_tag(takes_context=True)
def has_perm(context, perm: str, obj=None, whole_study: bool = False) -> bool:
    """{% has_perm "study.edit" study as can_edit %}: asks accounts.permissions for the current user."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return permissions.has_perm(user, perm, obj, whole_study=whole_study)


@register.filter
def overdue(planned, actual=None) -> bool:
    """A planned date in the past with no actual date yet."""
    return bool(planned) and actual in (None, "") and planned < timezone.localdate()


@register.filter
def days_between(actual, planned) -> int | None:
    """Slip in days (actual minus planned); positive means late."""
    if not actual or not planned:
        return None
    return (actual - planned).days


def _show(value) -> str:
    if value is None or value == "":
        return "∅"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value) or "[]"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@register.filter
def change_rows(changes) -> list[dict]:
    """An audit event's {field: [old, new]} as rows for a table; non-pair values show as details."""
    rows = []
    for name, pair in (changes or {}).items():
        label = str(name).replace("_", " ")
        if isinstance(pair, list) and len(pair) == 2:
            rows.append({"field": label, "old": _show(pair[0]), "new": _show(pair[1]), "pair": True})
        else:
            rows.append({"field": label, "old": "", "new": _show(pair), "pair": False})
    return rows


@register.filter
def lines(value) -> str:
    """A list of strings shown one per line (for textareas)."""
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    return value or ""


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.inclusion_tag("trialdesk/_form_field.html")
def form_field(field, hint: str = "", wide: bool = False):
    """A labelled form field with its help text and errors linked by aria-describedby."""
    return {"field": field, "hint": hint, "wide": wide}


@register.inclusion_tag("trialdesk/_reason_prompt.html")
def reason_prompt(field, action: str = "change"):
    """The mandatory "reason for change" textarea with its explanation."""
    return {"field": field, "action": action}


_SECTIONS = [("/organizations/", "organizations"), ("/people/", "people"), ("/imports/", "imports"),
             ("/account/", "account"), ("/training/mine/", "training")]


@register.simple_tag(takes_context=True)
def nav_section(context) -> str:
    """Which main navigation entry the current page belongs to (studies and sites are the portfolio)."""
    request = context.get("request")
    path = getattr(request, "path", "")
    for prefix, name in _SECTIONS:
        if path.startswith(prefix):
            return name
    return "portfolio"
