"""work_items_for: every provider's items for one user, sorted, de-duplicated, filtered, counted; failures shown."""

from __future__ import annotations

import logging

from trialdesk.workqueue import selectors
from trialdesk.workqueue.items import SEVERITIES

from .conftest import AS_OF

ENROLLMENT = "trialdesk.enrollment.work.work_items"
T = "trialdesk.workqueue.tests.providers."


def test_items_are_sorted_most_urgent_first_and_deduplicated_by_key(warned_study, cpm):
    queue = selectors.work_items_for(cpm, AS_OF, providers=[ENROLLMENT, T + "general", T + "same_records"])
    assert queue.notices == [] and queue.failed == []
    severities = [i.severity for i in queue.items]
    assert severities == sorted(severities, key=SEVERITIES.index)
    assert severities[0] == "overdue"
    keys = [i.key for i in queue.items if i.key]
    assert len(keys) == len(set(keys))
    # Of two items about the same record the more urgent stays: form:1 overdue (not info), form:2 due (not upcoming).
    forms = {i.key: i for i in queue.items if i.key.startswith("form:")}
    assert forms["form:1"].title == "Submit your expenses" and forms["form:1"].severity == "overdue"
    assert forms["form:2"].title == "Badge renewal is due" and forms["form:2"].severity == "due"
    assert [i.title for i in queue.items].count("Read the newsletter") == 1
    assert any(i.kind == "enrollment.no_enrollment" for i in queue.items)


def test_a_failing_provider_is_logged_and_noticed_and_the_rest_still_shows(warned_study, cpm, caplog):
    with caplog.at_level(logging.ERROR, logger="trialdesk.workqueue"):
        queue = selectors.work_items_for(cpm, AS_OF, providers=[T + "broken", ENROLLMENT, T + "not_items",
                                                                 "trialdesk.nowhere.work.work_items"])
    assert queue.failed == [T + "broken", T + "not_items", "trialdesk.nowhere.work.work_items"]
    assert len(queue.notices) == 3
    assert queue.notices[0].startswith("Workqueue items could not be loaded because of an error")
    assert queue.notices[2].startswith("Nowhere items could not be loaded")
    assert any(i.kind.startswith("enrollment.") for i in queue.items)
    logged = [r for r in caplog.records if r.name == "trialdesk.workqueue"]
    assert len(logged) == 3 and all(r.exc_info for r in logged)
    assert "provider bug for the test" in caplog.text and "not WorkItem" in caplog.text
    assert "No module named 'trialdesk.nowhere'" in caplog.text


def test_filters_and_counts(warned_study, cpm, sites):
    queue = selectors.work_items_for(cpm, AS_OF, providers=[ENROLLMENT, T + "general"])
    total = queue.count
    assert sum(queue.by_severity().values()) == total
    assert list(queue.by_severity()) == list(SEVERITIES)
    by_study = queue.by_study()
    assert by_study[0]["study_id"] == warned_study.pk and by_study[-1]["study_id"] is None  # no study: last
    assert sum(row["count"] for row in by_study) == total

    mine = queue.filtered(study_id=warned_study.pk)
    assert mine.count == by_study[0]["count"] and all(i.study_id == warned_study.pk for i in mine.items)
    assert queue.filtered(kind="enrollment").count == mine.count  # an area
    exact = queue.filtered(kind="enrollment.no_enrollment")
    assert exact.count >= 1 and {i.kind for i in exact.items} == {"enrollment.no_enrollment"}
    assert queue.filtered(severity="overdue").count == 1
    assert queue.filtered(study_id=warned_study.pk, severity="overdue").count == 0
    assert queue.filtered(kind="enr").count == 0  # not a prefix match


def test_grouped_by_severity_then_study(warned_study, cpm):
    queue = selectors.work_items_for(cpm, AS_OF, providers=[ENROLLMENT, T + "general"])
    groups = queue.grouped()
    assert [g["severity"] for g in groups] == [s for s in SEVERITIES if queue.by_severity()[s]]
    for group in groups:
        assert group["count"] == sum(len(s["items"]) for s in group["studies"])
        assert group["label"] == selectors.SEVERITY_LABELS[group["severity"]]
    due = next(g for g in groups if g["severity"] == "due")
    assert due["studies"][0]["study_label"] == "ACME-301"


def test_kind_labels_come_from_the_providers():
    assert selectors.kind_label("enrollment.late_median") == "Enrollment: Behind plan"
    assert selectors.kind_label("startup.milestone_overdue", {}) == "Start-up: Milestone overdue"
    assert selectors.kind_label("somewhere") == "Somewhere"


def test_a_user_without_memberships_has_an_empty_queue(make_user):
    queue = selectors.work_items_for(make_user(), AS_OF, providers=[ENROLLMENT])
    assert queue.items == [] and queue.notices == []
