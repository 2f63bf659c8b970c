"""Site staff roles, delegable study tasks and the date rules of the roster and the delegation log.

Pure Python, no Django: the models, services, exports and the subjects' delegation check all read these.
"""

from __future__ import annotations

import datetime as dt

ROLES: dict[str, str] = {
    "principal_investigator": "Principal investigator",
    "sub_investigator": "Sub-investigator",
    "study_coordinator": "Study coordinator",
    "study_nurse": "Study nurse",
    "pharmacist": "Pharmacist",
    "lab": "Laboratory",
    "other": "Other",
}
PI_ROLE = "principal_investigator"

# Delegable tasks, in the order of the usual site delegation-of-authority log. The number of a task in the
# printed log's legend is its position here (1-based).
TASKS: dict[str, str] = {
    "informed_consent": "Obtain informed consent",
    "eligibility": "Assess eligibility",
    "medical_history": "Take medical history",
    "physical_exam": "Physical examination",
    "ae_assessment": "Assess adverse events",
    "ip_dispensing": "Dispense / account for investigational product",
    "sample_processing": "Process samples",
    "data_entry": "CRF / data entry",
    "query_resolution": "Resolve data queries",
    "study_specific": "Study-specific task",
}
STUDY_SPECIFIC = "study_specific"

# The subjects area asks by its own task names (subjects.services.delegation_check).
SUBJECT_TASKS: dict[str, str] = {"consent": "informed_consent", "eligibility": "eligibility"}

STATUSES: dict[str, str] = {
    "pending": "Pending signature",
    "active": "Signed",
    "ended": "Ended",
    "withdrawn": "Withdrawn",
}

# Certificates, licences and CVs expiring within this many days are flagged (and become work items).
EXPIRY_WARNING_DAYS = 60


def task_number(task: str) -> int:
    """The task's number in the printed log's legend (1-based)."""
    return list(TASKS).index(task) + 1


def task_label(task: str, detail: str = "") -> str:
    label = TASKS.get(task, task)
    if task == STUDY_SPECIFIC and detail:
        return f"{label}: {detail}"
    return label


def role_label(role: str, detail: str = "") -> str:
    label = ROLES.get(role, role)
    if role == "other" and detail:
        return detail
    return label


def initials(first_name: str, last_name: str) -> str:
    """'Nora Jane' 'van Dyke' -> 'NJVD': the first letter of each name part, upper case."""
    parts = f"{first_name} {last_name}".replace("-", " ").split()
    return "".join(p[0].upper() for p in parts if p)


def period_covers(start: dt.date, end: dt.date | None, on: dt.date) -> bool:
    """True when `on` falls in [start, end] (an open end never ends)."""
    return start <= on and (end is None or on <= end)


def effective_end(end_date: dt.date | None, ended_on: dt.date | None) -> dt.date | None:
    """A delegation ends at its planned end date or when it was ended early, whichever is first."""
    ends = [d for d in (end_date, ended_on) if d is not None]
    return min(ends) if ends else None


def period_errors(start: dt.date | None, end: dt.date | None, *, end_field: str = "end_date") -> dict[str, list[str]]:
    if start is not None and end is not None and end < start:
        return {end_field: ["The end date cannot be before the start date."]}
    return {}


def overlaps(a_start: dt.date, a_end: dt.date | None, b_start: dt.date, b_end: dt.date | None) -> bool:
    """True when the two periods (open ends never end) share at least one day."""
    return (a_end is None or b_start <= a_end) and (b_end is None or a_start <= b_end)


def expiry_state(expiry: dt.date | None, today: dt.date, *, window: int = EXPIRY_WARNING_DAYS) -> str | None:
    """"expired", "expiring" (within `window` days) or None (valid or no expiry recorded)."""
    if expiry is None:
        return None
    if expiry < today:
        return "expired"
    if (expiry - today).days <= window:
        return "expiring"
    return None


def gcp_problem(name: str, certificate_date: dt.date | None, expiry: dt.date | None, on: dt.date) -> str | None:
    """Why `name`'s GCP certificate does not make them eligible for delegation on `on`; None when it does."""
    if certificate_date is None:
        return f"No GCP training certificate is recorded for {name} on the site staff roster."
    if certificate_date > on:
        return f"{name}'s GCP training certificate is dated {certificate_date.isoformat()}, after {on.isoformat()}."
    if expiry is not None and expiry < on:
        return f"{name}'s GCP training certificate expired on {expiry.isoformat()}."
    return None
