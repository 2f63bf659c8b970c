"""Subjects API (/api/v1/subjects): screening log, transitions, randomization, consent, consent forms,
re-consent requirements, settings, and the screening-log import (dry run and all-or-nothing commit).

Blinded users get `randomization.arm = null` (and `arm_blinded = true`) everywhere.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status

from trialdesk.accounts import permissions
from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, DeleteIn, PageQuery, PathId, paginate, resolve_ref
from trialdesk.core.errors import AccessDenied, NotFound, ValidationFailed
from trialdesk.organizations.selectors import person_get
from trialdesk.sites.selectors import site_get
from trialdesk.studies.selectors import arm_get, protocol_version_get, study_get
from trialdesk.subjects import importer, selectors, services
from trialdesk.subjects.schemas import (
    ConsentCreateIn,
    ConsentListOut,
    ConsentOut,
    IcfApproveIn,
    IcfCreateIn,
    IcfFilterIn,
    IcfUpdateIn,
    IcfVersionListOut,
    IcfVersionOut,
    ImportQuery,
    ImportReportOut,
    ReconsentFilterIn,
    ReconsentListOut,
    SettingsOut,
    SettingsUpdateIn,
    SubjectCreateIn,
    SubjectFilterIn,
    SubjectListOut,
    SubjectOut,
    SubjectRandomizeIn,
    SubjectTransitionIn,
    SubjectUpdateIn,
    TemplateQuery,
)

router = Router()

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_IMPORT_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "The screening log: CSV (UTF-8, comma or semicolon separated) or XLSX, "
                                           "laid out like the template"}},
    "required": ["file"],
}}}}}

_TEMPLATE_RESPONSE = {"responses": {200: {
    "description": "The import template (header row; the XLSX adds drop-down lists and an instructions sheet)",
    "content": {"text/csv": {"schema": {"type": "string"}}, XLSX: {"schema": {"type": "string", "format": "binary"}}},
}}}


def _subject(request, subject_id: int):
    return selectors.subject_get(request.auth, subject_id)


def _study_ref(request, study_id: int):
    return resolve_ref("study_id", study_get, request.auth, study_id)


# --- Consent forms ---------------------------------------------------------------------------------------------

def _icf_input(request, study, payload) -> tuple[dict, str]:
    data = payload.dict(exclude_unset=True)
    for name in ("version", "study_id"):
        data.pop(name, None)
    reason = data.pop("reason", "") or ""
    if "country" in data:
        data["country"] = (data["country"] or "").strip()
    if "site_id" in data:
        site_id = data.pop("site_id")
        data["site"] = resolve_ref("site_id", site_get, request.auth, site_id)
    if "protocol_version_id" in data:
        data["protocol_version"] = resolve_ref("protocol_version_id", protocol_version_get, request.auth,
                                               data.pop("protocol_version_id"))
    return data, reason


@router.get("/icf-versions", response={200: IcfVersionListOut, **READ_ERRORS},
            summary="List consent form (ICF) versions")
def icf_version_list(request, filters: Query[IcfFilterIn]):
    qs = selectors.icf_version_list(request.auth, study_id=filters.study_id, status=filters.status)
    return paginate(qs, limit=filters.limit, offset=filters.offset)


@router.post("/icf-versions", response={201: IcfVersionOut, **WRITE_ERRORS},
             summary="Add a consent form version (draft)")
def icf_version_create(request, payload: IcfCreateIn):
    study = _study_ref(request, payload.study_id)
    data, reason = _icf_input(request, study, payload)
    icf = services.icf_version_create(user=request.auth, study=study, data=data, reason=reason)
    return Status(201, selectors.icf_version_get(request.auth, icf.pk))


@router.get("/icf-versions/{icf_id}", response={200: IcfVersionOut, **READ_ERRORS},
            summary="Get a consent form version")
def icf_version_get(request, icf_id: PathId):
    return selectors.icf_version_get(request.auth, icf_id)


@router.patch("/icf-versions/{icf_id}", response={200: IcfVersionOut, **WRITE_ERRORS},
              summary="Update a draft consent form version")
def icf_version_update(request, icf_id: PathId, payload: IcfUpdateIn):
    icf = selectors.icf_version_get(request.auth, icf_id)
    data, reason = _icf_input(request, icf.study, payload)
    services.icf_version_update(user=request.auth, icf_version=icf, data=data, version=payload.version, reason=reason)
    return selectors.icf_version_get(request.auth, icf_id)


@router.post("/icf-versions/{icf_id}/approve", response={200: IcfVersionOut, **WRITE_ERRORS},
             summary="Approve a consent form version (IRB/IEC); lists subjects who must re-consent")
def icf_version_approve(request, icf_id: PathId, payload: IcfApproveIn):
    icf = selectors.icf_version_get(request.auth, icf_id)
    services.icf_version_approve(user=request.auth, icf_version=icf, version=payload.version, reason=payload.reason)
    return selectors.icf_version_get(request.auth, icf_id)


@router.get("/reconsents", response={200: ReconsentListOut, **READ_ERRORS},
            summary="Re-consent requirements (subjects who must re-consent to a new consent form)")
def reconsent_list(request, filters: Query[ReconsentFilterIn]):
    flt = selectors.ReconsentFilter(study_id=filters.study_id, site_id=filters.site_id,
                                    subject_id=filters.subject_id, icf_id=filters.icf_version_id,
                                    status=filters.status)
    return paginate(selectors.reconsent_list(request.auth, flt), limit=filters.limit, offset=filters.offset)


# --- Settings ------------------------------------------------------------------------------------------------

def _settings_out(settings) -> dict:
    return {"study_id": settings.study_id, "version": settings.version, "id_pattern": settings.id_pattern,
            "screen_fail_reasons": settings.screen_fail_reasons,
            "no_enrollment_alert_days": settings.no_enrollment_alert_days,
            "on_time_probability_threshold": settings.on_time_probability_threshold,
            "screen_fail_alert_ratio": settings.screen_fail_alert_ratio}


@router.get("/settings/{study_id}", response={200: SettingsOut, **READ_ERRORS},
            summary="A study's screening-log settings (subject number pattern, screen-failure reasons, alerts)")
def settings_get(request, study_id: PathId):
    study = study_get(request.auth, study_id)
    return _settings_out(selectors.subject_settings_get(request.auth, study))


@router.patch("/settings/{study_id}", response={200: SettingsOut, **WRITE_ERRORS},
              summary="Change a study's screening-log settings (study.edit)")
def settings_update(request, study_id: PathId, payload: SettingsUpdateIn):
    study = study_get(request.auth, study_id)
    data = payload.dict(exclude_unset=True)
    data.pop("version", None)
    reason = data.pop("reason", "") or ""
    data = {k: v for k, v in data.items() if v is not None}
    settings = services.subject_settings_update(user=request.auth, study=study, data=data, version=payload.version,
                                                reason=reason)
    return _settings_out(settings)


# --- Import ------------------------------------------------------------------------------------------------

def _upload(request: HttpRequest) -> tuple[str, bytes]:
    if (request.content_type or "") != "multipart/form-data":
        raise ValidationFailed.field("file", "Send the file as multipart/form-data in the field 'file'.")
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationFailed.field("file", "No file was uploaded; send it in the multipart field 'file'.")
    if upload.size > importer.MAX_BYTES:
        raise ValidationFailed.field("file", f"The file is larger than {importer.MAX_BYTES // (1024 * 1024)} MB.")
    return upload.name or "upload", upload.read()


@router.post("/import", response={200: ImportReportOut, 201: ImportReportOut, **WRITE_ERRORS},
             summary="Import a screening log (CSV or XLSX); dry_run=true only checks",
             description=(
                 "Upload a screening log laid out like the template (GET /subjects/import/template). With "
                 "`dry_run=true` every problem is reported by row and column (200) and nothing is written. "
                 "Without it the file is imported all or nothing: any problem is a 422 listing every problem "
                 "(keys `row N: column`), otherwise all subjects are created (201). Needs subject.import."),
             openapi_extra=_IMPORT_BODY)
def screening_log_import(request, params: Query[ImportQuery]):
    study = study_get(request.auth, params.study_id)
    # Checked before the upload is read, so a user without the right gets 403 whatever they send.
    if not permissions.has_perm(request.auth, "subject.import", study):
        raise AccessDenied("You do not have permission to import subjects (subject.import).")
    filename, content = _upload(request)
    report = services.screening_log_import(user=request.auth, study=study, content=content, filename=filename,
                                           dry_run=params.dry_run)
    return Status(200 if params.dry_run else 201, report)


@router.get("/import/template", response={200: None, **READ_ERRORS}, openapi_extra=_TEMPLATE_RESPONSE,
            summary="Download the screening-log import template (CSV or XLSX)")
def import_template(request, params: Query[TemplateQuery]):
    study = study_get(request.auth, params.study_id)
    if not permissions.has_perm(request.auth, "subject.import", study):
        raise AccessDenied("You do not have permission to import subjects (subject.import).")
    return template_response(study, selectors.subject_settings_get(request.auth, study), params.format)


def template_response(study, settings, fmt: str) -> HttpResponse:
    """The template as a download (shared with the web page)."""
    name = f"screening-log-template-{study.protocol_number}"
    if fmt == "csv":
        response = HttpResponse(importer.template_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    else:
        response = HttpResponse(importer.template_xlsx(study, settings), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


# --- Subjects ------------------------------------------------------------------------------------------------

@router.get("", response={200: SubjectListOut, **READ_ERRORS}, summary="List subjects (screening log)")
def subject_list(request, filters: Query[SubjectFilterIn]):
    flt = selectors.SubjectFilter(study_id=filters.study_id, site_id=filters.site_id, status=filters.status,
                                  since=filters.since, until=filters.until, text=filters.q)
    page = selectors.subject_page(request.auth, flt, cursor=filters.cursor, limit=filters.limit,
                                  offset=filters.offset)
    return {"items": page.items, "count": page.count, "next_cursor": page.next_cursor,
            "previous_cursor": page.previous_cursor}


@router.post("", response={201: SubjectOut, **WRITE_ERRORS},
             summary="Add a subject to a site's screening log (number generated unless given)")
def subject_create(request, payload: SubjectCreateIn):
    site = resolve_ref("site_id", site_get, request.auth, payload.site_id)
    subject = services.subject_create(user=request.auth, site=site, status=payload.status, on=payload.on,
                                      subject_number=payload.subject_number, reason=payload.reason)
    return Status(201, selectors.subject_get(request.auth, subject.pk))


@router.get("/{subject_id}", response={200: SubjectOut, **READ_ERRORS}, summary="Get a subject")
def subject_get(request, subject_id: PathId):
    return _subject(request, subject_id)


@router.patch("/{subject_id}", response={200: SubjectOut, **WRITE_ERRORS},
              summary="Record or correct a subject's first dose date")
def subject_update(request, subject_id: PathId, payload: SubjectUpdateIn):
    subject = _subject(request, subject_id)
    services.subject_first_dose_record(user=request.auth, subject=subject, first_dose_on=payload.first_dose_on,
                                       version=payload.version, reason=payload.reason)
    return _subject(request, subject_id)


@router.delete("/{subject_id}", response={200: SubjectOut, **WRITE_ERRORS},
               summary="Delete a subject (soft; the number is never reused)")
def subject_delete(request, subject_id: PathId, payload: DeleteIn):
    subject = _subject(request, subject_id)
    return services.subject_delete(user=request.auth, subject=subject, version=payload.version,
                                   reason=payload.reason)


@router.post("/{subject_id}/transition", response={200: SubjectOut, **WRITE_ERRORS},
             summary="Record a status change (screened, screen failed, enrolled, active, completed, withdrawn...)")
def subject_transition(request, subject_id: PathId, payload: SubjectTransitionIn):
    subject = _subject(request, subject_id)
    person = resolve_ref("eligibility_confirmed_by_id", person_get, request.auth,
                         payload.eligibility_confirmed_by_id)
    services.subject_transition(
        user=request.auth, subject=subject, status=payload.status, on=payload.on, version=payload.version,
        reason=payload.reason, screen_fail_reason_code=payload.screen_fail_reason_code,
        screen_fail_reason_text=payload.screen_fail_reason_text, withdrawal_reason=payload.withdrawal_reason or "",
        withdrawal_text=payload.withdrawal_text, eligibility_confirmed_by=person)
    return _subject(request, subject_id)


@router.post("/{subject_id}/randomize", response={201: SubjectOut, **WRITE_ERRORS},
             summary="Record the randomization (arm, stratum, date, IRT/EDC reference); status becomes Randomized")
def subject_randomize(request, subject_id: PathId, payload: SubjectRandomizeIn):
    subject = _subject(request, subject_id)
    try:
        arm = arm_get(request.auth, payload.arm_id)
    except NotFound:
        raise ValidationFailed.field("arm_id", f"Arm not found (id {payload.arm_id}).") from None
    services.subject_randomize(user=request.auth, subject=subject, arm=arm, version=payload.version,
                               randomized_on=payload.randomized_on, stratum=payload.stratum,
                               irt_reference=payload.irt_reference, reason=payload.reason)
    return Status(201, _subject(request, subject_id))


@router.get("/{subject_id}/consents", response={200: ConsentListOut, **READ_ERRORS},
            summary="A subject's consent and re-consent events")
def consent_list(request, subject_id: PathId, filters: Query[PageQuery]):
    subject = _subject(request, subject_id)
    return paginate(selectors.consent_list(request.auth, subject), limit=filters.limit, offset=filters.offset)


@router.post("/{subject_id}/consents", response={201: ConsentOut, **WRITE_ERRORS},
             summary="Record a consent or re-consent (the person must be delegated for consent at the site)")
def consent_create(request, subject_id: PathId, payload: ConsentCreateIn):
    subject = _subject(request, subject_id)
    try:
        icf = selectors.icf_version_get(request.auth, payload.icf_version_id)
    except NotFound:
        raise ValidationFailed.field("icf_version_id", f"Consent form version not found "
                                                       f"(id {payload.icf_version_id}).") from None
    person = resolve_ref("obtained_by_id", person_get, request.auth, payload.obtained_by_id)
    event = services.consent_record(user=request.auth, subject=subject, icf_version=icf,
                                    consented_on=payload.consented_on, method=payload.method, obtained_by=person,
                                    reason=payload.reason)
    return Status(201, event)
