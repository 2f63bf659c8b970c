"""Visits API: schedules of events per protocol version, subjects' visits, deviations, the calendar feed URL.

The iCalendar feed itself is not JSON: it is served at the URL that `GET /visits/feed` returns (and, for
signed-in users, at /studies/{id}/visits.ics), outside this API.
"""

from ninja import Query, Router, Status

from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, DeleteIn, PathId, paginate, resolve_ref
from trialdesk.studies.selectors import protocol_version_get
from trialdesk.visits import selectors, services
from trialdesk.visits.schemas import (
    DefinitionFilterIn,
    DeviationFilterIn,
    DeviationListOut,
    FeedOut,
    ScheduleCopyIn,
    SubjectVisitListOut,
    SubjectVisitOut,
    VisitDefinitionCreateIn,
    VisitDefinitionListOut,
    VisitDefinitionOut,
    VisitDefinitionUpdateIn,
    VisitFilterIn,
    VisitMissIn,
    VisitRecordIn,
)

router = Router()


def _split(payload, *drop: str) -> tuple[dict, str]:
    data = payload.dict(exclude_unset=True)
    for name in ("version", *drop):
        data.pop(name, None)
    return data, data.pop("reason", "") or ""


# --- Schedule of events -----------------------------------------------------------------------

@router.get("/definitions", response={200: VisitDefinitionListOut, **READ_ERRORS},
            summary="List the schedule of events of a protocol version")
def definition_list(request, filters: Query[DefinitionFilterIn]):
    pv = protocol_version_get(request.auth, filters.protocol_version_id)
    return paginate(selectors.visit_definition_list(request.auth, pv), limit=filters.limit, offset=filters.offset)


@router.post("/definitions", response={201: VisitDefinitionOut, **WRITE_ERRORS},
             summary="Add a visit to a draft protocol version's schedule",
             description="Only a draft version's schedule can change: an approved schedule is part of the "
                         "approved protocol (422 on `protocol_version`).")
def definition_create(request, payload: VisitDefinitionCreateIn):
    pv = resolve_ref("protocol_version_id", protocol_version_get, request.auth, payload.protocol_version_id)
    data, reason = _split(payload, "protocol_version_id")
    return Status(201, services.visit_definition_create(user=request.auth, protocol_version=pv, data=data,
                                                        reason=reason))


@router.post("/definitions/copy", response={201: VisitDefinitionListOut, **WRITE_ERRORS},
             summary="Copy a schedule of events into a draft protocol version of the same study")
def definitions_copy(request, payload: ScheduleCopyIn):
    source = resolve_ref("source_protocol_version_id", protocol_version_get, request.auth,
                         payload.source_protocol_version_id)
    target = resolve_ref("target_protocol_version_id", protocol_version_get, request.auth,
                         payload.target_protocol_version_id)
    copies = services.visit_definitions_copy(user=request.auth, source=source, target=target, reason=payload.reason)
    return Status(201, {"items": copies, "count": len(copies)})


@router.get("/definitions/{definition_id}", response={200: VisitDefinitionOut, **READ_ERRORS},
            summary="Get a visit definition")
def definition_get(request, definition_id: PathId):
    return selectors.visit_definition_get(request.auth, definition_id)


@router.patch("/definitions/{definition_id}", response={200: VisitDefinitionOut, **WRITE_ERRORS},
              summary="Update a visit of a draft protocol version's schedule")
def definition_update(request, definition_id: PathId, payload: VisitDefinitionUpdateIn):
    definition = selectors.visit_definition_get(request.auth, definition_id)
    data, reason = _split(payload)
    return services.visit_definition_update(user=request.auth, definition=definition, data=data,
                                            version=payload.version, reason=reason)


@router.delete("/definitions/{definition_id}", response={200: VisitDefinitionOut, **WRITE_ERRORS},
               summary="Remove a visit from a draft protocol version's schedule (soft delete)")
def definition_delete(request, definition_id: PathId, payload: DeleteIn):
    definition = selectors.visit_definition_get(request.auth, definition_id)
    return services.visit_definition_delete(user=request.auth, definition=definition, version=payload.version,
                                            reason=payload.reason)


# --- Subjects' visits -----------------------------------------------------------------------------

@router.get("/subject-visits", response={200: SubjectVisitListOut, **READ_ERRORS},
            summary="List subjects' visits (only those of sites you may see)")
def subject_visit_list(request, filters: Query[VisitFilterIn]):
    flt = selectors.VisitFilter(study_id=filters.study_id, site_id=filters.site_id, subject_id=filters.subject_id,
                                status=filters.status, modality=filters.modality, date_from=filters.date_from,
                                date_to=filters.date_to, out_of_window=filters.out_of_window)
    return paginate(selectors.subject_visit_list(request.auth, flt), limit=filters.limit, offset=filters.offset)


@router.get("/subject-visits/{visit_id}", response={200: SubjectVisitOut, **READ_ERRORS},
            summary="Get a subject's visit")
def subject_visit_get(request, visit_id: PathId):
    return selectors.subject_visit_get(request.auth, visit_id)


@router.post("/subject-visits/{visit_id}/record", response={200: SubjectVisitOut, **WRITE_ERRORS},
             summary="Record that a visit took place",
             description="The date may not be in the future; the visit is flagged out of window when the date "
                         "falls outside its window. Correcting a completed or missed visit needs a reason.")
def subject_visit_record(request, visit_id: PathId, payload: VisitRecordIn):
    visit = selectors.subject_visit_get(request.auth, visit_id)
    return services.subject_visit_record(user=request.auth, visit=visit, actual_on=payload.actual_on,
                                         modality=payload.modality, notes=payload.notes, version=payload.version,
                                         reason=payload.reason)


@router.post("/subject-visits/{visit_id}/mark-missed", response={200: SubjectVisitOut, **WRITE_ERRORS},
             summary="Mark a planned visit as missed")
def subject_visit_mark_missed(request, visit_id: PathId, payload: VisitMissIn):
    visit = selectors.subject_visit_get(request.auth, visit_id)
    return services.subject_visit_mark_missed(user=request.auth, visit=visit, version=payload.version,
                                              reason=payload.reason)


@router.get("/deviations", response={200: DeviationListOut, **READ_ERRORS},
            summary="Visit deviations: out-of-window visits and missed required visits")
def deviation_list(request, filters: Query[DeviationFilterIn]):
    qs = selectors.visit_deviations(request.auth, study_id=filters.study_id, site_id=filters.site_id)
    return paginate(qs, limit=filters.limit, offset=filters.offset)


@router.get("/feed", response={200: FeedOut, **READ_ERRORS}, summary="Your calendar feed URL (iCalendar)",
            description="A secret URL that calendar apps can subscribe to without signing in. It lists planned "
                        "visits of the sites you may see, with pseudonymised subject numbers only. It stops "
                        "working when your account is deactivated.")
def feed(request):
    from django.urls import reverse

    path = reverse("visits-feed", args=[selectors.feed_token(request.auth)])
    return {"url": request.build_absolute_uri(path), "note": selectors.FEED_NOTE}
