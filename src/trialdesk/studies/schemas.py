"""API input/output schemas for studies, arms, interventions and protocol versions.

Input limits mirror the model fields so bad input is a 422 before it reaches the database.
PATCH schemas take only the fields sent (exclude_unset), plus the record `version` and a `reason`.
"""

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import StringConstraints

from trialdesk.core.api_utils import (
    Count,
    Id,
    PageQuery,
    Reason,
    RecordVersion,
    line,
    text,
)
from trialdesk.studies.lifecycle import PROTOCOL_STATUSES, STUDY_STATUSES, allowed_study_transitions
from trialdesk.studies.models import PHASE_LABELS

StudyStatus = Literal[tuple(STUDY_STATUSES)]  # type: ignore[valid-type]
Phase = Literal[tuple(PHASE_LABELS)]  # type: ignore[valid-type]
StudyType = Literal["INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"]
Sex = Literal["ALL", "FEMALE", "MALE"]
NctId = Annotated[str, StringConstraints(pattern=r"^NCT\d{8}$")]
LONG_TEXT = 100_000


# --- Shared small summaries ------------------------------------------------------

class OrgRef(Schema):
    id: int
    name: str


class StudyRef(Schema):
    id: int
    protocol_number: str
    acronym: str


# --- Studies --------------------------------------------------------------------

class StudyFilterIn(PageQuery):
    status: StudyStatus = None
    phase: Phase = None
    nct_id: line(11) = None
    q: line(200) = Field(None, description="Text search: protocol number, titles, acronym, NCT ID, conditions")


class RegistryIdIn(Schema):
    type: line(60) = ""
    id: line(100, min_length=1)


class StudyFieldsIn(Schema):
    """Every editable study field; omitted fields keep their value (PATCH) or the default (POST)."""

    protocol_number: line(60, min_length=1) = None
    nct_id: NctId = Field(None, description="ClinicalTrials.gov ID, e.g. NCT01234567")
    other_ids: list[RegistryIdIn] = Field(None, max_length=50)
    acronym: line(60) = None
    brief_title: line(500, min_length=1) = None
    official_title: text(LONG_TEXT) = None
    summary: text(LONG_TEXT) = None
    phases: list[Phase] = Field(None, max_length=6)
    study_type: StudyType = None
    therapeutic_area: line(120) = None
    conditions: list[line(300)] = Field(None, max_length=200)
    keywords: list[line(300)] = Field(None, max_length=200)
    sponsor_id: Id | None = Field(None, description="Organization id of the sponsor")
    collaborator_ids: list[Id] = Field(None, max_length=100, description="Organization ids of collaborators")
    allocation: line(30) = None
    intervention_model: line(30) = None
    primary_purpose: line(40) = None
    masking: line(20) = None
    who_masked: list[line(30)] = Field(None, max_length=10)
    planned_enrollment: Count | None = None
    registry_enrollment: Count | None = None
    registry_enrollment_type: line(10) = None
    eligibility_criteria: text(LONG_TEXT) = None
    sex: Sex = None
    minimum_age: line(30) = None
    maximum_age: line(30) = None
    healthy_volunteers: bool | None = None
    registry_start_date: line(10) = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD")
    registry_start_date_type: line(10) = None
    registry_primary_completion_date: line(10) = None
    registry_primary_completion_date_type: line(10) = None
    registry_completion_date: line(10) = None
    registry_completion_date_type: line(10) = None
    registry_overall_status: line(30) = None
    registry_last_update: line(10) = None
    why_stopped: text(LONG_TEXT) = None
    planned_first_site_activated: dt.date | None = None
    actual_first_site_activated: dt.date | None = None
    planned_first_subject_in: dt.date | None = None
    actual_first_subject_in: dt.date | None = None
    planned_last_subject_in: dt.date | None = None
    actual_last_subject_in: dt.date | None = None
    planned_last_subject_last_visit: dt.date | None = None
    actual_last_subject_last_visit: dt.date | None = None
    planned_database_lock: dt.date | None = None
    actual_database_lock: dt.date | None = None
    planned_final_report: dt.date | None = None
    actual_final_report: dt.date | None = None


class StudyCreateIn(StudyFieldsIn):
    protocol_number: line(60, min_length=1)
    brief_title: line(500, min_length=1)
    reason: Reason = ""


