"""API input/output schemas for the site staff roster and the delegation log."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.utils import timezone
from ninja import Field, Schema

from trialdesk.core.api_utils import Id, PageQuery, Reason, RecordVersion, line, text
from trialdesk.staff import tasks

StaffRole = Literal[tuple(tasks.ROLES)]  # type: ignore[valid-type]
TaskKey = Literal[tuple(tasks.TASKS)]  # type: ignore[valid-type]
DelegationStatus = Literal[tuple(tasks.STATUSES)]  # type: ignore[valid-type]


class PersonRef(Schema):
    id: int
    full_name: str


class StaffSiteRef(Schema):
    id: int
    site_number: str
    study_id: int


# --- Roster --------------------------------------------------------------------------------------------------------

class StaffFilterIn(PageQuery):
    study_id: Id = None
    site_id: Id = None
    person_id: Id = None
    role: StaffRole = None
    current: bool | None = Field(None, description="true: entries not ended today; false: ended entries")
    q: line(200) = Field(None, description="Text search: first or last name, role detail")


class StaffFieldsIn(Schema):
    """Editable roster fields; omitted fields keep their value (PATCH) or the default (POST)."""

    role: StaffRole = None
    role_detail: line(120) = Field(None, description="What the role is, when the role is `other`")
    start_date: dt.date = None
    end_date: dt.date | None = None
    cv_date: dt.date | None = None
    cv_expiry: dt.date | None = None
    licence_number: line(100) = None
    licence_expiry: dt.date | None = None
    gcp_certificate_date: dt.date | None = None
    gcp_expiry: dt.date | None = None
    notes: text(5000) = None


class StaffCreateIn(StaffFieldsIn):
    site_id: Id = Field(description="The study site")
    person_id: Id = Field(description="The person (organizations)")
    role: StaffRole
    start_date: dt.date
    reason: Reason = ""


class StaffUpdateIn(StaffFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the record changes (required when anything changes)")


class StaffOut(Schema):
    id: int
    version: int
    site: StaffSiteRef
    person: PersonRef
    role: str
    role_label: str
    role_detail: str
    start_date: dt.date
    end_date: dt.date | None
    current: bool = Field(description="Not ended today")
    cv_date: dt.date | None
    cv_expiry: dt.date | None
    licence_number: str
    licence_expiry: dt.date | None
    gcp_certificate_date: dt.date | None
    gcp_expiry: dt.date | None
    flags: list[str] = Field(description="cv_/licence_/gcp_ + expired or expiring (within 60 days), gcp_missing")
    notes: str
    is_deleted: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_current(obj) -> bool:
        return obj.end_date is None or obj.end_date >= timezone.localdate()

    @staticmethod
    def resolve_flags(obj) -> list[str]:
        from trialdesk.staff.selectors import staff_flags

        return staff_flags(obj, timezone.localdate())


class StaffListOut(Schema):
    items: list[StaffOut]
    count: int


# --- Delegations ---------------------------------------------------------------------------------------------------

class DelegationFilterIn(PageQuery):
    study_id: Id = None
    site_id: Id = None
    staff_id: Id = None
    person_id: Id = None
    task: TaskKey = None
    status: DelegationStatus = None


class DelegationCreateIn(Schema):
    staff_id: Id = Field(description="The roster entry (person at a site) the task is delegated to")
    task: TaskKey
    task_detail: line(300) = Field("", description="What the task is (required for `study_specific`)")
    start_date: dt.date
    end_date: dt.date | None = None
    reason: Reason = ""


class DelegationUpdateIn(Schema):
    task: TaskKey = None
    task_detail: line(300) = None
    start_date: dt.date = None
    end_date: dt.date | None = None
    version: RecordVersion
    reason: Reason = Field("", description="Why the record changes (required when anything changes)")


class DelegationSignIn(Schema):
    password: str = Field(..., min_length=1, max_length=1024,
                          description="Your password: the signature is an electronic signature (21 CFR 11.200)")
    comment: Reason = ""
    version: RecordVersion


class DelegationEndIn(Schema):
    ended_on: dt.date = Field(description="The last day the delegation covers")
    reason: Reason = Field("", description="Why it ends (required)")
    version: RecordVersion


class DelegationWithdrawIn(Schema):
    reason: Reason = Field("", description="Why it is withdrawn (required)")
    version: RecordVersion


class DelegationSignatureOut(Schema):
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


class SignBlockerOut(Schema):
    field: str = Field(description="roster | training | gcp")
    message: str


class DelegationOut(Schema):
    id: int
    version: int
    staff_id: int
    site: StaffSiteRef
    person: PersonRef
    role_label: str
    task: str
    task_number: int = Field(description="The task's number in the printed log's legend")
    task_label: str
    task_detail: str
    start_date: dt.date
    end_date: dt.date | None
    ended_on: dt.date | None
    ended_reason: str
    status: str
    status_label: str
    signed_at: dt.datetime | None
    signature: DelegationSignatureOut | None
    sign_blockers: list[SignBlockerOut] = Field(
        description="For a pending delegation: what stops it being signed now (empty: it can be signed)")
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_site(obj) -> dict:
        site = obj.staff.site
        return {"id": site.pk, "site_number": site.site_number, "study_id": site.study_id}

    @staticmethod
    def resolve_person(obj) -> dict:
        return {"id": obj.staff.person_id, "full_name": obj.staff.person.full_name}

    @staticmethod
    def resolve_role_label(obj) -> str:
        return obj.staff.role_label

    @staticmethod
    def resolve_status_label(obj) -> str:
        return tasks.STATUSES.get(obj.status, obj.status)

    @staticmethod
    def resolve_signature(obj) -> dict | None:
        from trialdesk.signatures.selectors import signature_check
        from trialdesk.studies.schemas import signature_out

        if obj.signature_id is None:
            return None
        return signature_out(signature_check(obj.signature, obj))

    @staticmethod
    def resolve_sign_blockers(obj) -> list[dict]:
        from trialdesk.staff.selectors import delegation_sign_blockers

        if obj.status != "pending":
            return []
        return [{"field": f, "message": m} for f, m in delegation_sign_blockers(obj)]


class DelegationListOut(Schema):
    items: list[DelegationOut]
    count: int


class DelegationLogQuery(Schema):
    format: Literal["pdf", "xlsx"] = Field("pdf", description="pdf (landscape, printable) or xlsx")
