"""Subject lifecycle (screening log) as data, no Django. Enforced by subjects.services."""

from __future__ import annotations

SUBJECT_STATUSES = {
    "pre_screened": "Pre-screened",
    "screened": "Screened",
    "screen_failed": "Screen failed",
    "consented": "Consented",
    "enrolled": "Enrolled",
    "randomized": "Randomized",
    "active": "Active (on study)",
    "completed": "Completed",
    "withdrawn": "Withdrawn",
    "lost_to_follow_up": "Lost to follow-up",
}

# Consent may come before or after pre-screening procedures, so both orders are allowed.
SUBJECT_TRANSITIONS: dict[str, frozenset[str]] = {
    "pre_screened": frozenset({"screened", "consented", "screen_failed"}),
    "screened": frozenset({"consented", "screen_failed"}),
    "consented": frozenset({"screened", "enrolled", "screen_failed", "withdrawn"}),
    "enrolled": frozenset({"randomized", "active", "completed", "withdrawn", "lost_to_follow_up"}),
    "randomized": frozenset({"active", "completed", "withdrawn", "lost_to_follow_up"}),
    "active": frozenset({"completed", "withdrawn", "lost_to_follow_up"}),
    "lost_to_follow_up": frozenset({"active", "withdrawn", "completed"}),
    "screen_failed": frozenset(),
    "completed": frozenset(),
    "withdrawn": frozenset(),
}

# The date field each status records (Subject.<field>).
STATUS_DATE_FIELD = {
    "pre_screened": "prescreened_on",
    "screened": "screened_on",
    "screen_failed": "screen_failed_on",
    "consented": "consented_on",
    "enrolled": "enrolled_on",
    "randomized": "randomized_on",
    "active": "active_on",
    "completed": "completed_on",
    "withdrawn": "withdrawn_on",
    "lost_to_follow_up": "lost_on",
}

WITHDRAWAL_REASONS = {
    "withdrew_consent": "Withdrew consent",
    "adverse_event": "Adverse event",
    "lost_to_follow_up": "Lost to follow-up",
    "investigator_decision": "Investigator decision",
    "death": "Death",
    "other": "Other",
}

DEFAULT_SCREEN_FAIL_REASONS = [
    {"code": "inclusion_not_met", "label": "Inclusion criterion not met"},
    {"code": "exclusion_met", "label": "Exclusion criterion met"},
    {"code": "lab_out_of_range", "label": "Laboratory value out of range"},
    {"code": "consent_declined", "label": "Declined or withdrew consent before enrollment"},
    {"code": "other", "label": "Other"},
]

# Once a subject has an enrollment date they count as enrolled whatever happens later.
POST_ENROLLMENT_STATUSES = frozenset({"enrolled", "randomized", "active", "completed", "withdrawn",
                                      "lost_to_follow_up"})
# Still on study: re-consent is required of these when a new consent form is approved.
ON_STUDY_STATUSES = frozenset({"consented", "enrolled", "randomized", "active", "lost_to_follow_up"})
