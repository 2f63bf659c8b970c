"""Studies API: studies, their lifecycle, arms, interventions and protocol versions (with e-signature approval)."""

from ninja import Query, Router, Status

from trialdesk.accounts import permissions
from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, DeleteIn, PageQuery, PathId, paginate, resolve_ref
from trialdesk.core.errors import NotFound
from trialdesk.organizations.selectors import organization_get
from trialdesk.signatures.selectors import signatures_prefetch
from trialdesk.studies import selectors, services
from trialdesk.studies.schemas import (
    ArmCreateIn,
    ArmListOut,
    ArmOut,
    ArmUpdateIn,
    InterventionCreateIn,
    InterventionListOut,
    InterventionOut,
    InterventionUpdateIn,
    PortfolioFilterIn,
    PortfolioOut,
    ProtocolApproveIn,
    ProtocolVersionCreateIn,
    ProtocolVersionListOut,
    ProtocolVersionOut,
    ProtocolVersionUpdateIn,
    StudyCreateIn,
    StudyFilterIn,
    StudyListOut,
    StudyOut,
    StudyTransitionIn,
    StudyUpdateIn,
)

router = Router()


def _study_input(user, payload) -> tuple[dict, list | None, str]:
    """Split a study payload into model data (ids resolved to records), collaborators and reason."""
    data = payload.dict(exclude_unset=True)
    data.pop("version", None)
    reason = data.pop("reason", "") or ""
    if "sponsor_id" in data:
        data["sponsor"] = resolve_ref("sponsor_id", organization_get, user, data.pop("sponsor_id"))
    collaborators = None
    if "collaborator_ids" in data:
        collaborators = [resolve_ref("collaborator_ids", organization_get, user, pk)
                         for pk in dict.fromkeys(data.pop("collaborator_ids") or [])]
    return data, collaborators, reason


def _split(payload) -> tuple[dict, str]:
    data = payload.dict(exclude_unset=True)
    data.pop("version", None)
    return data, data.pop("reason", "") or ""


# --- Studies --------------------------------------------------------------------------

@router.get("", response={200: StudyListOut, **READ_ERRORS}, summary="List studies")
def study_list(request, filters: Query[StudyFilterIn]):
    flt = selectors.StudyFilter(status=filters.status, phase=filters.phase, nct_id=filters.nct_id, text=filters.q)
    return paginate(selectors.study_list(request.auth, flt), limit=filters.limit, offset=filters.offset)


@router.get("/portfolio", response={200: PortfolioOut, **READ_ERRORS},
            summary="Portfolio: every study with enrollment actual vs target, sites by status, next milestone and "
                    "health flags")
def portfolio(request, filters: Query[PortfolioFilterIn]):
    flt = selectors.StudyFilter(status=filters.status, phase=filters.phase, text=filters.q)
    rows = selectors.portfolio(request.auth, flt)
    return {"items": rows[filters.offset: filters.offset + filters.limit], "count": len(rows),
            "totals": selectors.portfolio_totals(rows)}


@router.post("", response={201: StudyOut, **WRITE_ERRORS}, summary="Create a study (status Planning)")
def study_create(request, payload: StudyCreateIn):
    data, collaborators, reason = _study_input(request.auth, payload)
    study = services.study_create(user=request.auth, data=data, collaborators=collaborators, reason=reason)
    return Status(201, study)


@router.get("/{study_id}", response={200: StudyOut, **READ_ERRORS}, summary="Get a study")
def study_get(request, study_id: PathId):
    return selectors.study_get(request.auth, study_id)


@router.patch("/{study_id}", response={200: StudyOut, **WRITE_ERRORS}, summary="Update a study")
def study_update(request, study_id: PathId, payload: StudyUpdateIn):
    study = selectors.study_get(request.auth, study_id)
    data, collaborators, reason = _study_input(request.auth, payload)
    return services.study_update(user=request.auth, study=study, data=data, version=payload.version,
                                 reason=reason, collaborators=collaborators)


@router.delete("/{study_id}", response={200: StudyOut, **WRITE_ERRORS}, summary="Delete a study (soft)")
def study_delete(request, study_id: PathId, payload: DeleteIn):
    study = selectors.study_get(request.auth, study_id)
    return services.study_delete(user=request.auth, study=study, version=payload.version, reason=payload.reason)


@router.post("/{study_id}/transition", response={200: StudyOut, **WRITE_ERRORS},
             summary="Change a study's status")
def study_transition(request, study_id: PathId, payload: StudyTransitionIn):
    study = selectors.study_get(request.auth, study_id)
    return services.study_transition(user=request.auth, study=study, status=payload.status,
                                     version=payload.version, reason=payload.reason)


# --- Protocol versions --------------------------------------------------------------------

@router.get("/{study_id}/protocol-versions", response={200: ProtocolVersionListOut, **READ_ERRORS},
            summary="List a study's protocol versions")
def protocol_version_list(request, study_id: PathId, page: Query[PageQuery]):
    study = selectors.study_detail(request.auth, study_id)
    if not permissions.has_perm(request.auth, "protocol.view", study):
        raise NotFound("Study not found.")
    result = paginate(study.protocol_versions.all(), limit=page.limit, offset=page.offset)
    signatures_prefetch(result["items"])
    return result


@router.post("/{study_id}/protocol-versions", response={201: ProtocolVersionOut, **WRITE_ERRORS},
             summary="Add a draft protocol version")
def protocol_version_create(request, study_id: PathId, payload: ProtocolVersionCreateIn):
    study = selectors.study_get(request.auth, study_id)
    data, reason = _split(payload)
    return Status(201, services.protocol_version_create(user=request.auth, study=study, data=data, reason=reason))


