"""The statistics: likelihood and fit, posteriors, the exact completion-time inversion, the
forecast's outputs and its edge cases. No database."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy import stats

from trialdesk.forecasting.model import (
    MONTH_DAYS,
    ActivationDelay,
    DelayModel,
    Prior,
    Site,
    Study,
    cumulative_intensity_at,
    fit_population,
    forecast,
    invert_cumulative_intensity,
    nb_loglik,
    site_posterior,
)
from trialdesk.forecasting.tests.conftest import recruiting_sites

AS_OF = dt.date(2025, 6, 30)


def _days(n: int) -> dt.date:
    return AS_OF + dt.timedelta(days=n)


# --------------------------------------------------------------------------- likelihood and fit


def test_nb_loglik_is_the_negative_binomial_marginal():
    k = np.array([0, 3, 7, 1, 12], dtype=float)
    tau = np.array([30, 90, 200, 15, 365], dtype=float)
    alpha, mu = 1.7, 0.04
    beta = alpha / mu
    expected = stats.nbinom.logpmf(k, alpha, beta / (beta + tau)).sum()
    # Our likelihood leaves out the constant -log k!.
    from scipy.special import gammaln

    got = nb_loglik(math.log(alpha), math.log(mu), k, tau)
    assert got == pytest.approx(expected + gammaln(k + 1).sum(), rel=1e-10)
    vec = nb_loglik(np.log([alpha, 2 * alpha]), np.log([mu, mu]), k, tau)
    assert vec.shape == (2,) and vec[0] == pytest.approx(got, rel=1e-12)


def test_mle_recovers_known_parameters_from_large_synthetic_data():
    rng = np.random.default_rng(7)
    alpha, mean_month = 2.0, 1.3
    n = 3000
    tau = rng.integers(60, 400, n)
    lam = rng.gamma(alpha, mean_month / MONTH_DAYS / alpha, n)
    k = rng.poisson(lam * tau)
    sites = tuple(Site(str(i), activated=AS_OF - dt.timedelta(days=int(tau[i]) - 1),
                       enrolled=(AS_OF,) * int(k[i])) for i in range(n))
    fit = fit_population(Study(AS_OF, 10_000, sites), draws=2000, seed=1)
    assert fit.regime == "ml" and fit.method.startswith("poisson-gamma ML (n=3000 active sites")
    assert fit.alpha == pytest.approx(alpha, rel=0.15)
    assert fit.mean_rate_per_month == pytest.approx(mean_month, rel=0.04)
    # The parameter draws express the estimate's uncertainty: centred on it, covering the truth.
    lo, hi = np.quantile(fit.alpha_draws, [0.005, 0.995])
    assert lo < alpha < hi and hi / lo < 1.6
    means = fit.alpha_draws / fit.beta_draws * MONTH_DAYS
    assert np.quantile(means, 0.005) < mean_month < np.quantile(means, 0.995)


def test_small_study_parameter_uncertainty_is_wide():
    rng = np.random.default_rng(3)
    sites = tuple(recruiting_sites(rng, 6, as_of=AS_OF, rate_month=1.0, cv=0.5, min_days=120, max_days=300))
    fit = fit_population(Study(AS_OF, 100, sites), draws=4000)
    assert fit.regime == "ml"
    lo, hi = np.quantile(fit.alpha_draws, [0.05, 0.95])
    assert hi / lo > 5  # six sites say little about the between-site spread; the draws must show it


def test_posterior_update_and_site_rate_quantiles():
    assert site_posterior(2.0, 50.0, 7, 120) == (9.0, 170.0)
    rng = np.random.default_rng(11)
    sites = recruiting_sites(rng, 2000, as_of=AS_OF, rate_month=1.0, cv=0.6)
    sites.append(Site("x", activated=AS_OF - dt.timedelta(days=199), enrolled=(AS_OF,) * 3))
    study = Study(AS_OF, 10_000, tuple(sites))
    result = forecast(study, site_filter=["x"], simulations=8000, seed=2)
    fit = result.fit
    shape, rate = site_posterior(fit.alpha, fit.beta, 3, 200)
    expected = stats.gamma.ppf([0.05, 0.5, 0.95], shape, scale=1 / rate) * MONTH_DAYS
    got = result.sites[0].rate_per_month
    assert [got["p05"], got["p50"], got["p95"]] == pytest.approx(list(expected), rel=0.06)
    assert result.sites[0].rate_mean_per_month == pytest.approx(shape / rate * MONTH_DAYS, rel=0.03)


def test_all_zero_counts_keep_a_finite_fit():
    sites = tuple(Site(str(i), activated=AS_OF - dt.timedelta(days=199)) for i in range(10))
    fit = fit_population(Study(AS_OF, 20, sites))
    assert fit.regime == "weak" and "few data" in fit.method
    assert math.isfinite(fit.alpha) and math.isfinite(fit.beta) and 0 < fit.mean_rate_per_month < 0.05
    result = forecast(Study(AS_OF, 20, sites))
    assert result.completion["p50"] is not None and result.completion["p50"] > _days(3650)


def test_all_zero_counts_with_a_prior_pull_the_planned_rate_down():
    sites = tuple(Site(str(i), activated=AS_OF - dt.timedelta(days=119)) for i in range(4))
    study = Study(AS_OF, 50, sites, prior=Prior(rate_per_month=2.0, cv=0.5))
    fit = fit_population(study)
    assert fit.regime == "blend" and fit.method.startswith("empirical Bayes: 2.00/month per site")
    assert fit.mean_rate_per_month < 1.0


def test_prior_only_when_no_site_is_active():
    study = Study(AS_OF, 30, (Site("a", planned_activation=_days(30)), Site("b", planned_activation=_days(60))),
                  prior=Prior(rate_per_month=1.2, cv=0.5))
    result = forecast(study, seed=3)
    assert result.fit.regime == "prior"
    assert result.method == "prior (no recruitment data yet: 1.20/month per site, cv 0.50 (prior))"
    assert result.fit.alpha == pytest.approx(4.0) and result.fit.beta == pytest.approx(4.0 / (1.2 / MONTH_DAYS))
    assert result.completion["p05"] < result.completion["p50"] < result.completion["p95"]
    assert result.enrolled == 0 and result.reason is None


def test_planned_rates_serve_as_prior_and_as_relative_site_weights():
    study = Study(AS_OF, 30, (Site("a", planned_activation=_days(10), planned_rate_per_month=1.0),
                              Site("b", planned_activation=_days(10), planned_rate_per_month=3.0)))
    result = forecast(study, simulations=8000)
    assert result.fit.regime == "prior" and "(planned rates)" in result.method
    a, b = result.sites
    assert a.rate_mean_per_month == pytest.approx(1.0, rel=0.1)
    assert b.rate_mean_per_month == pytest.approx(3.0, rel=0.1)


def test_single_site_and_tiny_active_time():
    study = Study(AS_OF, 5, (Site("1", activated=AS_OF, enrolled=(AS_OF,)),))
    result = forecast(study)
    assert result.fit.regime == "weak" and result.fit.n_sites == 1 and result.fit.site_days == 1
    assert result.completion["p50"] is not None and result.completion["p05"] <= result.completion["p95"]


def test_no_rate_information_gives_a_reason_not_a_date():
    study = Study(AS_OF, 10, (Site("a", planned_activation=_days(10)),))
    result = forecast(study)
    assert result.completion is None and result.fit.regime == "none"
    assert result.reason.startswith("no rate information")
    assert math.isnan(result.enrolled_by(_days(100))["p50"])


def test_no_sites_left_to_recruit():
    closed = Site("a", activated=_days(-300), closed=_days(-10), enrolled=(_days(-200),))
    result = forecast(Study(AS_OF, 10, (closed,), prior=Prior(1.0)))
    assert result.completion is None and result.reason == "no active or planned sites left to recruit"
    assert result.enrolled_by(_days(100))["p95"] == 1  # nobody recruits any more: certain
    assert forecast(Study(AS_OF, 10, ())).reason == "no sites selected"


def test_target_already_reached_reports_the_day_it_was_reached():
    dates = (_days(-100), _days(-50), _days(-20), _days(-5))
    study = Study(AS_OF, 3, (Site("a", activated=_days(-200), enrolled=dates),),
                  planned_last_subject_in=_days(-30))
    result = forecast(study)
    assert result.completion == {"p05": _days(-20), "p50": _days(-20), "p95": _days(-20)}
    assert result.reached_on == _days(-20) and result.probability_on_time == 0.0
    on_time = forecast(Study(AS_OF, 3, study.sites, planned_last_subject_in=_days(-20)))
    assert on_time.probability_on_time == 1.0


# --------------------------------------------------------------------------- exact inversion


def test_invert_cumulative_intensity_piecewise():
    times = np.array([[0.0, 10.0], [0.0, 5.0], [0.0, 7.0], [0.0, 5.0]])
    rates = np.array([[1.0, 3.0], [2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    targets = np.array([16.0, 11.0, 4.0, 10.0])
    got = invert_cumulative_intensity(times, rates, targets)
    # 10 by t=10, then 6 more at rate 3; rate stops at 10 (never 11); nothing before 7, then 4 at 2; exactly 10 at 5.
    assert got.tolist() == [12.0, math.inf, 9.0, 5.0]
    assert invert_cumulative_intensity(times[:1], rates[:1], np.array([4.0])).tolist() == [4.0]
    cum = np.array([[0.0, 10.0], [0.0, 10.0], [0.0, 0.0], [0.0, 10.0]])
    at = cumulative_intensity_at(times, rates, cum, np.array([0.0, 6.0, 12.0]))
    assert at.tolist() == [[0, 6, 16], [0, 10, 10], [0, 0, 10], [0, 10, 10]]


def test_completion_time_is_the_exact_gamma_waiting_time():
    # A single site at a fixed 3/month needing 10 more subjects: T ~ Gamma(10, rate 3/month).
    site = Site("a", activated=_days(-99), enrolled=(_days(-50),) * 2, rate_override_per_month=3.0)
    result = forecast(Study(AS_OF, 12, (site,), planned_last_subject_in=_days(100)), simulations=20000, seed=5)
    waiting = stats.gamma(10, scale=MONTH_DAYS / 3)
    for name, q in (("p05", 0.05), ("p50", 0.5), ("p95", 0.95)):
        assert (result.completion[name] - AS_OF).days == pytest.approx(math.ceil(waiting.ppf(q)), abs=2)
    assert result.probability_on_time == pytest.approx(waiting.cdf(100), abs=0.01)


def test_piecewise_rate_with_a_site_opening_later():
    # 2/month from now, plus 4/month from day 30 (activation exactly as planned).
    sites = (Site("a", activated=_days(-99), rate_override_per_month=2.0),
             Site("b", planned_activation=_days(31), rate_override_per_month=4.0))
    study = Study(AS_OF, 1000, sites, prior=Prior(1.0), activation_delay=ActivationDelay(0, 0))
    result = forecast(study, simulations=20000, seed=9)
    assert result.sites[1].activation == {"p05": _days(31), "p50": _days(31), "p95": _days(31)}
    for day in (20, 30, 90):
        expected = 2 * day / MONTH_DAYS + 4 * max(day - 30, 0) / MONTH_DAYS
        by = result.enrolled_by(_days(day))
        assert by["mean"] == pytest.approx(expected, rel=0.03)
        assert by["p95"] == stats.poisson.ppf(0.95, expected) or abs(by["p95"] - stats.poisson.ppf(0.95, expected)) <= 1


# --------------------------------------------------------------------------- forecast outputs


@pytest.fixture(scope="module")
def mid_study():
    rng = np.random.default_rng(21)
    sites = recruiting_sites(rng, 25, as_of=AS_OF, rate_month=1.2, cv=0.6)
    sites = [Site(s.id, activated=s.activated, enrolled=s.enrolled, planned_activation=s.activated
                  - dt.timedelta(days=int(rng.integers(0, 40))), country="DE" if i % 2 else "FR",
                  screened=None) for i, s in enumerate(sites)]
    sites += [Site(f"p{i}", planned_activation=_days(int(d)), country="US") for i, d in enumerate([-10, 20, 45, 90])]
    enrolled = sum(s.count for s in sites)
    return Study(AS_OF, enrolled + 200, tuple(sites), planned_last_subject_in=_days(200))


def test_forecast_is_deterministic_for_a_seed(mid_study):
    a, b = forecast(mid_study, seed=4), forecast(mid_study, seed=4)
    assert a.completion == b.completion and a.probability_on_time == b.probability_on_time
    assert a.curve() == b.curve() and a.sites == b.sites
    assert a.enrolled_by(_days(100)) == b.enrolled_by(_days(100))
    c = forecast(mid_study, seed=5)
    assert not np.array_equal(a.completion_days, c.completion_days)


def test_curve_enrolled_by_and_completion_agree(mid_study):
    result = forecast(mid_study, seed=1)
    curve = result.curve()
    assert curve[0] == {"date": AS_OF, "mean": result.enrolled, "p05": result.enrolled, "p50": result.enrolled,
                        "p95": result.enrolled}
    assert curve[-1]["date"] >= max(result.completion["p95"], mid_study.planned_last_subject_in)
    for key in ("p05", "p50", "p95", "mean"):
        values = [p[key] for p in curve]
        assert values == sorted(values)
    # By the median completion date about half of the simulations have reached the target.
    by = result.enrolled_by(result.completion["p50"])
    assert abs(by["p50"] - result.target) <= 3
    assert result.enrolled_by(result.completion["p05"])["p50"] < result.target
    assert result.enrolled_by(result.completion["p95"])["p50"] > result.target
    past = result.enrolled_by(AS_OF - dt.timedelta(days=30))
    assert past["p05"] == past["p95"] == sum(1 for s in mid_study.sites for d in s.enrolled
                                             if d <= AS_OF - dt.timedelta(days=30))
    # Curve at explicit dates.
    points = result.curve([_days(30), _days(60)])
    assert [p["date"] for p in points] == [_days(30), _days(60)]


def test_per_site_contributions_add_up(mid_study):
    horizon = _days(120)
    result = forecast(mid_study, horizon=horizon, seed=2)
    total = sum(s.expected_additional for s in result.sites)
    assert total == pytest.approx(result.enrolled_by(horizon)["mean"] - result.enrolled, rel=0.03)
    planned = [s for s in result.sites if s.status == "planned"]
    assert len(planned) == 4 and all(s.activation["p05"] > AS_OF for s in planned)
    late = next(s for s in planned if s.id == "p3")
    assert late.activation["p50"] >= _days(90)
    # A site opening around day 90 contributes less by day 120 than a typical active site.
    active = [s.expected_additional for s in result.sites if s.status == "active"]
    assert late.expected_additional < np.median(active)


def test_site_filter_forecasts_a_subset_with_the_study_fit(mid_study):
    whole = forecast(mid_study, seed=3)
    de = [s for s in mid_study.sites if s.country == "DE"]
    target = sum(s.count for s in de) + 40
    by_country = forecast(mid_study, site_filter=lambda s: s.country == "DE", target=target, seed=3)
    by_ids = forecast(mid_study, site_filter=[s.id for s in de], target=target, seed=3)
    assert by_country.enrolled == sum(s.count for s in de) and by_country.target == target
    assert [s.id for s in by_country.sites] == [s.id for s in de]
    assert by_country.fit.alpha == whole.fit.alpha  # the rate distribution comes from the whole study
    assert by_country.completion == by_ids.completion
    with pytest.raises(ValueError, match="unknown site ids: nope"):
        forecast(mid_study, site_filter=["nope"])


def test_closing_and_overridden_sites(mid_study):
    base = forecast(mid_study, seed=6)
    first = mid_study.sites[0]
    closing = Study(AS_OF, mid_study.target, (Site(first.id, activated=first.activated, enrolled=first.enrolled,
                                                   closed=_days(30)), *mid_study.sites[1:]),
                    planned_last_subject_in=mid_study.planned_last_subject_in)
    result = forecast(closing, seed=6, horizon=_days(120))
    assert result.sites[0].expected_additional < forecast(mid_study, seed=6, horizon=_days(120)).sites[0]\
        .expected_additional
    assert result.completion["p50"] >= base.completion["p50"]
    stopped = forecast(Study(AS_OF, mid_study.target, tuple(Site(s.id, activated=s.activated, enrolled=s.enrolled,
                                                                 planned_activation=s.planned_activation,
                                                                 rate_override_per_month=0.0)
                                                            for s in mid_study.sites)))
    assert stopped.completion["p50"] is None and "not reached within 100 years" in stopped.reason


# --------------------------------------------------------------------------- activation delays


def test_delay_model_empirical_default_and_stated():
    planned = [Site(str(i), planned_activation=_days(-100), activated=_days(-100 + d)) for i, d in
               enumerate([5, 10, 20, 40])]
    waiting = Site("w", planned_activation=_days(-30))
    model = DelayModel.from_study(Study(AS_OF, 10, (*planned, waiting)))
    assert model.method.startswith("empirical (Kaplan–Meier, 4 observed delays")
    u = np.random.default_rng(0).random((2, 5000))
    e = np.random.default_rng(1).standard_exponential((2, 5000))
    d = model.sample(np.array([30.0, -20.0]), u, e)
    # Kaplan–Meier with "w" censored at 30 days: S = 0.8, 0.6, 0.4 after 5, 10, 20 days, 0 after 40.
    assert (d[0] == 40).all()  # "w" is 30 days late already: of the observed delays only 40 is longer
    assert set(np.unique(d[1])) == {5.0, 10.0, 20.0, 40.0}
    assert [np.mean(d[1] == v) for v in (5, 10, 20, 40)] == pytest.approx([0.2, 0.2, 0.2, 0.4], abs=0.02)

    default = DelayModel.from_study(Study(AS_OF, 10, (waiting,)))
    assert default.method.startswith("default: mean 30 days, sd 21")
    d = default.sample(np.array([-60.0]), u[:1], e[:1])
    assert d.mean() == pytest.approx(30, rel=0.05) and d.std() == pytest.approx(21, rel=0.08)
    stated = DelayModel.from_study(Study(AS_OF, 10, (waiting,), activation_delay=ActivationDelay(0, 0)))
    assert stated.sample(np.array([-60.0, 5.0]), u, e)[:, 0].tolist() == [0.0, 6.0]


def test_study_rejects_inconsistent_sites():
    with pytest.raises(ValueError, match="duplicate site id"):
        Study(AS_OF, 1, (Site("a", activated=AS_OF), Site("a", activated=AS_OF)))
    with pytest.raises(ValueError, match="enrolment dates outside"):
        Study(AS_OF, 1, (Site("a", activated=AS_OF, enrolled=(_days(1),)),))
    with pytest.raises(ValueError, match="needs activated or planned_activation"):
        Study(AS_OF, 1, (Site("a"),))
