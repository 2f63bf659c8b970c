"""`planned_totals` (all days at once, for plans with an entry per site) gives exactly what
`planned_cumulative` gives day by day."""

import datetime as dt
import random

import pytest

from trialdesk.enrollment.curves import PlannedRate, planned_cumulative, planned_curve, planned_totals

BASE = dt.date(2025, 1, 1)


@pytest.mark.parametrize("seed", range(8))
def test_planned_totals_equal_day_by_day_sums(seed):
    rng = random.Random(seed)
    entries = [PlannedRate(BASE + dt.timedelta(days=rng.randint(-100, 600)),
                           rng.choice([0.0, 0.3, 1.0, 2, rng.random() * 5]), rng.choice([None, rng.randint(1, 80)]))
               for _ in range(rng.randint(1, 700))]
    days = [BASE + dt.timedelta(days=rng.randint(-200, 1500)) for _ in range(rng.randint(1, 600))]
    for target in (None, rng.randint(0, 3000)):
        assert planned_totals(entries, days, target) == [planned_cumulative(entries, d, target) for d in days]


def test_planned_curve_of_a_thousand_sites():
    entries = [PlannedRate(BASE + dt.timedelta(days=i % 400), 1.5, 30) for i in range(1200)]
    curve = planned_curve(entries, BASE, BASE + dt.timedelta(days=1000), target=20000)
    assert curve[0] == (BASE, 0.0) and curve[-1][1] == 20000.0
    assert all(a[0] < b[0] and a[1] <= b[1] for a, b in zip(curve, curve[1:], strict=False))
    assert all(v == planned_cumulative(entries, d, 20000) for d, v in curve[::50])
    assert planned_totals([], [BASE], 5) == [0.0] and planned_totals(entries, []) == []
