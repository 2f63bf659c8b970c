"""Bottleneck warnings: pure functions over a study and its forecast. No Django.

Each warning is a dict ``{kind, site_id, message, severity}`` (``site_id`` None for study-level
warnings; severity "info", "warning" or "critical"), ready to become a work-queue item.

Kinds and rules (defaults in brackets; docs/forecasting.md explains them):

``no_enrollment``
    A recruiting site active for at least ``idle_days`` [60] with no subject at all.
    Critical from twice that.
``no_recent_enrollment``
    A recruiting site that enrolled before but nobody in the last ``idle_days`` days
    (month counts are dated at their month's end, so this errs towards silence).
``slow_site``
    ``P(lambda_i < slow_factor x typical rate | data) > slow_probability`` [0.5, 0.9], the typical
    rate being the median of the fitted between-site distribution Gamma(alpha, beta); the
    probability averages the site's posterior over the parameter draws (so it includes their
    uncertainty). Critical above 0.99.
``screen_failure``
    The site's screen-failure proportion ``p_i`` (Jeffreys posterior Beta(f + 1/2, n - f + 1/2))
    exceeds the pooled proportion of the study's other sites by more than
    ``screen_fail_margin`` [0.10] with posterior probability above ``screen_fail_probability``
    [0.9]; needs at least 10 subjects screened elsewhere.
``late_median``
    The median completion date is after the planned last-subject-in (critical when even the
    5th percentile is).
``low_probability_on_time``
    ``P(target by planned last-subject-in) < on_time_threshold`` [0.5]; critical below 0.1.
``unreachable``
    The forecast has no completion date (no sites left, no rate information, or the target is
    not reached within 100 years).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy import special, stats

from trialdesk.forecasting.model import MONTH_DAYS, Forecast, Site

__all__ = [
    "bottleneck_warnings",
    "idle_site_warnings",
    "schedule_warnings",
    "screen_failure_warnings",
    "slow_site_warnings",
]

SLOW_SITE_DRAWS = 1000
MIN_REFERENCE_SCREENED = 10


def _warning(kind: str, site_id: str | None, message: str, severity: str = "warning") -> dict:
    return {"kind": kind, "site_id": site_id, "message": message, "severity": severity}


def _recruiting(sites, as_of: dt.date) -> list[Site]:
    return [s for s in sites if s.is_active and s.recruiting_after(as_of) and s.rate_override_per_month is None]


def idle_site_warnings(sites: tuple[Site, ...] | list[Site], as_of: dt.date, *, idle_days: int = 60) -> list[dict]:
    out = []
    for site in _recruiting(sites, as_of):
        active_for = (as_of - site.activated).days
        if site.count == 0 and active_for >= idle_days:
            out.append(_warning(
                "no_enrollment", site.id,
                f"Site {site.id} has enrolled no subjects in the {active_for} days since activation on "
                f"{site.activated.isoformat()}.",
                "critical" if active_for >= 2 * idle_days else "warning"))
        elif site.count and (as_of - max(site.enrolled)).days >= idle_days:
            quiet = (as_of - max(site.enrolled)).days
            out.append(_warning(
                "no_recent_enrollment", site.id,
                f"Site {site.id} has enrolled nobody for {quiet} days (last subject "
                f"{max(site.enrolled).isoformat()}{'' if site.enrolled_exact else ', month counts dated at month end'}"
                f"; {site.count} enrolled in total).",
                "critical" if quiet >= 2 * idle_days else "warning"))
    return out


def slow_site_warnings(forecast: Forecast, *, slow_factor: float = 0.5, slow_probability: float = 0.9) -> list[dict]:
    fit = forecast.fit
    sites = _recruiting(forecast.selected, forecast.as_of)
    if fit.regime == "none" or not sites:
        return []
    alpha = fit.alpha_draws[:SLOW_SITE_DRAWS]
    beta = fit.beta_draws[:SLOW_SITE_DRAWS]
    typical = special.gammaincinv(alpha, 0.5) / beta  # median site rate, per draw
    k = np.array([s.count for s in sites], dtype=float)[:, None]
    tau = np.array([s.active_days(forecast.as_of) for s in sites], dtype=float)[:, None]
    # P(lambda_i < c * median | alpha, beta, data) is the posterior gamma CDF; average over draws.
    prob = special.gammainc(alpha + k, (beta + tau) * slow_factor * typical).mean(axis=1)
    typical_hat = float(special.gammaincinv(fit.alpha, 0.5) / fit.beta * MONTH_DAYS)
    out = []
    for i, site in enumerate(sites):
        if prob[i] <= slow_probability:
            continue
        shape, rate = fit.alpha + site.count, fit.beta + site.active_days(forecast.as_of)
        lo, mid, hi = stats.gamma.ppf([0.05, 0.5, 0.95], shape, scale=1 / rate) * MONTH_DAYS
        out.append(_warning(
            "slow_site", site.id,
            f"Site {site.id} recruits about {mid:.2f}/month (90% interval {lo:.2f}–{hi:.2f}; {site.count} in "
            f"{site.active_days(forecast.as_of)} days), below {slow_factor:g} × the study's typical "
            f"{typical_hat:.2f}/month with probability {prob[i]:.2f}.",
            "critical" if prob[i] > 0.99 else "warning"))
    return out


def screen_failure_warnings(sites: tuple[Site, ...] | list[Site], study_sites: tuple[Site, ...] | list[Site],
                            *, margin: float = 0.10, probability: float = 0.9) -> list[dict]:
    """Screen-failure outliers among ``sites``, each compared with the rest of ``study_sites``."""
    screened = {s.id: (s.screened, s.screen_failed or 0) for s in study_sites if s.screened}
    total_n = sum(n for n, _ in screened.values())
    total_f = sum(f for _, f in screened.values())
    out = []
    for site in sites:
        if site.id not in screened:
            continue
        n, f = screened[site.id]
        other_n, other_f = total_n - n, total_f - f
        if other_n < MIN_REFERENCE_SCREENED:
            continue
        reference = other_f / other_n
        threshold = min(reference + margin, 1.0)
        p_above = float(stats.beta.sf(threshold, f + 0.5, n - f + 0.5))
        if p_above > probability:
            out.append(_warning(
                "screen_failure", site.id,
                f"Site {site.id}: {f} of {n} screened subjects failed screening ({f / n:.0%}), against "
                f"{reference:.0%} at the study's other sites; probability its rate exceeds {threshold:.0%} "
                f"is {p_above:.2f}."))
    return out


def schedule_warnings(forecast: Forecast, *, on_time_threshold: float = 0.5) -> list[dict]:
    out = []
    lsi = forecast.study.planned_last_subject_in
    done = forecast.completion
    if forecast.remaining == 0:
        return out
    if done is None or done["p50"] is None:
        out.append(_warning("unreachable", None,
                            f"No completion date can be forecast for {forecast.target} subjects "
                            f"({forecast.enrolled} enrolled): {forecast.reason}.", "critical"))
        return out
    if lsi is None:
        return out
    if done["p50"] > lsi:
        late = (done["p50"] - lsi).days
        out.append(_warning(
            "late_median", None,
            f"Median forecast completion {done['p50'].isoformat()} is {late} days after the planned last "
            f"subject in {lsi.isoformat()} (90% interval {done['p05'].isoformat()} to "
            f"{done['p95'].isoformat() if done['p95'] else 'beyond 100 years'}).",
            "critical" if done["p05"] > lsi else "warning"))
    p = forecast.probability_on_time
    if p is not None and p < on_time_threshold:
        out.append(_warning(
            "low_probability_on_time", None,
            f"Probability of reaching {forecast.target} subjects by {lsi.isoformat()} is {p:.2f} "
            f"(threshold {on_time_threshold:.2f}); {forecast.enrolled} enrolled so far.",
            "critical" if p < 0.1 else "warning"))
    return out


def bottleneck_warnings(forecast: Forecast, *, idle_days: int = 60, slow_factor: float = 0.5,
                        slow_probability: float = 0.9, screen_fail_margin: float = 0.10,
                        screen_fail_probability: float = 0.9, on_time_threshold: float = 0.5) -> list[dict]:
    """All warnings for the forecast's sites and schedule: study-level first, then per site."""
    return [
        *schedule_warnings(forecast, on_time_threshold=on_time_threshold),
        *idle_site_warnings(forecast.selected, forecast.as_of, idle_days=idle_days),
        *slow_site_warnings(forecast, slow_factor=slow_factor, slow_probability=slow_probability),
        *screen_failure_warnings([s for s in forecast.selected if s.is_active and s.recruiting_after(forecast.as_of)],
                                 forecast.study.sites, margin=screen_fail_margin, probability=screen_fail_probability),
    ]
