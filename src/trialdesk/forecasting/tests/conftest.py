"""Helpers for the forecasting tests: synthetic trials drawn from the model itself.

The forecasting package needs no database, and these tests must also run with
``pytest -p no:django``; the root conftest's autouse password-hasher fixture needs
pytest-django's ``settings``, so it is replaced here by one that needs nothing.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from trialdesk.forecasting.model import MONTH_DAYS, Site, Study

START = dt.date(2024, 1, 1)
_DAYS = [START + dt.timedelta(days=d) for d in range(20000)]


@pytest.fixture(autouse=True)
def _fast_password_hashing():
    """Overrides the root conftest's fixture of the same name: nothing here hashes passwords."""


def day(n: int) -> dt.date:
    return _DAYS[n]


def simulate_trial(rng: np.random.Generator, *, n_sites: int, cv: float, mu_month: float = 1.0,
                   plan_span: int = 480, cut: int = 420, horizon_end: int = 720):
    """One trial from the model with known parameters, observed at day ``cut`` after START.

    Site rates ~ Gamma(1/cv^2, mean mu_month); planned activations uniform over the first
    ``plan_span`` days; actual activation = planned + Gamma(2, 15 days) delay (mean 30) that the
    forecaster must learn from the data. The target is the expected enrolment by ``horizon_end``
    under the plan. Returns (study at the cut, true date the target was reached), or None when
    the target was reached before the cut or not within twice ``horizon_end`` (rare; redraw).
    """
    alpha = 1.0 / cv**2
    mu = mu_month / MONTH_DAYS
    rates = rng.gamma(alpha, mu / alpha, n_sites)
    planned = np.sort(rng.integers(0, plan_span, n_sites))
    opened = planned + rng.gamma(2.0, 15.0, n_sites)
    target = round(n_sites * mu * (horizon_end - (plan_span / 2 + 30)))
    end = 2 * horizon_end
    counts = rng.poisson(rates * np.clip(end - opened, 0, None))
    owner = np.repeat(np.arange(n_sites), counts)
    times = rng.uniform(np.repeat(opened, counts), end)
    if len(times) < target:
        return None
    truth_t = np.partition(times, target - 1)[target - 1]
    seen = np.floor(times) <= cut
    if seen.sum() >= target:
        return None
    as_of = day(cut)
    enrolled_days = np.floor(times[seen]).astype(int)
    by_site = [[] for _ in range(n_sites)]
    for site_idx, d in zip(owner[seen], enrolled_days, strict=True):
        by_site[site_idx].append(_DAYS[d])
    sites = []
    for i in range(n_sites):
        opened_day = int(np.floor(opened[i]))
        if opened_day <= cut:
            sites.append(Site(str(i), activated=day(opened_day), planned_activation=day(int(planned[i])),
                              enrolled=tuple(sorted(by_site[i]))))
        else:
            sites.append(Site(str(i), planned_activation=day(int(planned[i]))))
    return Study(as_of=as_of, target=target, sites=tuple(sites)), day(int(np.floor(truth_t)))


def recruiting_sites(rng: np.random.Generator, n: int, *, as_of: dt.date, rate_month: float, cv: float = 0.5,
                     min_days: int = 60, max_days: int = 400, prefix: str = "s") -> list[Site]:
    """Active sites with enrolment dates drawn from Gamma-distributed rates."""
    alpha = 1.0 / cv**2
    out = []
    for i in range(n):
        days = int(rng.integers(min_days, max_days))
        activated = as_of - dt.timedelta(days=days - 1)
        lam = rng.gamma(alpha, rate_month / MONTH_DAYS / alpha)
        k = rng.poisson(lam * days)
        dates = sorted(activated + dt.timedelta(days=int(x)) for x in rng.integers(0, days, k))
        out.append(Site(f"{prefix}{i}", activated=activated, enrolled=tuple(dates)))
    return out
