"""Accounts API: the current user, role memberships (grant/revoke) and the user's own API tokens."""

from ninja import Query, Router, Status

from trialdesk.accounts import selectors, services
from trialdesk.accounts.schemas import (
    MembershipFilterIn,
    MembershipGrantIn,
    MembershipListOut,
    MembershipOut,
    MembershipRevokeIn,
    MeOut,
    TokenListOut,
    TokenOut,
    TokenRevokeIn,
)
from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, PageQuery, PathId, paginate, resolve_ref
from trialdesk.sites.selectors import site_get
from trialdesk.studies.selectors import study_get

router = Router()


@router.get("/me", response={200: MeOut, **READ_ERRORS}, summary="The current user and their roles")
def me(request):
    user = request.auth
    return {"id": user.pk, "username": user.username, "display_name": user.display_name, "email": user.email,
            "is_blinded": user.is_blinded, "memberships": list(selectors.membership_list_own(user))}


@router.get("/memberships", response={200: MembershipListOut, **READ_ERRORS}, summary="List role memberships")
def membership_list(request, filters: Query[MembershipFilterIn]):
    qs = selectors.membership_list(request.auth, study_id=filters.study_id, user_id=filters.user_id,
                                   include_revoked=filters.include_revoked)
    return paginate(qs.select_related("user__person", "revoked_by"), limit=filters.limit, offset=filters.offset)


@router.post("/memberships", response={201: MembershipOut, **WRITE_ERRORS},
             summary="Grant a role on a study (optionally limited to sites) or portfolio-wide")
def membership_grant(request, payload: MembershipGrantIn):
    actor = request.auth
    study = resolve_ref("study_id", study_get, actor, payload.study_id)
    user = resolve_ref("user_id", selectors.user_get, actor, payload.user_id)
    sites = [resolve_ref("site_ids", site_get, actor, pk) for pk in dict.fromkeys(payload.site_ids)]
    membership = services.membership_grant(actor=actor, user=user, role=payload.role, study=study, sites=sites,
                                           reason=payload.reason)
    return Status(201, membership)


@router.get("/memberships/{membership_id}", response={200: MembershipOut, **READ_ERRORS},
            summary="Get a membership")
def membership_get(request, membership_id: PathId):
    return selectors.membership_get(request.auth, membership_id)


@router.post("/memberships/{membership_id}/revoke", response={200: MembershipOut, **WRITE_ERRORS},
             summary="Revoke a membership")
def membership_revoke(request, membership_id: PathId, payload: MembershipRevokeIn):
    membership = selectors.membership_get(request.auth, membership_id)
    return services.membership_revoke(actor=request.auth, membership=membership, reason=payload.reason,
                                      version=payload.version)


@router.get("/tokens", response={200: TokenListOut, **READ_ERRORS}, summary="Your API tokens")
def token_list(request, page: Query[PageQuery]):
    return paginate(selectors.api_token_list(request.auth), limit=page.limit, offset=page.offset)


@router.post("/tokens/{token_id}/revoke", response={200: TokenOut, **WRITE_ERRORS},
             summary="Revoke one of your API tokens")
def token_revoke(request, token_id: PathId, payload: TokenRevokeIn):
    token = selectors.api_token_get(request.auth, token_id)
    return services.api_token_revoke(actor=request.auth, token=token, reason=payload.reason)
