"""The "My work" page: the logged-in user's work items, grouped by severity and study, with filters."""

from __future__ import annotations

from django.utils import timezone
from django.views.decorators.http import require_GET

from trialdesk.core.views_utils import render_list, web_view
from trialdesk.workqueue import selectors
from trialdesk.workqueue.forms import WorkFilterForm
from trialdesk.workqueue.items import SEVERITIES


@require_GET
@web_view
def my_work(request):
    queue = selectors.work_items_for(request.user, timezone.localdate())
    form = WorkFilterForm(request.GET, queue=queue)
    form.is_valid()  # an unknown study or kind (e.g. nothing left of it) is dropped, the rest still applies
    values = getattr(form, "cleaned_data", {})
    shown = queue.filtered(study_id=values.get("study"), kind=values.get("kind") or None,
                           severity=values.get("severity") or None)
    counts = queue.by_severity()
    context = {"nav": "my-work", "queue": queue, "shown": shown, "groups": shown.grouped(), "filter_form": form,
               "filtered": any(values.get(k) for k in ("study", "kind", "severity")),
               "stats": [(s, selectors.SEVERITY_LABELS[s], counts[s]) for s in SEVERITIES]}
    return render_list(request, target="work-results", partial="workqueue/_work_results.html",
                       full="workqueue/my_work.html", context=context)
