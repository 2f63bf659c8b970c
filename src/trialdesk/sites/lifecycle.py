"""Study-site lifecycle as data (no Django)."""

from __future__ import annotations

SITE_STATUSES = {
    "candidate": "Candidate",
    "selected": "Selected",
    "start_up": "Start-up",
    "activated": "Activated",
    "enrolling": "Enrolling",
    "closed_to_enrollment": "Closed to enrollment",
    "closed_out": "Closed out",
    "not_selected": "Not selected",
}

SITE_TRANSITIONS: dict[str, frozenset[str]] = {
    "candidate": frozenset({"selected", "not_selected"}),
    "selected": frozenset({"start_up", "not_selected"}),
    "start_up": frozenset({"activated", "not_selected"}),
    "activated": frozenset({"enrolling", "closed_to_enrollment", "closed_out"}),
    "enrolling": frozenset({"closed_to_enrollment", "closed_out"}),
    "closed_to_enrollment": frozenset({"enrolling", "closed_out"}),
    "closed_out": frozenset(),
    "not_selected": frozenset({"candidate"}),
}

# Status -> the actual milestone date a transition into it records (if still empty).
SITE_STATUS_MILESTONE = {
    "selected": "actual_selected",
    "activated": "actual_activated",
    "closed_out": "actual_closed_out",
}

# Start-up milestones tracked planned vs actual (the full workflow builds on these).
SITE_MILESTONES = [
    ("selected", "Selected"),
    ("qualification_visit", "Site qualification visit"),
    ("contract_executed", "Contract executed"),
    ("irb_approval", "IRB/IEC approval"),
    ("initiation_visit", "Site initiation visit"),
    ("activated", "Activated"),
    ("first_subject_in", "First subject in"),
    ("closed_out", "Closed out"),
]
