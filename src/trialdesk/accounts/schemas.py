"""API schemas for the current user, memberships (role grants) and the user's own API tokens."""

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from trialdesk.accounts.roles import ROLE_LABELS, Role
from trialdesk.core.api_utils import Id, PageQuery, Reason, RecordVersion

RoleName = Literal[tuple(r.value for r in Role)]  # type: ignore[valid-type]


class UserRef(Schema):
    id: int
    username: str
    display_name: str


class MembershipStudyRef(Schema):
    id: int
    protocol_number: str
    acronym: str


class MembershipFilterIn(PageQuery):
    study_id: Id = None
    user_id: Id = None
    include_revoked: bool = False


class MembershipGrantIn(Schema):
    user_id: Id
    role: RoleName
    study_id: Id | None = Field(None, description="Empty: portfolio-wide (needs user.manage)")
    site_ids: list[Id] = Field(default_factory=list, max_length=500,
                               description="Limit the role to these sites of the study")
    reason: Reason = ""


class MembershipRevokeIn(Schema):
    reason: Reason = Field("", description="Why the role is revoked (required)")
    version: RecordVersion | None = None


class MembershipOut(Schema):
    id: int
    version: int
    user: UserRef
    role: RoleName
    role_label: str
    study: MembershipStudyRef | None
    site_ids: list[int]
    granted_at: dt.datetime
    granted_by: str | None = Field(description="Username of who granted it")
    revoked_at: dt.datetime | None
    revoked_by: str | None
    revoke_reason: str
    is_active: bool

    @staticmethod
    def resolve_role_label(obj) -> str:
        return ROLE_LABELS[Role(obj.role)]

    @staticmethod
    def resolve_site_ids(obj) -> list[int]:
        return sorted(site.pk for site in obj.sites.all())

    @staticmethod
    def resolve_granted_by(obj) -> str | None:
        return obj.granted_by.username if obj.granted_by_id else None

    @staticmethod
    def resolve_revoked_by(obj) -> str | None:
        return obj.revoked_by.username if obj.revoked_by_id else None


class MembershipListOut(Schema):
    items: list[MembershipOut]
    count: int


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    is_blinded: bool
    memberships: list[MembershipOut] = Field(description="Your active roles")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The first characters of the token, to recognise it; the secret is not stored")
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    is_usable: bool

    @staticmethod
    def resolve_is_usable(obj) -> bool:
        return obj.is_usable()


class TokenListOut(Schema):
    items: list[TokenOut]
    count: int


class TokenRevokeIn(Schema):
    reason: Reason = ""
