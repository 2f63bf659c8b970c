from __future__ import annotations

from django.db.models import QuerySet

from trialdesk.accounts import permissions
from trialdesk.accounts.models import ApiToken, Membership, User
from trialdesk.core.errors import NotFound


def membership_list(user, *, study_id: int | None = None, user_id: int | None = None,
                    include_revoked: bool = False) -> QuerySet[Membership]:
    qs = Membership.objects.select_related("user__person", "study", "granted_by").prefetch_related("sites")
    if not permissions.is_portfolio_wide(user, "membership.view"):
        flt = permissions.study_filter(user, "membership.view")
        qs = qs.filter(study_id__in=permissions.visible_studies(user, "membership.view").values("pk")) \
            if flt is not None else qs
        # a study-level viewer never sees portfolio-wide grants
        qs = qs.filter(study__isnull=False)
    if study_id is not None:
        qs = qs.filter(study_id=study_id)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs.order_by("study_id", "user__username", "id")


def membership_get(user, membership_id: int) -> Membership:
    m = Membership.objects.select_related("user", "study").filter(pk=membership_id).first()
    if m is None:
        raise NotFound("Membership not found.")
    allowed = permissions.is_portfolio_wide(user, "membership.view") or (
        m.study_id is not None and permissions.has_perm(user, "membership.view", m.study, whole_study=True)
    )
    if not allowed:
        raise NotFound("Membership not found.")
    return m


def user_get(user, user_id: int) -> User:
    target = User.objects.select_related("person").filter(pk=user_id).first()
    if target is None or not (permissions.has_perm(user, "user.manage") or user.pk == target.pk
                              or permissions.has_perm(user, "membership.view")):
        raise NotFound("User not found.")
    return target


def user_by_username(username: str) -> User | None:
    return User.objects.filter(username=username).first()


def membership_list_own(user) -> QuerySet[Membership]:
    """The user's own active memberships (anyone may see their own roles)."""
    return Membership.objects.select_related("user__person", "study", "granted_by").prefetch_related("sites") \
        .filter(user=user, revoked_at__isnull=True).order_by("study_id", "id")


def api_token_list(user) -> QuerySet[ApiToken]:
    """The user's own API tokens; the secret is never stored, only its prefix."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def api_token_get(user, token_id: int) -> ApiToken:
    token = ApiToken.objects.select_related("user").filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound("API token not found.")
    return token
