"""Study and protocol-version lifecycles as data (no Django), enforced by the services."""

from __future__ import annotations

STUDY_STATUSES = {
    "planning": "Planning",
    "start_up": "Start-up",
    "enrolling": "Enrolling",
    "closed_to_enrollment": "Closed to enrollment",
    "follow_up": "Follow-up",
    "completed": "Completed",
    "terminated": "Terminated",
    "withdrawn": "Withdrawn",
    "on_hold": "On hold",
}

# Withdrawn means stopped before the first subject was enrolled (ClinicalTrials.gov's meaning).
STUDY_TRANSITIONS: dict[str, frozenset[str]] = {
    "planning": frozenset({"start_up", "on_hold", "withdrawn"}),
    "start_up": frozenset({"enrolling", "on_hold", "withdrawn", "terminated"}),
    "enrolling": frozenset({"closed_to_enrollment", "on_hold", "terminated"}),
    "closed_to_enrollment": frozenset({"enrolling", "follow_up", "completed", "on_hold", "terminated"}),
    "follow_up": frozenset({"completed", "on_hold", "terminated"}),
    "on_hold": frozenset({"planning", "start_up", "enrolling", "closed_to_enrollment", "follow_up",
                          "terminated", "withdrawn"}),
    "completed": frozenset(),
    "terminated": frozenset(),
    "withdrawn": frozenset(),
}

TERMINAL_STUDY_STATUSES = frozenset(s for s, nxt in STUDY_TRANSITIONS.items() if not nxt)

PROTOCOL_STATUSES = {"draft": "Draft", "approved": "Approved", "superseded": "Superseded"}


def allowed_study_transitions(current: str) -> frozenset[str]:
    return STUDY_TRANSITIONS.get(current, frozenset())


def transition_error(current: str, target: str, labels: dict[str, str], allowed: frozenset[str]) -> str | None:
    """None when current -> target is allowed, else a message that says what is."""
    if target not in labels:
        return f"Unknown status {target!r}."
    if target == current:
        return f"The record is already {labels[current]}."
    if target not in allowed:
        options = ", ".join(labels[s] for s in sorted(allowed)) or "none (final status)"
        return f"Cannot change status from {labels[current]} to {labels[target]}. Allowed next: {options}."
    return None
