"""The pure rules of staff/tasks.py (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from trialdesk.staff import tasks

D = dt.date


def test_tasks_are_numbered_in_log_order_and_labelled():
    assert tasks.task_number("informed_consent") == 1 and tasks.task_number("study_specific") == 10
    assert tasks.task_label("study_specific", "Spirometry") == "Study-specific task: Spirometry"
    assert tasks.task_label("eligibility", "ignored") == "Assess eligibility"
    assert tasks.role_label("other", "Radiographer") == "Radiographer" and tasks.role_label("lab") == "Laboratory"
    assert set(tasks.SUBJECT_TASKS.values()) <= set(tasks.TASKS)


@pytest.mark.parametrize(("first", "last", "expected"), [
    ("Nora", "Nurse", "NN"), ("Nora Jane", "van Dyke", "NJVD"), ("Jean-Luc", "Picard", "JLP"), ("", "Óscar", "Ó")])
def test_initials(first, last, expected):
    assert tasks.initials(first, last) == expected


def test_periods():
    assert tasks.period_covers(D(2026, 1, 1), None, D(2030, 1, 1))
    assert tasks.period_covers(D(2026, 1, 1), D(2026, 1, 31), D(2026, 1, 31))
    assert not tasks.period_covers(D(2026, 1, 1), D(2026, 1, 31), D(2026, 2, 1))
    assert not tasks.period_covers(D(2026, 1, 1), None, D(2025, 12, 31))
    assert tasks.effective_end(None, None) is None
    assert tasks.effective_end(D(2027, 1, 1), D(2026, 6, 30)) == D(2026, 6, 30)
    assert tasks.effective_end(D(2026, 1, 1), D(2026, 6, 30)) == D(2026, 1, 1)
    assert tasks.overlaps(D(2026, 1, 1), None, D(2030, 1, 1), D(2030, 2, 1))
    assert tasks.overlaps(D(2026, 1, 1), D(2026, 1, 31), D(2026, 1, 31), None)  # one shared day
    assert not tasks.overlaps(D(2026, 1, 1), D(2026, 1, 30), D(2026, 1, 31), None)
    assert tasks.period_errors(D(2026, 1, 2), D(2026, 1, 1)) == {
        "end_date": ["The end date cannot be before the start date."]}
    assert tasks.period_errors(D(2026, 1, 1), D(2026, 1, 1)) == {}


def test_expiry_states_and_gcp():
    today = D(2026, 11, 25)
    assert tasks.expiry_state(None, today) is None
    assert tasks.expiry_state(D(2026, 11, 24), today) == "expired"
    assert tasks.expiry_state(today, today) == "expiring"
    assert tasks.expiry_state(today + dt.timedelta(days=60), today) == "expiring"
    assert tasks.expiry_state(today + dt.timedelta(days=61), today) is None
    assert tasks.gcp_problem("Nora", None, None, today) == ("No GCP training certificate is recorded for Nora on the "
                                                           "site staff roster.")
    assert tasks.gcp_problem("Nora", D(2026, 12, 1), None, today) == ("Nora's GCP training certificate is dated "
                                                                     "2026-12-01, after 2026-11-25.")
    assert tasks.gcp_problem("Nora", D(2023, 1, 1), D(2026, 11, 24), today) == ("Nora's GCP training certificate "
                                                                                "expired on 2026-11-24.")
    assert tasks.gcp_problem("Nora", D(2023, 1, 1), today, today) is None
    assert tasks.gcp_problem("Nora", D(2023, 1, 1), None, today) is None  # no expiry stated
