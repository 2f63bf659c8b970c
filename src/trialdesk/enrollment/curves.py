"""Enrollment curves as plain arithmetic (no Django): the planned cumulative curve and actual counts.

A plan entry (one site, or a country's sites together) starts enrolling at its planned activation date at
its planned monthly rate, until its own cap; the plan as a whole stops at its target. The planned curve
is piecewise linear, so it is exact when evaluated at its breakpoints (activations, caps reached, target
reached) and drawn as straight lines between them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# The average month (days); the same convention as the forecasting engine's rates "per month".
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class PlannedRate:
    """One plan entry: enrolls `rate_per_month` from `activation`, up to `cap` subjects (None: no cap)."""

    activation: dt.date
    rate_per_month: float
    cap: int | None = None

    def planned_by(self, on: dt.date) -> float:
        expected = self.rate_per_month * months_between(self.activation, on)
        return expected if self.cap is None else min(float(self.cap), expected)

    def cap_reached_on(self) -> dt.date | None:
        """The day the entry reaches its cap (None without a cap or a rate)."""
        if self.cap is None or self.rate_per_month <= 0:
            return None
        return add_days(self.activation, self.cap / self.rate_per_month * DAYS_PER_MONTH)


def months_between(start: dt.date, end: dt.date) -> float:
    """Months from start to end (0 when end is not after start)."""
    return max(0.0, (end - start).days / DAYS_PER_MONTH)


def add_days(day: dt.date, days: float) -> dt.date:
    """`day` plus a fractional number of days, rounded up to the next whole day; clamped to the date range."""
    whole = int(-(-days // 1))  # ceil without float surprises for whole numbers
    try:
        return day + dt.timedelta(days=whole)
    except OverflowError:
        return dt.date.max if whole > 0 else dt.date.min


def planned_cumulative(entries: Iterable[PlannedRate], on: dt.date, target: int | None = None) -> float:
    """Subjects planned to be enrolled by `on`: the sum over entries, capped by the plan's target."""
    total = sum(entry.planned_by(on) for entry in entries)
    return total if target is None else min(float(target), total)


# Days evaluated per block by `planned_totals` (a block x entries array at a time).
_TOTALS_BLOCK = 256


def planned_totals(entries: Sequence[PlannedRate], days: Sequence[dt.date], target: int | None = None
                   ) -> list[float]:
    """`planned_cumulative(entries, day, target)` for every day, computed for all days at once: a plan with
    an entry per site of a 1,200-site study has as many breakpoints, and day by day that is 1.4 million
    `planned_by` calls. Each term is computed as `PlannedRate.planned_by` computes it and the terms are added
    in entry order, so the values are the same to the last bit."""
    if not days:
        return []
    if not entries:
        return [0.0 if target is None else min(float(target), 0.0)] * len(days)
    activation = np.array([e.activation.toordinal() for e in entries], dtype=np.int64)
    rate = np.array([e.rate_per_month for e in entries], dtype=float)
    cap = np.array([np.inf if e.cap is None else float(e.cap) for e in entries])
    ordinals = np.array([d.toordinal() for d in days], dtype=np.int64)
    out: list[float] = []
    for lo in range(0, len(days), _TOTALS_BLOCK):
        elapsed = (ordinals[lo: lo + _TOTALS_BLOCK, None] - activation[None, :]).astype(float)
        expected = rate * np.maximum(0.0, elapsed / DAYS_PER_MONTH)
        np.minimum(cap, expected, out=expected)
        totals = np.cumsum(expected, axis=1)[:, -1]   # sequential, in entry order, as sum() adds
        out.extend(float(t) for t in totals)
    return out if target is None else [min(float(target), t) for t in out]


def planned_breakpoints(entries: Sequence[PlannedRate], target: int | None = None) -> list[dt.date]:
    """The days where the planned curve changes slope, including the day it reaches the target."""
    days = {e.activation for e in entries}
    days |= {d for e in entries if (d := e.cap_reached_on()) is not None}
    ordered = sorted(days)
    if target is not None and ordered:
        reached = plan_reaches(entries, target)
        if reached is not None:
            ordered = sorted({d for d in ordered if d <= reached} | {reached})
    return ordered


def plan_reaches(entries: Sequence[PlannedRate], count: float) -> dt.date | None:
    """The first day the plan (uncapped by any target) has `count` subjects; None if it never does."""
    if count <= 0:
        return min((e.activation for e in entries), default=None)
    days = sorted({e.activation for e in entries} | {d for e in entries if (d := e.cap_reached_on()) is not None})
    if not days:
        return None
    values = planned_totals(entries, days)
    previous_day, previous = days[0], values[0]
    for day, value in zip(days[1:], values[1:], strict=True):
        if value >= count:
            return _crossing(previous_day, previous, day, value, count)
        previous_day, previous = day, value
    # After the last breakpoint the slope is constant: the rates of entries without a reached cap.
    slope = sum(e.rate_per_month for e in entries if e.activation <= previous_day
                and (e.cap is None or e.planned_by(previous_day) < e.cap)) / DAYS_PER_MONTH
    if slope <= 0:
        return None
    return add_days(previous_day, (count - previous) / slope)


def _crossing(day0: dt.date, value0: float, day1: dt.date, value1: float, count: float) -> dt.date:
    if value1 <= value0:
        return day1
    return add_days(day0, (count - value0) / (value1 - value0) * (day1 - day0).days)


def planned_curve(entries: Sequence[PlannedRate], start: dt.date, end: dt.date, target: int | None = None
                  ) -> list[tuple[dt.date, float]]:
    """(day, planned cumulative) at start, end and every breakpoint between: exact as a polyline."""
    if end < start:
        return []
    days = sorted({start, end} | {d for d in planned_breakpoints(entries, target) if start < d < end})
    return list(zip(days, planned_totals(entries, days, target), strict=True))


def cumulative_steps(daily_counts: Mapping[dt.date, int]) -> list[tuple[dt.date, int]]:
    """(day, cumulative count after that day) for every day with enrollment, in date order."""
    total = 0
    steps = []
    for day in sorted(daily_counts):
        total += int(daily_counts[day])
        steps.append((day, total))
    return steps


def cumulative_on(steps: Sequence[tuple[dt.date, int]], on: dt.date) -> int:
    """The cumulative count at the end of `on` from `cumulative_steps` output."""
    value = 0
    for day, total in steps:
        if day > on:
            break
        value = total
    return value


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    """The last day of every month from start's month to end's month."""
    if end < start:
        return []
    out = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(dt.date(year, month, calendar.monthrange(year, month)[1]))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def rate_per_month(count: int, start: dt.date | None, end: dt.date) -> float | None:
    """Subjects per month while active; None before activation or for less than a day active."""
    if start is None or end <= start:
        return None
    return count / months_between(start, end)
