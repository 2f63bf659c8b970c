"""The demo portfolio shows feasibility and start-up in progress (demo/startup_demo.py), consistent with the sites'
own dates and with the order the template enforces."""

from __future__ import annotations

from django.utils import timezone

from trialdesk.audit.selectors import audit_chain_verify
from trialdesk.demo.startup_demo import FEASIBILITY_STUDY, STARTUP_STUDY
from trialdesk.startup import plan, selectors
from trialdesk.startup.work import work_items
from trialdesk.studies.models import Study


def check_startup_demo(loaded):
    """Called by test_load_demo's main test on its loaded portfolio (one load instead of two: each costs a minute
    or more, twice that on PostgreSQL)."""
    today = timezone.localdate()
    cpm = loaded.users["cpm"]
    calmwave = Study.objects.get(protocol_number=STARTUP_STUDY)
    tracker = selectors.tracker(cpm, calmwave, today)
    assert len(tracker.definitions) == 12
    states = {s.site.status: s for s in tracker.sites}
    assert {"activated", "start_up", "selected"} <= set(states)
    for startup in tracker.sites:
        milestones = startup.milestones()
        for row in startup.rows:
            if row.actual is None:
                continue
            assert row.actual <= today, (startup.site, row.key)
            # Every recorded date respects the template's order.
            for dep in startup.graph[row.key]:
                done = milestones[dep]
                assert done.closed, (startup.site, row.key, dep)
                assert done.actual is None or done.actual <= row.actual, (startup.site, row.key, dep)
        if startup.site.status in ("activated", "enrolling"):
            assert startup.blockers == [] and startup.activated_on is not None
        # The site's own milestone dates follow the recorded milestones.
        for key in ("selected", "qualification_visit", "contract_executed", "irb_approval", "activated"):
            assert getattr(startup.site, f"actual_{key}") == startup.by_key[key].actual, (startup.site, key)
    in_start_up = [s for s in tracker.sites if s.site.status == "start_up"]
    assert in_start_up and all(s.blockers for s in in_start_up)
    assert all(s.projected_activation and s.projected_activation >= today for s in in_start_up)
    flagged = [r for s in tracker.sites for r in s.rows if r.state in ("overdue", "at_risk")]
    assert len(flagged) >= 3
    assert any(i.kind == "startup.milestone_overdue" for i in work_items(cpm, today))
    assert tracker.overall.summaries["selection_to_activation"] is not None
    assert plan.find_cycle(tracker.sites[0].graph) is None

    kestrel = Study.objects.get(protocol_number=FEASIBILITY_STUDY)
    ranking = selectors.candidate_ranking(cpm, kestrel, today)
    statuses = {r.feasibility_status for r in ranking}
    assert statuses == {"submitted", "in_progress", "invited"}
    assert ranking[0].rank == 1 and ranking[0].score is not None
    assert any(r.past.studies > 0 for r in ranking)  # the same hospitals in other demo studies
    assert audit_chain_verify()[1] is None
