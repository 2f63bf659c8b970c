"""Template helpers for the enrollment pages, and the warnings box other pages include."""

from __future__ import annotations

import math

from django import template

from trialdesk.accounts import permissions
from trialdesk.core.errors import ServiceError

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.423 -> "42%"; empty as an em dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.0%}"


@register.filter
def num(value, places: int = 1) -> str:
    """A number with `places` decimals; empty as an em dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{int(places)}f}"


# The study overview shows the most serious few; the enrollment page lists them all.
OVERVIEW_WARNINGS = 3


@register.inclusion_tag("enrollment/_warnings.html", takes_context=True)
def enrollment_warnings_box(context, study):
    """The bottleneck warnings for a study (nothing when there are none or the user may not see them)."""
    from trialdesk.enrollment.selectors import enrollment_warnings

    request = context.get("request")
    user = getattr(request, "user", None)
    warnings = []
    if permissions.has_perm(user, "enrollment.view", study):
        try:
            warnings = enrollment_warnings(user, study)
        except ServiceError:
            warnings = []
    return {"warnings": warnings, "study": study, "link": True, "limit": OVERVIEW_WARNINGS}


FLAG_LABELS = {
    "no_enrollment": "No enrollment",
    "no_recent_enrollment": "No recent enrollment",
    "slow_site": "Slow site",
    "screen_failure": "Screen failures",
    "late_median": "Behind plan",
    "low_probability_on_time": "On time unlikely",
    "unreachable": "Target unreachable",
}


@register.filter
def flag_label(code: str) -> str:
    return FLAG_LABELS.get(code, str(code).replace("_", " ").capitalize())
