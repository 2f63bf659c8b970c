"""Portfolio health flags: a cheap screen over every study, from counts and key dates only (no Django).

The study's own enrollment page runs the forecast and its bottleneck warnings; the portfolio cannot afford a
Monte Carlo run per study, so it flags what plain numbers show:

* milestone_overdue  the next key date not yet achieved was planned before today;
* no_active_sites    the study is enrolling but none of its sites is activated or enrolling;
* behind_plan        enrolling, and fewer than BEHIND_RATIO of the subjects a straight line from first subject
                     in (actual, else planned) to the planned last subject in expects by today;
* lsi_passed         the planned last subject in has passed without it being recorded, short of the target.
"""

from __future__ import annotations

import datetime as dt

ACTIVE_SITE_STATUSES = frozenset({"activated", "enrolling"})
RECRUITING_STUDY_STATUSES = frozenset({"enrolling"})
BEHIND_RATIO = 0.8

FLAG_LABELS = {
    "milestone_overdue": "Milestone overdue",
    "no_active_sites": "No active sites",
    "behind_plan": "Behind plan",
    "lsi_passed": "Last subject in passed",
}


def expected_by(today: dt.date, start: dt.date | None, end: dt.date | None, target: int | None) -> float | None:
    """Subjects a straight line from `start` (0) to `end` (target) expects by `today`; None without a line."""
    if not target or start is None or end is None or end <= start:
        return None
    if today <= start:
        return 0.0
    if today >= end:
        return float(target)
    return target * (today - start).days / (end - start).days


def health_flags(*, today: dt.date, status: str, target: int | None, enrolled: int, active_sites: int,
                 next_milestone_planned: dt.date | None, first_subject_in: dt.date | None,
                 planned_last_subject_in: dt.date | None, actual_last_subject_in: dt.date | None) -> list[str]:
    flags = []
    if next_milestone_planned is not None and next_milestone_planned < today:
        flags.append("milestone_overdue")
    recruiting = status in RECRUITING_STUDY_STATUSES
    if recruiting and active_sites == 0:
        flags.append("no_active_sites")
    expected = expected_by(today, first_subject_in, planned_last_subject_in, target)
    if recruiting and expected is not None and expected >= 1 and enrolled < BEHIND_RATIO * expected:
        flags.append("behind_plan")
    if (recruiting and target and enrolled < target and actual_last_subject_in is None
            and planned_last_subject_in is not None and planned_last_subject_in < today):
        flags.append("lsi_passed")
    return flags