class StudyUpdateIn(StudyFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the record changes (required when anything changes)")


class StudyTransitionIn(Schema):
    status: StudyStatus
    reason: Reason = ""
    version: RecordVersion


class StudySummaryOut(Schema):
    id: int
    version: int
    protocol_number: str
    nct_id: str | None
    acronym: str
    brief_title: str
    phases: list[str]
    study_type: str
    therapeutic_area: str
    conditions: list[str]
    sponsor: OrgRef | None
    status: str
    status_label: str
    status_changed_at: dt.datetime | None
    planned_enrollment: int | None
    is_deleted: bool
    updated_at: dt.datetime

    @staticmethod
    def resolve_status_label(obj) -> str:
        return STUDY_STATUSES.get(obj.status, obj.status)


class StudyOut(StudySummaryOut):
    other_ids: list[dict[str, Any]]
    official_title: str
    summary: str
    keywords: list[str]
    collaborators: list[OrgRef]
    allowed_transitions: list[str] = Field(description="Statuses this study may move to next")
    allocation: str
    intervention_model: str
    primary_purpose: str
    masking: str
    who_masked: list[str]
    registry_enrollment: int | None
    registry_enrollment_type: str
    eligibility_criteria: str
    sex: str
    minimum_age: str
    maximum_age: str
    healthy_volunteers: bool | None
    registry_start_date: str
    registry_start_date_type: str
    registry_primary_completion_date: str
    registry_primary_completion_date_type: str
    registry_completion_date: str
    registry_completion_date_type: str
    registry_overall_status: str
    registry_last_update: str
    why_stopped: str
    planned_first_site_activated: dt.date | None
    actual_first_site_activated: dt.date | None
    planned_first_subject_in: dt.date | None
    actual_first_subject_in: dt.date | None
    planned_last_subject_in: dt.date | None
    actual_last_subject_in: dt.date | None
    planned_last_subject_last_visit: dt.date | None
    actual_last_subject_last_visit: dt.date | None
    planned_database_lock: dt.date | None
    actual_database_lock: dt.date | None
    planned_final_report: dt.date | None
    actual_final_report: dt.date | None
    deleted_at: dt.datetime | None
    deleted_reason: str
    created_at: dt.datetime

    @staticmethod
    def resolve_collaborators(obj) -> list:
        return list(obj.collaborators.all())

    @staticmethod
    def resolve_allowed_transitions(obj) -> list[str]:
        return sorted(allowed_study_transitions(obj.status))


class StudyListOut(Schema):
    items: list[StudySummaryOut]
    count: int


# --- Portfolio ----------------------------------------------------------------------

class PortfolioFilterIn(PageQuery):
    status: StudyStatus = None
    phase: Phase = None
    q: line(200) = Field(None, description="Text search: protocol number, titles, acronym, NCT ID, conditions")


class PortfolioStudyOut(Schema):
    id: int
    protocol_number: str
    acronym: str
    brief_title: str
    status: str
    phases: list[str]
    sponsor: OrgRef | None


class MilestoneOut(Schema):
    key: str
    label: str
    planned: dt.date


class PortfolioRowOut(Schema):
    study: PortfolioStudyOut
    target: int | None = Field(description="Enrollment target (the study's planned enrollment)")
    enrolled: int
    enrollment_pct: int | None
    site_count: int
    sites_by_status: dict[str, int] = Field(description="Sites per status (statuses with none left out)")
    next_milestone: MilestoneOut | None = Field(description="The first key date not yet achieved")
    flags: list[str] = Field(description="Health flags: milestone_overdue, no_active_sites, behind_plan, "
                                         "lsi_passed (see docs/areas/studies.md)")

    @staticmethod
    def resolve_target(obj) -> int | None:
        return obj.study.planned_enrollment


class PortfolioTotalsOut(Schema):
    studies: int
    enrolling: int
    enrolled: int
    target: int
    sites: int


class PortfolioOut(Schema):
    items: list[PortfolioRowOut]
    count: int
    totals: PortfolioTotalsOut = Field(description="Over every matching study, not only this page")


# --- Arms and interventions -------------------------------------------------------

class ArmFieldsIn(Schema):
    label: line(200, min_length=1) = None
    arm_type: line(40) = Field(None, description="EXPERIMENTAL, ACTIVE_COMPARATOR, PLACEBO_COMPARATOR, ...")
    description: text(LONG_TEXT) = None
    planned_enrollment: Count | None = None


class ArmCreateIn(ArmFieldsIn):
    label: line(200, min_length=1)
    reason: Reason = ""


class ArmUpdateIn(ArmFieldsIn):
    version: RecordVersion
    reason: Reason = ""


class ArmOut(Schema):
    id: int
    version: int
    study_id: int
    label: str
    arm_type: str
    description: str
    planned_enrollment: int | None
    is_deleted: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class ArmListOut(Schema):
    items: list[ArmOut]
    count: int


class InterventionFieldsIn(Schema):
    kind: line(40) = Field(None, description="DRUG, DEVICE, BIOLOGICAL, ...")
    name: line(300, min_length=1) = None
    description: text(LONG_TEXT) = None
    other_names: list[line(300)] = Field(None, max_length=100)
    arm_ids: list[Id] = Field(None, max_length=100, description="Arms of the same study that receive it")


class InterventionCreateIn(InterventionFieldsIn):
    name: line(300, min_length=1)
    reason: Reason = ""


class InterventionUpdateIn(InterventionFieldsIn):
    version: RecordVersion
    reason: Reason = ""


class InterventionOut(Schema):
    id: int
    version: int
    study_id: int
    kind: str
    name: str
    description: str
    other_names: list[str]
    arm_ids: list[int]
    is_deleted: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_arm_ids(obj) -> list[int]:
        return sorted(arm.pk for arm in obj.arms.all())


class InterventionListOut(Schema):
    items: list[InterventionOut]
    count: int


# --- Protocol versions ---------------------------------------------------------------

class ProtocolVersionFieldsIn(Schema):
    version_number: line(40, min_length=1) = Field(None, description='e.g. "1.0", "2.0 (Amendment 1)"')
    version_date: dt.date = None
    amendment_number: int | None = Field(None, ge=1, le=999, description="Empty for the original protocol")
    summary_of_changes: text(LONG_TEXT) = None


class ProtocolVersionCreateIn(ProtocolVersionFieldsIn):
    version_number: line(40, min_length=1)
    version_date: dt.date
    reason: Reason = ""


class ProtocolVersionUpdateIn(ProtocolVersionFieldsIn):
    version: RecordVersion
    reason: Reason = ""


class ProtocolApproveIn(Schema):
    password: str = Field(..., min_length=1, max_length=1024,
                          description="Your password: the approval is an electronic signature (21 CFR 11.200)")
    comment: Reason = ""
    version: RecordVersion


class SignatureOut(Schema):
    id: int
    printed_name: str
    username: str
    meaning: str
    meaning_label: str
    signed_at: dt.datetime = Field(description="UTC")
    comment: str
    matches: bool = Field(description="The record's content is unchanged since signing")
    valid: bool = Field(description="The signature is intact, belongs to this record and still matches it")
    status_label: str


class ProtocolVersionOut(Schema):
    id: int
    version: int
    study_id: int
    version_number: str
    version_date: dt.date
    amendment_number: int | None
    is_amendment: bool
    summary_of_changes: str
    status: Literal[tuple(PROTOCOL_STATUSES)]  # type: ignore[valid-type]
    status_label: str
    approved_at: dt.datetime | None
    superseded_at: dt.datetime | None
    approval_signature_id: int | None
    signatures: list[SignatureOut] = Field(description="Every signature on this version, oldest first")
    is_deleted: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_status_label(obj) -> str:
        return PROTOCOL_STATUSES.get(obj.status, obj.status)

    @staticmethod
    def resolve_signatures(obj) -> list[dict]:
        from trialdesk.signatures.selectors import signatures_for

        return [signature_out(view) for view in signatures_for(obj)]


def signature_out(view) -> dict:
    """A SignatureView as the API shows it (signed_at in UTC)."""
    sig = view.signature
    return {
        "id": sig.pk, "printed_name": sig.printed_name, "username": sig.username, "meaning": sig.meaning,
        "meaning_label": sig.get_meaning_display(), "signed_at": sig.signed_at.astimezone(dt.UTC),
        "comment": sig.comment, "matches": view.matches, "valid": view.valid, "status_label": view.status_label,
    }


class ProtocolVersionListOut(Schema):
    items: list[ProtocolVersionOut]
    count: int
