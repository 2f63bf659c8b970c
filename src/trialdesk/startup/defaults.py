"""The default start-up milestone template (plain data, no Django). Every study may edit its copy."""

from __future__ import annotations

from dataclasses import dataclass

# Milestone keys kept in step with the StudySite's own planned_/actual_ date fields (site pages, the
# enrollment forecast and the portfolio read those).
LEGACY_KEYS = ("selected", "qualification_visit", "contract_executed", "irb_approval", "initiation_visit",
               "activated")
# The milestones the site lifecycle itself records: selection and activation.
SELECTION_KEY = "selected"
ACTIVATION_KEY = "activated"
STATUS_KEYS = {"selected": SELECTION_KEY, "activated": ACTIVATION_KEY}
# Site statuses at which each lifecycle milestone has happened.
REACHED = {
    SELECTION_KEY: frozenset({"selected", "start_up", "activated", "enrolling", "closed_to_enrollment",
                              "closed_out"}),
    ACTIVATION_KEY: frozenset({"activated", "enrolling", "closed_to_enrollment", "closed_out"}),
}


@dataclass(frozen=True)
class DefaultMilestone:
    key: str
    label: str
    mandatory: bool
    target_days: int | None
    depends_on: tuple[str, ...]
    owner_role: str = ""
    applies_when: str = "always"


DEFAULT_TEMPLATE: tuple[DefaultMilestone, ...] = (
    DefaultMilestone("confidentiality_agreement", "Confidentiality agreement", True, None, (), "cpm"),
    DefaultMilestone("feasibility", "Feasibility complete", False, 21, ("confidentiality_agreement",), "cra"),
    DefaultMilestone("qualification_visit", "Site qualification visit", False, 21, ("feasibility",), "cra"),
    DefaultMilestone("selected", "Selected", True, 14, ("qualification_visit",), "cpm"),
    DefaultMilestone("budget_agreed", "Budget agreed", True, 30, ("selected",), "finance"),
    DefaultMilestone("contract_executed", "Contract executed", True, 30, ("budget_agreed",), "finance"),
    DefaultMilestone("irb_submitted", "IRB/IEC submitted", True, 21, ("selected",), "regulatory"),
    DefaultMilestone("irb_approval", "IRB/IEC approved", True, 45, ("irb_submitted",), "regulatory"),
    DefaultMilestone("regulatory_approval", "Regulatory authority approval", True, 60, ("selected",),
                     "regulatory", "if_needed"),
    DefaultMilestone("essential_documents", "Essential documents collected", True, 14,
                     ("irb_approval", "contract_executed"), "regulatory"),
    DefaultMilestone("initiation_visit", "Site initiation visit", True, 14,
                     ("essential_documents", "regulatory_approval"), "cra"),
    DefaultMilestone("activated", "Site activated / green light", True, 7, ("initiation_visit",), "cpm"),
)
