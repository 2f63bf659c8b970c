"""Visit schedule date math as plain functions (no Django): planned dates, windows, out-of-window, missed.

Convention: target_day counts days from the anchor date, day 0 being the anchor day itself, so a
visit at target_day 28 of a subject randomized on 1 March is planned for 29 March. Negative days
are before the anchor (e.g. a screening visit at day -14 of randomization).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

# Anchor of a visit definition -> the Subject date field that supplies the anchor date.
ANCHOR_DATE_FIELD = {
    "consent": "consented_on",
    "enrollment": "enrolled_on",
    "randomization": "randomized_on",
    "first_dose": "first_dose_on",
}


@dataclass(frozen=True)
class PlannedWindow:
    planned_on: dt.date
    window_start: dt.date
    window_end: dt.date


def plan_visit(anchor_date: dt.date, target_day: int, window_before: int, window_after: int) -> PlannedWindow:
    """The planned date and the allowed window [start, end] (both inclusive) of one visit."""
    if window_before < 0 or window_after < 0:
        raise ValueError("Visit windows cannot be negative.")
    try:
        planned = anchor_date + dt.timedelta(days=target_day)
        return PlannedWindow(planned_on=planned,
                             window_start=planned - dt.timedelta(days=window_before),
                             window_end=planned + dt.timedelta(days=window_after))
    except OverflowError:
        raise ValueError(f"The visit date falls outside the calendar (anchor {anchor_date.isoformat()}, "
                         f"day {target_day}).") from None


def is_out_of_window(actual_on: dt.date, window_start: dt.date, window_end: dt.date) -> bool:
    return not (window_start <= actual_on <= window_end)


def days_outside_window(actual_on: dt.date, window_start: dt.date, window_end: dt.date) -> int:
    """Signed distance to the window: negative = days too early, positive = days too late, 0 = inside."""
    if actual_on < window_start:
        return (actual_on - window_start).days
    if actual_on > window_end:
        return (actual_on - window_end).days
    return 0


def is_missed(window_end: dt.date, today: dt.date) -> bool:
    """A planned visit is missed once its whole window has passed (the window's last day is still allowed)."""
    return window_end < today


def is_overdue(planned_on: dt.date, window_end: dt.date, today: dt.date) -> bool:
    """Past its planned date but still inside the window: a visit the site should book now."""
    return planned_on < today <= window_end


def month_weeks(year: int, month: int) -> list[list[dt.date]]:
    """The weeks (Monday first) covering a month, padded with the neighbouring months' days."""
    return calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def visit_flag(status: str, planned_on: dt.date, window_end: dt.date, out_of_window: bool, today: dt.date,
               upcoming_days: int = 7) -> str:
    """What a calendar should highlight about a visit: "overdue", "upcoming", "missed", "out_of_window" or ""."""
    if status == "planned":
        if planned_on < today:
            return "overdue"
        if (planned_on - today).days <= upcoming_days:
            return "upcoming"
        return ""
    if status == "missed":
        return "missed"
    if status == "completed" and out_of_window:
        return "out_of_window"
    return ""
