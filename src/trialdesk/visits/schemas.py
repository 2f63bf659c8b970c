"""API input/output schemas for schedules of events and subjects' visits."""

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from trialdesk.core.api_utils import Count, Id, PageQuery, Reason, RecordVersion, text
from trialdesk.visits.models import ANCHORS, MODALITIES, SubjectVisit

Anchor = Literal[tuple(code for code, _ in ANCHORS)]  # type: ignore[valid-type]
Modality = Literal[tuple(code for code, _ in MODALITIES)]  # type: ignore[valid-type]
VisitStatus = Literal[tuple(code for code, _ in SubjectVisit.STATUSES)]  # type: ignore[valid-type]

TargetDay = Field(None, ge=-365, le=3650, description="Days after the anchor date (0 = the anchor day)")
WindowDays = Field(None, ge=0, le=365)


# --- Schedule of events --------------------------------------------------------------------

class DefinitionFilterIn(PageQuery):
    protocol_version_id: Id = Field(description="The protocol version whose schedule to list")


class VisitDefinitionFieldsIn(Schema):
    code: text(20, min_length=1) = Field(None, description='Short code, e.g. "V1", "SCR", "EOT"')
    name: text(120, min_length=1) = None
    order: Count = None
    anchor: Anchor = Field(None, description="The date the target day counts from")
    target_day: int = TargetDay
    window_before: int = WindowDays
    window_after: int = WindowDays
    modality: Modality = None
    required: bool = None


class VisitDefinitionCreateIn(VisitDefinitionFieldsIn):
    protocol_version_id: Id = Field(description="A draft protocol version of the study")
    code: text(20, min_length=1) = Field(description='Short code, e.g. "V1", "SCR", "EOT"')
    name: text(120, min_length=1)
    target_day: int = Field(ge=-365, le=3650, description="Days after the anchor date (0 = the anchor day)")
    reason: Reason = ""


class VisitDefinitionUpdateIn(VisitDefinitionFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the record changes (required when anything changes)")


class ScheduleCopyIn(Schema):
    source_protocol_version_id: Id = Field(description="The version whose schedule is copied")
    target_protocol_version_id: Id = Field(description="A draft version of the same study")
    reason: Reason = ""


class VisitDefinitionOut(Schema):
    id: int
    version: int
    study_id: int
    protocol_version_id: int
    code: str
    name: str
    order: int
    anchor: str
    anchor_label: str
    target_day: int
    window_before: int
    window_after: int
    modality: str
    modality_label: str
    required: bool
    is_deleted: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_anchor_label(obj) -> str:
        return obj.get_anchor_display()

    @staticmethod
    def resolve_modality_label(obj) -> str:
        return obj.get_modality_display()


class VisitDefinitionListOut(Schema):
    items: list[VisitDefinitionOut]
    count: int


# --- Subjects' visits ------------------------------------------------------------------------

class VisitFilterIn(PageQuery):
    study_id: Id = None
    site_id: Id = None
    subject_id: Id = None
    status: VisitStatus = None
    modality: Modality = None
    date_from: dt.date = Field(None, alias="from",
                                 description="Visits on or after this date (actual date, else planned)")
    date_to: dt.date = Field(None, alias="to", description="Visits on or before this date")
    out_of_window: bool = None


class DeviationFilterIn(PageQuery):
    study_id: Id = None
    site_id: Id = None


class DefinitionRef(Schema):
    id: int
    code: str
    name: str
    required: bool
    anchor: str
    target_day: int
    protocol_version_id: int


class SubjectVisitOut(Schema):
    id: int
    version: int
    study_id: int
    site_id: int
    site_number: str
    subject_id: int
    subject_number: str
    definition: DefinitionRef
    planned_on: dt.date
    window_start: dt.date
    window_end: dt.date
    actual_on: dt.date | None
    modality: str
    modality_label: str
    status: str
    status_label: str
    out_of_window: bool
    notes: str
    updated_at: dt.datetime

    @staticmethod
    def resolve_site_number(obj) -> str:
        return obj.site.site_number

    @staticmethod
    def resolve_subject_number(obj) -> str:
        return obj.subject.subject_number

    @staticmethod
    def resolve_modality_label(obj) -> str:
        return obj.get_modality_display()

    @staticmethod
    def resolve_status_label(obj) -> str:
        return obj.get_status_display()


class SubjectVisitListOut(Schema):
    items: list[SubjectVisitOut]
    count: int


class DeviationOut(SubjectVisitOut):
    deviation: Literal["out_of_window", "missed"] = Field(
        description="out_of_window: done outside its window; missed: a required visit that did not take place")


class DeviationListOut(Schema):
    items: list[DeviationOut]
    count: int


class VisitRecordIn(Schema):
    actual_on: dt.date = Field(description="The date the visit took place (not in the future)")
    modality: Modality = Field(None, description="How it took place; defaults to the planned modality")
    notes: text(5000) = ""
    version: RecordVersion
    reason: Reason = Field("", description="Required when correcting a completed or missed visit")


class VisitMissIn(Schema):
    version: RecordVersion
    reason: Reason = Field("", description="Why the visit did not take place (required)")


class FeedOut(Schema):
    url: str = Field(description="Secret iCalendar (.ics) URL of your upcoming visits, for calendar apps")
    note: str
