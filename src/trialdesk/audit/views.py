"""Audit trail pages: a record's history, a study's history, CSV export.

`audit_panel` + `render_audit` are shared by every record page's "Audit trail" tab (sites, organizations,
people): the caller passes the selector call, which decides access.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from trialdesk.audit import selectors
from trialdesk.audit.forms import AuditFilterForm
from trialdesk.audit.selectors import AuditFilter
from trialdesk.audit.services import audit_export_record
from trialdesk.core.errors import AccessDenied, NotFound
from trialdesk.core.views_utils import paginate, render_list, web_view
from trialdesk.studies.selectors import study_get
from trialdesk.studies.views import study_page_context

TARGET = "audit-history"


def audit_panel(request, fetch: Callable[[AuditFilter], object], *, export_url: str | None,
                show_record: bool = False, actors: Callable[[], list] | None = None) -> dict:
    """Context for audit/_history.html. fetch(flt) is the audit selector call (it raises NotFound/AccessDenied);
    actors() the users to offer in the filter (default: every distinct user of the unfiltered history)."""
    everything = fetch(AuditFilter())
    if actors is None:
        offered = list(everything.order_by("actor_username").values_list("actor_username", "actor_name").distinct())
    else:
        offered = actors()
    form = AuditFilterForm(request.GET, actors=offered)
    events = fetch(form.audit_filter())
    page = paginate(request, events)
    page.object_list = selectors.redact_events(request.user, list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    if export_url and query:
        export_url = f"{export_url}?{query.urlencode()}"
    return {"audit": {"form": form, "page": page, "events": page.object_list, "export_url": export_url,
                      "show_record": show_record, "target": TARGET, "filtered": form.active,
                      "action_url": request.path}}


def render_audit(request, template: str, context: dict):
    """The whole page, or only the history table when htmx asks for it (filters, paging)."""
    return render_list(request, target=TARGET, partial="audit/_history.html", full=template, context=context)


def csv_response(events, filename: str, user=None) -> StreamingHttpResponse:
    response = StreamingHttpResponse(selectors.audit_csv(events.order_by("seq"), user), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _allowed(check: Callable[[], object]) -> bool:
    try:
        check()
    except (NotFound, AccessDenied):
        return False
    return True


@require_GET
@web_view
def record_history(request, record_type: str, record_id: str):
    user = request.user

    def fetch(flt):
        return selectors.audit_record_history(user, record_type, record_id, flt)

    can_export = _allowed(lambda: selectors.audit_record_history(user, record_type, record_id,
                                                                 perm="audit.export"))
    context = audit_panel(request, fetch, export_url=reverse("audit-record-export", args=[record_type, record_id])
                          if can_export else None)
    latest = fetch(AuditFilter()).only("record_label").first()
    context.update({"record_type": record_type, "record_id": record_id,
                    "record_label": latest.record_label if latest else f"{record_type} {record_id}"})
    return render_audit(request, "audit/record_history.html", context)


@require_GET
@web_view
def record_history_export(request, record_type: str, record_id: str):
    form = AuditFilterForm(request.GET)
    events = selectors.audit_record_history(request.user, record_type, record_id, form.audit_filter(),
                                            perm="audit.export")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    filename = f"audit-{record_type}-{record_id}-{stamp}.csv"
    audit_export_record(user=request.user, record_type=record_type, record_id=record_id, study_id=None,
                        filename=filename, filters=request.GET.dict())
    return csv_response(events, filename, request.user)


@require_GET
@web_view
def study_history(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    context = study_page_context(request, study, "audit")
    export_url = reverse("study-audit-export", args=[study.pk]) if context["can"]["audit_export_study"] else None
    context.update(audit_panel(request, lambda flt: selectors.audit_study_history(user, study, flt),
                               export_url=export_url, show_record=True,
                               actors=lambda: selectors.study_actors(study.pk)))
    return render_audit(request, "audit/study_history.html", context)


@require_GET
@web_view
def study_history_export(request, study_id: int):
    study = study_get(request.user, study_id)
    form = AuditFilterForm(request.GET)
    events = selectors.audit_study_history(request.user, study, form.audit_filter(), perm="audit.export")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    filename = f"audit-study-{study.protocol_number}-{stamp}.csv"
    audit_export_record(user=request.user, record_type="studies.study", record_id=str(study.pk), study_id=study.pk,
                        filename=filename, filters=request.GET.dict())
    return csv_response(events, filename, request.user)
