"""My work API: the logged-in user's work items across studies (every area's providers)."""

from django.utils import timezone
from ninja import Query, Router

from trialdesk.core.api_utils import MAX_LIMIT, READ_ERRORS
from trialdesk.workqueue import selectors
from trialdesk.workqueue.schemas import WorkFilterIn, WorkListOut

router = Router()


@router.get("", response={200: WorkListOut, **READ_ERRORS}, summary="My work: what is due for me")
def my_work(request, filters: Query[WorkFilterIn]):
    queue = selectors.work_items_for(request.auth, timezone.localdate())
    shown = queue.filtered(study_id=filters.study_id, kind=filters.kind, severity=filters.severity)
    limit = max(1, min(filters.limit, MAX_LIMIT))
    return {"as_of": queue.as_of, "count": shown.count, "total": queue.count,
            "counts": {"by_severity": shown.by_severity(), "by_kind": shown.by_kind(), "by_study": shown.by_study()},
            "notices": queue.notices, "items": shown.items[filters.offset: filters.offset + limit]}
