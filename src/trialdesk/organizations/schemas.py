"""API input/output schemas for organizations and people."""

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from trialdesk.core.api_utils import Id, PageQuery, Reason, RecordVersion, line
from trialdesk.organizations.models import Organization

OrgKind = Literal[tuple(Organization.Kind.values)]  # type: ignore[valid-type]


class OrgRef(Schema):
    id: int
    name: str


# --- Organizations --------------------------------------------------------------------

class OrganizationFilterIn(PageQuery):
    kind: OrgKind = None
    country: line(100) = None
    q: line(200) = Field(None, description="Text search: name, city")


class OrganizationFieldsIn(Schema):
    name: line(300, min_length=1) = None
    kind: OrgKind = None
    registry_class: line(20) = Field(None, description="ClinicalTrials.gov agency class: INDUSTRY, NIH, OTHER, ...")
    address: line(300) = None
    city: line(120) = None
    state: line(120) = None
    postal_code: line(30) = None
    country: line(100) = None
    phone: line(50) = None
    email: line(254) = None
    website: line(200) = None


class OrganizationCreateIn(OrganizationFieldsIn):
    name: line(300, min_length=1)
    kind: OrgKind
    reason: Reason = ""


class OrganizationUpdateIn(OrganizationFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the record changes (required when anything changes)")


class OrganizationOut(Schema):
    id: int
    version: int
    name: str
    kind: str
    kind_label: str
    registry_class: str
    address: str
    city: str
    state: str
    postal_code: str
    country: str
    phone: str
    email: str
    website: str
    is_deleted: bool
    deleted_reason: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return obj.get_kind_display()


class OrganizationListOut(Schema):
    items: list[OrganizationOut]
    count: int


# --- People ------------------------------------------------------------------------------

class PersonFilterIn(PageQuery):
    organization_id: Id = None
    q: line(200) = Field(None, description="Text search: first name, last name, email")


class PersonFieldsIn(Schema):
    title: line(40) = Field(None, description="Dr., Prof., ...")
    first_name: line(120, min_length=1) = None
    last_name: line(120, min_length=1) = None
    degrees: line(80) = Field(None, description="MD, PhD, RN, ...")
    email: line(254) = None
    phone: line(50) = None
    organization_id: Id | None = None
    job_title: line(120) = None


class PersonCreateIn(PersonFieldsIn):
    first_name: line(120, min_length=1)
    last_name: line(120, min_length=1)
    reason: Reason = ""


class PersonUpdateIn(PersonFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the record changes (required when anything changes)")


class PersonOut(Schema):
    id: int
    version: int
    title: str
    first_name: str
    last_name: str
    full_name: str
    degrees: str
    email: str
    phone: str
    organization: OrgRef | None
    job_title: str
    is_deleted: bool
    deleted_reason: str
    created_at: dt.datetime
    updated_at: dt.datetime


class PersonListOut(Schema):
    items: list[PersonOut]
    count: int
