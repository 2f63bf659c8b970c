"""Site staff API (/api/v1/staff): the roster, the delegation log (propose, change, sign, end, withdraw) and
their exports (delegation log PDF/XLSX, roster XLSX)."""

from __future__ import annotations

from django.http import HttpResponse
from ninja import Query, Router, Status

from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, DeleteIn, PathId, paginate, resolve_ref
from trialdesk.organizations.selectors import person_get
from trialdesk.sites.selectors import site_get
from trialdesk.staff import exports, selectors, services
from trialdesk.staff.schemas import (
    DelegationCreateIn,
    DelegationEndIn,
    DelegationFilterIn,
    DelegationListOut,
    DelegationLogQuery,
    DelegationOut,
    DelegationSignIn,
    DelegationUpdateIn,
    DelegationWithdrawIn,
    StaffCreateIn,
    StaffFilterIn,
    StaffListOut,
    StaffOut,
    StaffUpdateIn,
)

router = Router()

_LOG_RESPONSE = {"responses": {200: {
    "description": "The site's delegation log: a landscape PDF in the usual site layout, or a workbook",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}},
                exports.XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
}}}
_ROSTER_RESPONSE = {"responses": {200: {
    "description": "The site's staff roster as a workbook",
    "content": {exports.XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
}}}


def _staff_input(user, payload) -> tuple[dict, str]:
    data = payload.dict(exclude_unset=True)
    for name in ("version", "site_id"):
        data.pop(name, None)
    reason = data.pop("reason", "") or ""
    if "person_id" in data:
        data["person"] = resolve_ref("person_id", person_get, user, data.pop("person_id"))
    return data, reason


# --- Roster ------------------------------------------------------------------------------------------------------

@router.get("/roster", response={200: StaffListOut, **READ_ERRORS}, summary="List site staff (roster entries)")
def staff_list(request, filters: Query[StaffFilterIn]):
    flt = selectors.StaffFilter(study_id=filters.study_id, site_id=filters.site_id, person_id=filters.person_id,
                                role=filters.role, current=filters.current, text=filters.q)
    return paginate(selectors.staff_list(request.auth, flt), limit=filters.limit, offset=filters.offset)


@router.post("/roster", response={201: StaffOut, **WRITE_ERRORS}, summary="Add a person to a site's staff roster")
def staff_create(request, payload: StaffCreateIn):
    site = resolve_ref("site_id", site_get, request.auth, payload.site_id)
    data, reason = _staff_input(request.auth, payload)
    staff = services.site_staff_create(user=request.auth, site=site, data=data, reason=reason)
    return Status(201, selectors.staff_get(request.auth, staff.pk))


@router.get("/roster/{staff_id}", response={200: StaffOut, **READ_ERRORS}, summary="Get a roster entry")
def staff_get(request, staff_id: PathId):
    return selectors.staff_get(request.auth, staff_id)


@router.patch("/roster/{staff_id}", response={200: StaffOut, **WRITE_ERRORS}, summary="Update a roster entry")
def staff_update(request, staff_id: PathId, payload: StaffUpdateIn):
    staff = selectors.staff_get(request.auth, staff_id)
    data, reason = _staff_input(request.auth, payload)
    services.site_staff_update(user=request.auth, staff=staff, data=data, version=payload.version, reason=reason)
    return selectors.staff_get(request.auth, staff_id)


@router.delete("/roster/{staff_id}", response={200: StaffOut, **WRITE_ERRORS},
               summary="Delete a roster entry made in error (soft)",
               description="Refused (409) when the entry has signed delegations: set its end date instead. Its "
                           "pending delegations are withdrawn.")
def staff_delete(request, staff_id: PathId, payload: DeleteIn):
    staff = selectors.staff_get(request.auth, staff_id)
    return services.site_staff_delete(user=request.auth, staff=staff, version=payload.version, reason=payload.reason)


@router.get("/sites/{site_id}/roster.xlsx", response={200: None, **READ_ERRORS}, openapi_extra=_ROSTER_RESPONSE,
            summary="Download a site's staff roster (XLSX)")
def roster_export(request, site_id: PathId):
    site = site_get(request.auth, site_id)
    return roster_response(request.auth, site)


def roster_response(user, site) -> HttpResponse:
    """The roster workbook as a download (shared with the web page)."""
    entries = selectors.staff_list(user, selectors.StaffFilter(site_id=site.pk))
    response = HttpResponse(exports.roster_xlsx(selectors.roster_rows(entries)),
                            content_type=exports.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_file_stem(site)}-site-staff.xlsx"'
    return response


# --- Delegation log --------------------------------------------------------------------------------------------

@router.get("/delegations", response={200: DelegationListOut, **READ_ERRORS}, summary="List delegation-log entries")
def delegation_list(request, filters: Query[DelegationFilterIn]):
    flt = selectors.DelegationFilter(study_id=filters.study_id, site_id=filters.site_id, staff_id=filters.staff_id,
                                     person_id=filters.person_id, task=filters.task, status=filters.status)
    return paginate(selectors.delegation_list(request.auth, flt), limit=filters.limit, offset=filters.offset)


@router.post("/delegations", response={201: DelegationOut, **WRITE_ERRORS},
             summary="Propose a delegation (pending until the site's principal investigator signs it)")
def delegation_create(request, payload: DelegationCreateIn):
    staff = resolve_ref("staff_id", selectors.staff_get, request.auth, payload.staff_id)
    data = payload.dict(exclude={"staff_id", "reason"})
    delegation = services.delegation_create(user=request.auth, staff=staff, data=data, reason=payload.reason)
    return Status(201, selectors.delegation_get(request.auth, delegation.pk))


@router.get("/delegations/{delegation_id}", response={200: DelegationOut, **READ_ERRORS},
            summary="Get a delegation-log entry (with its signature and what stops it being signed)")
def delegation_get(request, delegation_id: PathId):
    return selectors.delegation_get(request.auth, delegation_id)


@router.patch("/delegations/{delegation_id}", response={200: DelegationOut, **WRITE_ERRORS},
              summary="Change a delegation pending signature")
def delegation_update(request, delegation_id: PathId, payload: DelegationUpdateIn):
    delegation = selectors.delegation_get(request.auth, delegation_id)
    data = payload.dict(exclude_unset=True, exclude={"version", "reason"})
    services.delegation_update(user=request.auth, delegation=delegation, data=data, version=payload.version,
                               reason=payload.reason)
    return selectors.delegation_get(request.auth, delegation_id)


@router.post("/delegations/{delegation_id}/sign", response={200: DelegationOut, **WRITE_ERRORS},
             summary="Sign a delegation (the site's principal investigator, by electronic signature)",
             description="Re-enter your password. Refused (422), naming everything missing, unless the delegate's "
                         "protocol training for the study's current protocol version is complete and their GCP "
                         "certificate is recorded and valid. Only the site's principal investigator may sign (403). "
                         "A wrong password is refused (422) and recorded in the audit trail.")
def delegation_sign(request, delegation_id: PathId, payload: DelegationSignIn):
    delegation = selectors.delegation_get(request.auth, delegation_id)
    services.delegation_sign(user=request.auth, delegation=delegation, password=payload.password,
                             version=payload.version, comment=payload.comment)
    return selectors.delegation_get(request.auth, delegation_id)


@router.post("/delegations/{delegation_id}/end", response={200: DelegationOut, **WRITE_ERRORS},
             summary="End a signed delegation (the last day it covers)")
def delegation_end(request, delegation_id: PathId, payload: DelegationEndIn):
    delegation = selectors.delegation_get(request.auth, delegation_id)
    services.delegation_end(user=request.auth, delegation=delegation, ended_on=payload.ended_on,
                            version=payload.version, reason=payload.reason)
    return selectors.delegation_get(request.auth, delegation_id)


@router.post("/delegations/{delegation_id}/withdraw", response={200: DelegationOut, **WRITE_ERRORS},
             summary="Withdraw a delegation that was never signed")
def delegation_withdraw(request, delegation_id: PathId, payload: DelegationWithdrawIn):
    delegation = selectors.delegation_get(request.auth, delegation_id)
    services.delegation_withdraw(user=request.auth, delegation=delegation, version=payload.version,
                                 reason=payload.reason)
    return selectors.delegation_get(request.auth, delegation_id)


@router.get("/sites/{site_id}/delegation-log", response={200: None, **READ_ERRORS}, openapi_extra=_LOG_RESPONSE,
            summary="Download a site's delegation log (PDF or XLSX), with signatures")
def delegation_log_export(request, site_id: PathId, params: Query[DelegationLogQuery]):
    site = site_get(request.auth, site_id)
    return delegation_log_response(request.auth, site, params.format)


def delegation_log_response(user, site, fmt: str) -> HttpResponse:
    """The delegation log as a download (shared with the web page)."""
    log = selectors.delegation_log(user, site)
    if fmt == "xlsx":
        response = HttpResponse(exports.delegation_log_xlsx(log), content_type=exports.XLSX_CONTENT_TYPE)
    else:
        response = HttpResponse(exports.delegation_log_pdf(log), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_file_stem(site)}-delegation-log.{fmt}"'
    return response


def _file_stem(site) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{site.study.protocol_number}-site-"
                                                                     f"{site.site_number}")
    return safe.strip("-") or "site"
