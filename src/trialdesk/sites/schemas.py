"""API input/output schemas for study sites."""

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from trialdesk.core.api_utils import Count, Id, PageQuery, Reason, RecordVersion, line
from trialdesk.sites.lifecycle import SITE_STATUSES, SITE_TRANSITIONS

SiteStatus = Literal[tuple(SITE_STATUSES)]  # type: ignore[valid-type]


class OrgRef(Schema):
    id: int
    name: str


class PersonRef(Schema):
    id: int
    full_name: str


class SiteStudyRef(Schema):
    id: int
    protocol_number: str
    acronym: str


class SiteFilterIn(PageQuery):
    study_id: Id = None
    status: SiteStatus = None
    country: line(100) = None
    q: line(200) = Field(None, description="Text search: site number, institution, city, PI last name")


class SiteFieldsIn(Schema):
    """Editable site fields; omitted fields keep their value (PATCH) or the default (POST)."""

    institution_id: Id = Field(None, description="Organization id of the institution")
    site_number: line(20, min_length=1) = Field(None, description="Unique within the study")
    principal_investigator_id: Id | None = Field(None, description="Person id of the principal investigator")
    country: line(100) = None
    state: line(120) = None
    city: line(120) = None
    postal_code: line(30) = None
    address: line(300) = None
    latitude: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    target_enrollment: Count | None = None
    registry_recruitment_status: line(30) = None
    planned_selected: dt.date | None = None
    actual_selected: dt.date | None = None
    planned_qualification_visit: dt.date | None = None
    actual_qualification_visit: dt.date | None = None
    planned_contract_executed: dt.date | None = None
    actual_contract_executed: dt.date | None = None
    planned_irb_approval: dt.date | None = None
    actual_irb_approval: dt.date | None = None
    planned_initiation_visit: dt.date | None = None
    actual_initiation_visit: dt.date | None = None
    planned_activated: dt.date | None = None
    actual_activated: dt.date | None = None
    planned_first_subject_in: dt.date | None = None
    actual_first_subject_in: dt.date | None = None
    planned_closed_out: dt.date | None = None
    actual_closed_out: dt.date | None = None


class SiteCreateIn(SiteFieldsIn):
    study_id: Id = Field(description="The study this site takes part in")
    institution_id: Id = Field(description="Organization id of the institution")
    site_number: line(20, min_length=1) = Field(description="Unique within the study")
    reason: Reason = ""


class SiteUpdateIn(SiteFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the record changes (required when anything changes)")


class SiteTransitionIn(Schema):
    status: SiteStatus
    reason: Reason = ""
    version: RecordVersion


class SiteOut(Schema):
    id: int
    version: int
    study: SiteStudyRef
    institution: OrgRef
    site_number: str
    principal_investigator: PersonRef | None
    status: str
    status_label: str
    status_changed_at: dt.datetime | None
    status_reason: str
    allowed_transitions: list[str] = Field(description="Statuses this site may move to next")
    country: str
    state: str
    city: str
    postal_code: str
    address: str
    latitude: float | None
    longitude: float | None
    target_enrollment: int | None
    enrolled_count: int
    registry_recruitment_status: str
    planned_selected: dt.date | None
    actual_selected: dt.date | None
    planned_qualification_visit: dt.date | None
    actual_qualification_visit: dt.date | None
    planned_contract_executed: dt.date | None
    actual_contract_executed: dt.date | None
    planned_irb_approval: dt.date | None
    actual_irb_approval: dt.date | None
    planned_initiation_visit: dt.date | None
    actual_initiation_visit: dt.date | None
    planned_activated: dt.date | None
    actual_activated: dt.date | None
    planned_first_subject_in: dt.date | None
    actual_first_subject_in: dt.date | None
    planned_closed_out: dt.date | None
    actual_closed_out: dt.date | None
    is_deleted: bool
    deleted_reason: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_status_label(obj) -> str:
        return SITE_STATUSES.get(obj.status, obj.status)

    @staticmethod
    def resolve_allowed_transitions(obj) -> list[str]:
        return sorted(SITE_TRANSITIONS.get(obj.status, frozenset()))


class SiteListOut(Schema):
    items: list[SiteOut]
    count: int