@router.get("/protocol-versions/{pv_id}", response={200: ProtocolVersionOut, **READ_ERRORS},
            summary="Get a protocol version with its signatures")
def protocol_version_get(request, pv_id: PathId):
    return selectors.protocol_version_get(request.auth, pv_id)


@router.patch("/protocol-versions/{pv_id}", response={200: ProtocolVersionOut, **WRITE_ERRORS},
              summary="Update a protocol version (an approved one returns to draft)")
def protocol_version_update(request, pv_id: PathId, payload: ProtocolVersionUpdateIn):
    pv = selectors.protocol_version_get(request.auth, pv_id)
    data, reason = _split(payload)
    return services.protocol_version_update(user=request.auth, protocol_version=pv, data=data,
                                            version=payload.version, reason=reason)


@router.delete("/protocol-versions/{pv_id}", response={200: ProtocolVersionOut, **WRITE_ERRORS},
               summary="Delete a draft protocol version (soft)")
def protocol_version_delete(request, pv_id: PathId, payload: DeleteIn):
    pv = selectors.protocol_version_get(request.auth, pv_id)
    return services.protocol_version_delete(user=request.auth, protocol_version=pv, version=payload.version,
                                            reason=payload.reason)


@router.post("/protocol-versions/{pv_id}/approve", response={200: ProtocolVersionOut, **WRITE_ERRORS},
             summary="Approve a draft protocol version by electronic signature",
             description="Re-enter your password. A wrong password is refused (422) and recorded in the audit "
                         "trail. The previously approved version becomes superseded.")
def protocol_version_approve(request, pv_id: PathId, payload: ProtocolApproveIn):
    pv = selectors.protocol_version_get(request.auth, pv_id)
    return services.protocol_version_approve(user=request.auth, protocol_version=pv, password=payload.password,
                                             version=payload.version, comment=payload.comment)


# --- Arms ----------------------------------------------------------------------------------

@router.get("/{study_id}/arms", response={200: ArmListOut, **READ_ERRORS}, summary="List a study's arms")
def arm_list(request, study_id: PathId, page: Query[PageQuery]):
    study = selectors.study_detail(request.auth, study_id)
    return paginate(study.arms.all(), limit=page.limit, offset=page.offset)


@router.post("/{study_id}/arms", response={201: ArmOut, **WRITE_ERRORS}, summary="Add an arm")
def arm_create(request, study_id: PathId, payload: ArmCreateIn):
    study = selectors.study_get(request.auth, study_id)
    data, reason = _split(payload)
    return Status(201, services.arm_create(user=request.auth, study=study, data=data, reason=reason))


@router.get("/arms/{arm_id}", response={200: ArmOut, **READ_ERRORS}, summary="Get an arm")
def arm_get(request, arm_id: PathId):
    return selectors.arm_get(request.auth, arm_id)


@router.patch("/arms/{arm_id}", response={200: ArmOut, **WRITE_ERRORS}, summary="Update an arm")
def arm_update(request, arm_id: PathId, payload: ArmUpdateIn):
    arm = selectors.arm_get(request.auth, arm_id)
    data, reason = _split(payload)
    return services.arm_update(user=request.auth, arm=arm, data=data, version=payload.version, reason=reason)


@router.delete("/arms/{arm_id}", response={200: ArmOut, **WRITE_ERRORS}, summary="Delete an arm (soft)")
def arm_delete(request, arm_id: PathId, payload: DeleteIn):
    arm = selectors.arm_get(request.auth, arm_id)
    return services.arm_delete(user=request.auth, arm=arm, version=payload.version, reason=payload.reason)


# --- Interventions -----------------------------------------------------------------------------

@router.get("/{study_id}/interventions", response={200: InterventionListOut, **READ_ERRORS},
            summary="List a study's interventions")
def intervention_list(request, study_id: PathId, page: Query[PageQuery]):
    study = selectors.study_detail(request.auth, study_id)
    return paginate(study.interventions.all(), limit=page.limit, offset=page.offset)


@router.post("/{study_id}/interventions", response={201: InterventionOut, **WRITE_ERRORS},
             summary="Add an intervention")
def intervention_create(request, study_id: PathId, payload: InterventionCreateIn):
    study = selectors.study_get(request.auth, study_id)
    data, reason = _split(payload)
    arm_ids = data.pop("arm_ids", None)
    return Status(201, services.intervention_create(user=request.auth, study=study, data=data,
                                                    arm_ids=list(dict.fromkeys(arm_ids)) if arm_ids else None,
                                                    reason=reason))


@router.get("/interventions/{intervention_id}", response={200: InterventionOut, **READ_ERRORS},
            summary="Get an intervention")
def intervention_get(request, intervention_id: PathId):
    return selectors.intervention_get(request.auth, intervention_id)


@router.patch("/interventions/{intervention_id}", response={200: InterventionOut, **WRITE_ERRORS},
              summary="Update an intervention")
def intervention_update(request, intervention_id: PathId, payload: InterventionUpdateIn):
    item = selectors.intervention_get(request.auth, intervention_id)
    data, reason = _split(payload)
    arm_ids = data.pop("arm_ids", None)
    return services.intervention_update(user=request.auth, intervention=item, data=data, version=payload.version,
                                        reason=reason,
                                        arm_ids=list(dict.fromkeys(arm_ids)) if arm_ids is not None else None)


@router.delete("/interventions/{intervention_id}", response={200: InterventionOut, **WRITE_ERRORS},
               summary="Delete an intervention (soft)")
def intervention_delete(request, intervention_id: PathId, payload: DeleteIn):
    item = selectors.intervention_get(request.auth, intervention_id)
    return services.intervention_delete(user=request.auth, intervention=item, version=payload.version,
                                        reason=payload.reason)
