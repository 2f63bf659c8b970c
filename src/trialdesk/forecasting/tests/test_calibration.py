"""Honesty checks: are the forecast's intervals as wide as they claim?

For each scenario (10, 30 or 100 sites; between-site rate cv 0.3 or 0.8) we draw
TRIALS trials from the model with known parameters (staggered planned activations, real
activations later by a random delay the forecaster has to learn), cut each at day 420 (about
40% of the target enrolled, ~18% of sites not yet active), forecast the completion date
with SIMULATIONS Monte Carlo draws and compare with the date the trial truly reached its target.

Asserted per scenario:
  * the 90% prediction interval [p05, p95] covers the true date in 85–95% of trials
    (binomial sd at 90% and 200 trials is 2.1 points);
  * the median forecast is unbiased: the median and the mean over trials of the relative error
    (p50 - truth) / (truth - study start) are within ±5%.

Run with ``pytest -s`` to see the measured figures; they are also in the assertion messages.
"""

from __future__ import annotations

import numpy as np
import pytest

from trialdesk.forecasting.model import forecast
from trialdesk.forecasting.tests.conftest import START, simulate_trial

TRIALS = 200
SIMULATIONS = 2000
COVERAGE_RANGE = (0.85, 0.95)
BIAS_TOLERANCE = 0.05


def _calibrate(n_sites: int, cv: float) -> dict:
    rng = np.random.default_rng([2025, n_sites, round(cv * 10)])
    covered, rel_err, below, pending, regimes = [], [], [], [], {}
    while len(covered) < TRIALS:
        drawn = simulate_trial(rng, n_sites=n_sites, cv=cv)
        if drawn is None:
            continue
        study, truth = drawn
        result = forecast(study, simulations=SIMULATIONS, seed=len(covered))
        done = result.completion
        regimes[result.fit.regime] = regimes.get(result.fit.regime, 0) + 1
        covered.append(done["p05"] <= truth <= done["p95"])
        rel_err.append((done["p50"] - truth).days / (truth - START).days)
        below.append(truth < done["p50"])
        pending.append(sum(not s.is_active for s in study.sites) / n_sites)
    return {"coverage": float(np.mean(covered)), "median_rel_err": float(np.median(rel_err)),
            "mean_rel_err": float(np.mean(rel_err)), "truth_below_median": float(np.mean(below)),
            "pending": float(np.mean(pending)), "regimes": regimes}


@pytest.mark.slow
@pytest.mark.parametrize(("n_sites", "cv"), [(10, 0.3), (10, 0.8), (30, 0.3), (30, 0.8), (100, 0.3), (100, 0.8)])
def test_completion_interval_coverage_and_median_bias(n_sites, cv):
    m = _calibrate(n_sites, cv)
    report = (f"{n_sites} sites, cv {cv}: 90% interval coverage {m['coverage']:.1%} "
              f"(want {COVERAGE_RANGE[0]:.0%}-{COVERAGE_RANGE[1]:.0%}), median relative error "
              f"{m['median_rel_err']:+.2%}, mean {m['mean_rel_err']:+.2%} (want within ±{BIAS_TOLERANCE:.0%}), "
              f"truth before median {m['truth_below_median']:.1%}, sites not yet active at the cut "
              f"{m['pending']:.0%}, regimes {m['regimes']}, {TRIALS} trials x {SIMULATIONS} simulations")
    print(report)
    assert COVERAGE_RANGE[0] <= m["coverage"] <= COVERAGE_RANGE[1], report
    assert abs(m["median_rel_err"]) <= BIAS_TOLERANCE, report
    assert abs(m["mean_rel_err"]) <= BIAS_TOLERANCE, report
