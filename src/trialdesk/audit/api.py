"""Audit trail API: per-record and per-study history, CSV export, hash-chain verification."""

from typing import Annotated

from django.http import StreamingHttpResponse
from django.utils import timezone
from ninja import Path, Query, Router

from trialdesk.accounts import permissions
from trialdesk.audit import selectors
from trialdesk.audit.schemas import AuditExportFilterIn, AuditFilterIn, AuditListOut, AuditVerifyOut
from trialdesk.audit.services import audit_export_record
from trialdesk.core.api_utils import READ_ERRORS, PathId, paginate
from trialdesk.core.errors import AccessDenied, NotFound
from trialdesk.studies.selectors import study_get

router = Router()

RecordType = Annotated[str, Path(max_length=100, pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$",
                                  description='app_label.model, e.g. "studies.study", "sites.studysite"')]
RecordId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

# The CSV exports are documented as text/csv (ninja documents JSON bodies only, so the 200 is added here).
CSV_RESPONSE = {"responses": {200: {"description": "CSV, one row per changed field",
                                   "content": {"text/csv": {"schema": {"type": "string"}}}}}}


def _filter(filters: AuditExportFilterIn) -> selectors.AuditFilter:
    return selectors.AuditFilter(actor=filters.actor, action=filters.action, since=filters.since,
                                 until=filters.until, text=filters.q)


def _csv(request, qs, filters: AuditExportFilterIn, *, record_type: str, record_id: str, study_id: int | None,
         name: str) -> StreamingHttpResponse:
    """Stream the CSV; the export is itself audited (who took a copy of what), as in the web UI."""
    filename = f"{name}-{timezone.now():%Y%m%dT%H%M%SZ}.csv"
    audit_export_record(user=request.auth, record_type=record_type, record_id=record_id, study_id=study_id,
                        filename=filename, filters=filters.dict(exclude_none=True))
    response = StreamingHttpResponse(selectors.audit_csv(qs, request.auth), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.get("/records/{record_type}/{record_id}", response={200: AuditListOut, **READ_ERRORS},
            summary="Audit history of one record, newest first")
def record_history(request, record_type: RecordType, record_id: RecordId, filters: Query[AuditFilterIn]):
    qs = selectors.audit_record_history(request.auth, record_type, record_id, _filter(filters))
    page = paginate(qs, limit=filters.limit, offset=filters.offset)
    selectors.redact_events(request.auth, page["items"])
    return page


@router.get("/records/{record_type}/{record_id}/export.csv", response={200: None, **READ_ERRORS},
            openapi_extra=CSV_RESPONSE, summary="Export one record's audit history as CSV (audit.export)")
def record_history_csv(request, record_type: RecordType, record_id: RecordId, filters: Query[AuditExportFilterIn]):
    # Readable but not exportable is a 403; not readable at all stays a 404 (no existence leak).
    selectors.audit_record_history(request.auth, record_type, record_id)
    try:
        qs = selectors.audit_record_history(request.auth, record_type, record_id, _filter(filters),
                                            perm="audit.export")
    except NotFound:
        raise AccessDenied("You do not have permission to export the audit trail (audit.export).") from None
    return _csv(request, qs, filters, record_type=record_type, record_id=record_id, study_id=None,
                name=f"audit-{record_type}-{record_id}")


@router.get("/studies/{study_id}", response={200: AuditListOut, **READ_ERRORS},
            summary="Audit history of a whole study, newest first")
def study_history(request, study_id: PathId, filters: Query[AuditFilterIn]):
    study = study_get(request.auth, study_id)
    qs = selectors.audit_study_history(request.auth, study, _filter(filters))
    page = paginate(qs, limit=filters.limit, offset=filters.offset)
    selectors.redact_events(request.auth, page["items"])
    return page


@router.get("/studies/{study_id}/export.csv", response={200: None, **READ_ERRORS},
            openapi_extra=CSV_RESPONSE, summary="Export a study's audit history as CSV (audit.export)")
def study_history_csv(request, study_id: PathId, filters: Query[AuditExportFilterIn]):
    study = study_get(request.auth, study_id)
    qs = selectors.audit_study_history(request.auth, study, _filter(filters), perm="audit.export")
    return _csv(request, qs, filters, record_type="studies.study", record_id=str(study.pk), study_id=study.pk,
                name=f"audit-study-{study.pk}")


@router.get("/verify", response={200: AuditVerifyOut, **READ_ERRORS},
            summary="Recompute the audit hash chain (portfolio-wide audit.view)")
def verify(request):
    if not permissions.is_portfolio_wide(request.auth, "audit.view"):
        raise AccessDenied("Verifying the whole audit trail needs portfolio-wide audit access.")
    checked, failure = selectors.audit_chain_verify()
    return {"checked": checked, "ok": failure is None,
            "failure": None if failure is None else {"seq": failure.seq, "event_id": failure.event_id,
                                                     "problem": failure.problem}}
