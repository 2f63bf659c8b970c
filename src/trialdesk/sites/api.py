"""Study sites API: list, create, update, status transitions, soft delete."""

from ninja import Query, Router, Status

from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, DeleteIn, PathId, paginate, resolve_ref
from trialdesk.organizations.selectors import organization_get, person_get
from trialdesk.sites import selectors, services
from trialdesk.sites.schemas import SiteCreateIn, SiteFilterIn, SiteListOut, SiteOut, SiteTransitionIn, SiteUpdateIn
from trialdesk.studies.selectors import study_get

router = Router()


def _site_input(user, payload) -> tuple[dict, str]:
    """Model data from a site payload, with institution/PI ids resolved (unknown id: 422 on that field)."""
    data = payload.dict(exclude_unset=True)
    for name in ("version", "study_id"):
        data.pop(name, None)
    reason = data.pop("reason", "") or ""
    if "institution_id" in data:
        data["institution"] = resolve_ref("institution_id", organization_get, user, data.pop("institution_id"))
    if "principal_investigator_id" in data:
        data["principal_investigator"] = resolve_ref("principal_investigator_id", person_get, user,
                                                     data.pop("principal_investigator_id"))
    return data, reason


@router.get("", response={200: SiteListOut, **READ_ERRORS}, summary="List study sites")
def site_list(request, filters: Query[SiteFilterIn]):
    flt = selectors.SiteFilter(study_id=filters.study_id, status=filters.status, country=filters.country,
                               text=filters.q)
    return paginate(selectors.site_list(request.auth, flt), limit=filters.limit, offset=filters.offset)


@router.post("", response={201: SiteOut, **WRITE_ERRORS}, summary="Add a site to a study (status Candidate)")
def site_create(request, payload: SiteCreateIn):
    study = resolve_ref("study_id", study_get, request.auth, payload.study_id)
    data, reason = _site_input(request.auth, payload)
    return Status(201, services.site_create(user=request.auth, study=study, data=data, reason=reason))


@router.get("/{site_id}", response={200: SiteOut, **READ_ERRORS}, summary="Get a site")
def site_get(request, site_id: PathId):
    return selectors.site_get(request.auth, site_id)


@router.patch("/{site_id}", response={200: SiteOut, **WRITE_ERRORS}, summary="Update a site")
def site_update(request, site_id: PathId, payload: SiteUpdateIn):
    site = selectors.site_get(request.auth, site_id)
    data, reason = _site_input(request.auth, payload)
    return services.site_update(user=request.auth, site=site, data=data, version=payload.version, reason=reason)


@router.delete("/{site_id}", response={200: SiteOut, **WRITE_ERRORS}, summary="Delete a site (soft)")
def site_delete(request, site_id: PathId, payload: DeleteIn):
    site = selectors.site_get(request.auth, site_id)
    return services.site_delete(user=request.auth, site=site, version=payload.version, reason=payload.reason)


@router.post("/{site_id}/transition", response={200: SiteOut, **WRITE_ERRORS}, summary="Change a site's status")
def site_transition(request, site_id: PathId, payload: SiteTransitionIn):
    site = selectors.site_get(request.auth, site_id)
    return services.site_transition(user=request.auth, site=site, status=payload.status, version=payload.version,
                                    reason=payload.reason)
