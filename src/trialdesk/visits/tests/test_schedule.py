"""The pure schedule arithmetic: planned dates, windows, out-of-window and missed detection."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialdesk.visits.schedule import (
    days_outside_window,
    is_missed,
    is_out_of_window,
    is_overdue,
    month_weeks,
    plan_visit,
    shift_month,
    visit_flag,
)

D = dt.date


def test_day_zero_is_the_anchor_day():
    w = plan_visit(D(2025, 3, 1), 0, 0, 0)
    assert (w.planned_on, w.window_start, w.window_end) == (D(2025, 3, 1),) * 3


def test_positive_day_and_asymmetric_window():
    w = plan_visit(D(2025, 3, 1), 28, 2, 5)
    assert w.planned_on == D(2025, 3, 29)
    assert w.window_start == D(2025, 3, 27)
    assert w.window_end == D(2025, 4, 3)


def test_negative_day_is_before_the_anchor():
    w = plan_visit(D(2025, 3, 1), -14, 3, 0)
    assert w.planned_on == D(2025, 2, 15)
    assert w.window_start == D(2025, 2, 12)
    assert w.window_end == D(2025, 2, 15)


def test_leap_day_and_year_boundary():
    assert plan_visit(D(2024, 2, 28), 1, 0, 0).planned_on == D(2024, 2, 29)
    assert plan_visit(D(2025, 12, 20), 14, 0, 0).planned_on == D(2026, 1, 3)


def test_negative_window_refused():
    with pytest.raises(ValueError):
        plan_visit(D(2025, 1, 1), 0, -1, 0)


def test_dates_off_the_calendar_are_a_value_error_not_an_overflow():
    with pytest.raises(ValueError, match="outside the calendar"):
        plan_visit(D(9999, 12, 1), 3650, 0, 0)
    with pytest.raises(ValueError):
        plan_visit(D(1, 1, 5), -10, 0, 0)


@pytest.mark.parametrize(("actual", "out", "distance"), [
    (D(2025, 3, 26), True, -1),   # a day early
    (D(2025, 3, 27), False, 0),   # first day of the window
    (D(2025, 3, 29), False, 0),   # on the planned day
    (D(2025, 4, 3), False, 0),    # last day of the window
    (D(2025, 4, 4), True, 1),     # a day late
    (D(2025, 5, 4), True, 31),
])
def test_out_of_window_boundaries(actual, out, distance):
    start, end = D(2025, 3, 27), D(2025, 4, 3)
    assert is_out_of_window(actual, start, end) is out
    assert days_outside_window(actual, start, end) == distance


def test_missed_only_after_the_last_day_of_the_window():
    end = D(2025, 4, 3)
    assert not is_missed(end, today=D(2025, 4, 3))
    assert is_missed(end, today=D(2025, 4, 4))
    assert not is_missed(end, today=D(2025, 3, 1))


def test_overdue_between_planned_date_and_window_end():
    assert not is_overdue(D(2025, 3, 29), D(2025, 4, 3), today=D(2025, 3, 29))
    assert is_overdue(D(2025, 3, 29), D(2025, 4, 3), today=D(2025, 3, 30))
    assert is_overdue(D(2025, 3, 29), D(2025, 4, 3), today=D(2025, 4, 3))
    assert not is_overdue(D(2025, 3, 29), D(2025, 4, 3), today=D(2025, 4, 4))


@given(anchor=st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 1, 1)), day=st.integers(-365, 3650),
       before=st.integers(0, 365), after=st.integers(0, 365), offset=st.integers(-800, 800))
def test_window_properties(anchor, day, before, after, offset):
    w = plan_visit(anchor, day, before, after)
    assert w.window_start <= w.planned_on <= w.window_end
    assert (w.planned_on - anchor).days == day
    assert (w.window_end - w.window_start).days == before + after
    assert not is_out_of_window(w.planned_on, w.window_start, w.window_end)
    actual = w.planned_on + dt.timedelta(days=offset)
    assert is_out_of_window(actual, w.window_start, w.window_end) == (days_outside_window(
        actual, w.window_start, w.window_end) != 0)
    assert is_out_of_window(actual, w.window_start, w.window_end) == (offset < -before or offset > after)


def test_month_grid_starts_monday_and_covers_the_month():
    weeks = month_weeks(2025, 2)
    assert weeks[0][0] == D(2025, 1, 27) and weeks[0][0].weekday() == 0
    assert weeks[-1][-1] == D(2025, 3, 2)
    days = [d for week in weeks for d in week if d.month == 2]
    assert days[0] == D(2025, 2, 1) and days[-1] == D(2025, 2, 28) and len(days) == 28


def test_shift_month_across_years():
    assert shift_month(2025, 1, -1) == (2024, 12)
    assert shift_month(2025, 12, 1) == (2026, 1)
    assert shift_month(2025, 6, 13) == (2026, 7)


@pytest.mark.parametrize(("status", "planned", "out", "flag"), [
    ("planned", D(2025, 3, 9), False, "overdue"),
    ("planned", D(2025, 3, 10), False, "upcoming"),
    ("planned", D(2025, 3, 17), False, "upcoming"),
    ("planned", D(2025, 3, 18), False, ""),
    ("completed", D(2025, 3, 1), True, "out_of_window"),
    ("completed", D(2025, 3, 1), False, ""),
    ("missed", D(2025, 3, 1), False, "missed"),
    ("cancelled", D(2025, 3, 1), False, ""),
])
def test_visit_flag(status, planned, out, flag):
    assert visit_flag(status, planned, planned + dt.timedelta(days=3), out, today=D(2025, 3, 10)) == flag
