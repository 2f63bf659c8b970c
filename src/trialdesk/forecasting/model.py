"""The Poisson–gamma enrollment model (Anisimov & Fedorov, Statistics in Medicine 2007).

Pure Python + numpy/scipy; no Django. Time runs in days: ``t = 0`` is the end of the
``as_of`` day (the data cut); a site activated on day ``a`` recruits from the start of ``a``,
so its active time up to the cut is ``tau = (as_of - a).days + 1``. Rates are per day inside
and per month (:data:`MONTH_DAYS` days) in everything a person reads.

Model
    Site ``i`` recruits as a Poisson process with rate ``lambda_i`` while active;
    ``lambda_i ~ Gamma(alpha, beta)`` (shape, rate) across sites. Marginally the count ``k_i``
    in active time ``tau_i`` is negative binomial, which gives the likelihood for
    ``theta = (log alpha, log mu)``, ``mu = alpha / beta`` the mean rate.

Estimation (:func:`fit_population`, rule in docs/forecasting.md)
    * ``ml``: at least :data:`ML_MIN_SITES` active sites, :data:`ML_MIN_SITE_MONTHS` site-months
      and :data:`ML_MIN_SUBJECTS` subjects: maximum likelihood with only weak penalties
      (Jeffreys ``mu^-1/2`` on the mean rate; ``log alpha ~ N(log 2, 1.5^2)``, centred on
      ``1/cv^2`` instead when a prior is given) so that all-zero or under-dispersed counts
      (``mu -> 0``, ``alpha -> inf``) keep a finite, proper answer.
    * ``blend``: less data than that but a prior (input ``prior`` or the sites' planned rates):
      the prior enters as a hyperprior ``log mu ~ N(log mu0 - mean_cv^2/2, mean_cv^2)``
      (so ``E[mu] = mu0``), ``log alpha ~ N(log(1/cv^2), 0.5^2)``, updated by whatever data exist.
    * ``prior``: no active site yet: the prior alone (point values ``alpha = 1/cv^2``,
      ``beta = alpha / mu0``).
    * ``weak``: little data and no prior: the ``ml`` penalties, labelled as few data.

    The uncertainty of ``(alpha, beta)`` is carried into every prediction: parameter draws come
    from the posterior of ``theta`` (Laplace approximation at the mode, from the observed
    information, used as a Student-t proposal and corrected by importance resampling).

Prediction (:func:`forecast`)
    Per simulation: parameters ``(alpha_s, beta_s)``; an active site's rate from its posterior
    ``Gamma(alpha_s + k_i, beta_s + tau_i)``; a planned site's from ``Gamma(alpha_s, beta_s / w_i)``
    (``w_i`` its planned rate relative to the study's reference planned rate) and its activation
    date from the activation-delay model (:class:`DelayModel`). The total rate is piecewise
    constant; the time to ``n`` more subjects is exactly ``T`` with ``Lambda(T) = E``,
    ``E ~ Gamma(n, 1)`` (``Lambda`` the cumulative intensity), found by inverting the piecewise
    linear ``Lambda`` for all simulations at once (:func:`invert_cumulative_intensity`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import optimize, special, stats

__all__ = [
    "MONTH_DAYS",
    "ActivationDelay",
    "DelayModel",
    "Forecast",
    "PopulationFit",
    "Prior",
    "Site",
    "SiteForecast",
    "Study",
    "cumulative_intensity_at",
    "fit_population",
    "forecast",
    "invert_cumulative_intensity",
    "nb_loglik",
    "site_posterior",
]

MONTH_DAYS = 30.4375  # 365.25 / 12

# Regime rule (documented in docs/forecasting.md).
ML_MIN_SITES = 5
ML_MIN_SITE_MONTHS = 6.0
ML_MIN_SUBJECTS = 10
WEAK_ALPHA_CENTER = 2.0  # cv ~0.7, a middling between-site spread for multicentre trials
WEAK_LOG_ALPHA_SD = 1.5
PRIOR_LOG_ALPHA_SD = 0.5
DEFAULT_PRIOR_CV = 0.5
MAX_PROPOSALS = 1000
PROPOSAL_DF = 5
PROPOSAL_INFLATION = 1.3

# Activation delays: the study's own when it has this many observed delays, else a default.
DELAY_MIN_EVENTS = 3
DEFAULT_DELAY_MEAN_DAYS = 30.0
DEFAULT_DELAY_SD_DAYS = 21.0
DELAY_TAIL_MIN_DAYS = 14.0

MAX_FORECAST_DAYS = 36525  # beyond 100 years a completion date is reported as "not reached"
MAX_CURVE_DAYS = 3653
CURVE_POINTS = 60
SITE_QUANTILE_DRAWS = 2000

# Independent random streams, so a what-if that adds a site leaves the other draws untouched.
_STREAM_FIT, _STREAM_RATES, _STREAM_ACT_U, _STREAM_ACT_E, _STREAM_DONE, _STREAM_CURVE, _STREAM_BY = range(1, 8)


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Prior:
    """Planned recruitment: a typical site recruits ``rate_per_month`` with between-site cv ``cv``;
    the study-wide mean rate itself is uncertain by ``mean_cv`` (sd on the log scale; default:
    the same as ``cv``, the stated uncertainty applying to the plan as a whole too)."""

    rate_per_month: float
    cv: float = DEFAULT_PRIOR_CV
    mean_cv: float | None = None

    def __post_init__(self) -> None:
        if self.mean_cv is None:
            object.__setattr__(self, "mean_cv", self.cv)
        if not (self.rate_per_month > 0 and self.cv > 0 and self.mean_cv >= 0):
            raise ValueError("prior needs rate_per_month > 0, cv > 0 and mean_cv >= 0")

    @property
    def alpha(self) -> float:
        return 1.0 / self.cv**2

    @property
    def beta(self) -> float:
        """Gamma rate parameter, per day."""
        return self.alpha / (self.rate_per_month / MONTH_DAYS)


@dataclass(frozen=True)
class ActivationDelay:
    """A stated activation delay (actual minus planned activation, days): a gamma distribution
    with this mean and sd; ``sd_days = 0`` means exactly ``mean_days``."""

    mean_days: float
    sd_days: float

    def __post_init__(self) -> None:
        if self.mean_days < 0 or self.sd_days < 0 or (self.sd_days > 0 and self.mean_days == 0):
            raise ValueError("activation delay needs mean_days >= 0, sd_days >= 0 and mean_days > 0 when sd_days > 0")


@dataclass(frozen=True)
class Site:
    """One site. Active when ``activated`` is set (on or before the study's ``as_of``), otherwise
    planned (``planned_activation``). ``enrolled`` holds one date per subject; month counts are
    represented by the month's last day (or ``as_of``), and ``enrolled_exact`` is then False.
    ``closed`` is the last day the site recruits (a planned closure may lie in the future).
    ``rate_override_per_month`` fixes the site's future rate (what-if)."""

    id: str
    activated: dt.date | None = None
    planned_activation: dt.date | None = None
    enrolled: tuple[dt.date, ...] = ()
    enrolled_exact: bool = True
    planned_rate_per_month: float | None = None
    closed: dt.date | None = None
    screened: int | None = None
    screen_failed: int | None = None
    country: str | None = None
    rate_override_per_month: float | None = None

    @property
    def is_active(self) -> bool:
        return self.activated is not None

    @property
    def count(self) -> int:
        return len(self.enrolled)

    def active_days(self, as_of: dt.date) -> int:
        """Days recruiting up to the cut (0 for a planned site)."""
        if self.activated is None:
            return 0
        end = min(as_of, self.closed) if self.closed else as_of
        return max((end - self.activated).days + 1, 0)

    def recruiting_after(self, as_of: dt.date) -> bool:
        return self.closed is None or self.closed > as_of


@dataclass(frozen=True)
class Study:
    as_of: dt.date
    target: int
    sites: tuple[Site, ...]
    planned_last_subject_in: dt.date | None = None
    prior: Prior | None = None
    activation_delay: ActivationDelay | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for site in self.sites:
            if site.id in seen:
                raise ValueError(f"duplicate site id {site.id!r}")
            seen.add(site.id)
            if site.activated is None and site.planned_activation is None:
                raise ValueError(f"site {site.id}: needs activated or planned_activation")
            if site.activated is not None and site.activated > self.as_of:
                raise ValueError(f"site {site.id}: activated after as_of")
            if site.enrolled and site.activated is None:
                raise ValueError(f"site {site.id}: enrolled subjects but not activated")
            if site.enrolled and (min(site.enrolled) < site.activated or max(site.enrolled) > self.as_of):
                raise ValueError(f"site {site.id}: enrolment dates outside activated..as_of")
        if self.target < 0:
            raise ValueError("target must be >= 0")

    def site(self, site_id: str) -> Site:
        for site in self.sites:
            if site.id == site_id:
                return site
        raise KeyError(site_id)

    @property
    def enrolled(self) -> int:
        return sum(s.count for s in self.sites)


# --------------------------------------------------------------------------- likelihood and fit


def nb_loglik(log_alpha, log_mu, k: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Negative-binomial marginal log-likelihood of counts ``k`` in active days ``tau`` (without
    the constant ``-log k!``), summed over sites, for an array of parameter values."""
    log_alpha = np.asarray(log_alpha, dtype=float)
    log_mu = np.asarray(log_mu, dtype=float)
    alpha = np.exp(log_alpha)
    # sum_i gammaln(alpha + k_i) - gammaln(alpha), over the distinct counts only
    counts, multiplicity = np.unique(k, return_counts=True)
    lg = (special.gammaln(alpha[..., None] + counts) - special.gammaln(alpha)[..., None]) @ multiplicity
    # sum_i alpha log(alpha / (alpha + x_i)) + k_i log(x_i / (alpha + x_i)), x_i = mu tau_i
    log_tau = np.log(tau)
    log_sum = np.logaddexp(log_alpha[..., None], log_mu[..., None] + log_tau)  # log(alpha + x_i), overflow-free
    return (lg + alpha * len(k) * log_alpha + log_mu * k.sum() + k @ log_tau
            - alpha * log_sum.sum(axis=-1) - log_sum @ k)


def _nb_grad(log_alpha: float, log_mu: float, k: np.ndarray, tau: np.ndarray) -> tuple[float, float]:
    alpha, mu = math.exp(log_alpha), math.exp(log_mu)
    x = mu * tau
    d_alpha = (special.digamma(alpha + k) - special.digamma(alpha) - np.log1p(x / alpha) + 1.0
               - (alpha + k) / (alpha + x)).sum()
    d_logmu = (alpha * (k - x) / (alpha + x)).sum()
    return alpha * d_alpha, d_logmu


@dataclass(frozen=True)
class _Hyperprior:
    alpha_center: float  # log-normal prior on alpha: median
    alpha_sd: float
    mu_center: float | None  # log-normal prior on mu (per day): log-scale mean; None = Jeffreys
    mu_sd: float

    def logpdf(self, log_alpha, log_mu):
        out = -0.5 * ((np.asarray(log_alpha) - math.log(self.alpha_center)) / self.alpha_sd) ** 2
        if self.mu_center is None:
            return out + 0.5 * np.asarray(log_mu)  # Jeffreys p(mu) ~ mu^-1/2, on the log scale
        return out - 0.5 * ((np.asarray(log_mu) - self.mu_center) / self.mu_sd) ** 2

    def grad(self, log_alpha: float, log_mu: float) -> tuple[float, float]:
        g_a = -(log_alpha - math.log(self.alpha_center)) / self.alpha_sd**2
        g_m = 0.5 if self.mu_center is None else -(log_mu - self.mu_center) / self.mu_sd**2
        return g_a, g_m

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        log_alpha = rng.normal(math.log(self.alpha_center), self.alpha_sd, n)
        log_mu = rng.normal(self.mu_center, self.mu_sd, n)
        return np.column_stack([log_alpha, log_mu])


@dataclass(frozen=True)
class PopulationFit:
    """The fitted rate distribution across sites and draws of its parameters for simulation."""

    regime: str  # "ml", "blend", "prior", "weak" or "none" (no rate information at all)
    method: str  # human-readable, names the regime and the data used
    alpha: float  # point estimate (posterior mode); nan when regime == "none"
    beta: float  # per day
    alpha_draws: np.ndarray = field(repr=False)
    beta_draws: np.ndarray = field(repr=False)
    n_sites: int = 0
    site_days: float = 0.0
    subjects: int = 0
    reference_rate: float | None = None  # per day; planned rates are read relative to it
    effective_draws: float = 0.0  # importance-sampling effective sample size

    @property
    def mean_rate_per_month(self) -> float:
        return self.alpha / self.beta * MONTH_DAYS

    @property
    def cv(self) -> float:
        return 1.0 / math.sqrt(self.alpha)

    @property
    def draws(self) -> int:
        return len(self.alpha_draws)

    def site_weight(self, site: Site) -> float:
        """A planned site's expected rate relative to the fitted mean (its planned rate over the
        reference planned rate; 1 without a planned rate)."""
        if site.planned_rate_per_month is None or not self.reference_rate:
            return 1.0
        return site.planned_rate_per_month / MONTH_DAYS / self.reference_rate


def site_posterior(alpha: float, beta: float, k: int, tau: float) -> tuple[float, float]:
    """Posterior (shape, rate per day) of a site's rate after ``k`` subjects in ``tau`` days."""
    return alpha + k, beta + tau


def _prior_info(study: Study) -> tuple[float, float, float] | None:
    """(mean rate per day, cv, mean_cv) from the study's prior, else from the sites' planned rates."""
    if study.prior is not None:
        p = study.prior
        return p.rate_per_month / MONTH_DAYS, p.cv, p.mean_cv
    planned = [s.planned_rate_per_month for s in study.sites if s.planned_rate_per_month is not None]
    if planned and sum(planned) > 0:
        return float(np.mean(planned)) / MONTH_DAYS, DEFAULT_PRIOR_CV, DEFAULT_PRIOR_CV
    return None


def _reference_rate(study: Study, mu_hat: float) -> float | None:
    active = [s.planned_rate_per_month for s in study.sites if s.is_active and s.planned_rate_per_month is not None]
    planned = active or [s.planned_rate_per_month for s in study.sites if s.planned_rate_per_month is not None]
    if planned and float(np.mean(planned)) > 0:
        return float(np.mean(planned)) / MONTH_DAYS
    return mu_hat if math.isfinite(mu_hat) and mu_hat > 0 else None


def _mode(hyper: _Hyperprior, k: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mode of theta and the negative Hessian there (observed information + prior)."""

    def neg(theta):
        a, m = theta
        value = -(nb_loglik(a, m, k, tau) + hyper.logpdf(a, m))
        ga, gm = _nb_grad(a, m, k, tau)
        pa, pm = hyper.grad(a, m)
        return float(value), -np.array([ga + pa, gm + pm])

    pooled = (k.sum() + 0.5) / tau.sum()
    start = np.array([math.log(hyper.alpha_center), math.log(pooled)])
    bounds = [(-7.0, 14.0), (math.log(pooled) - 12.0, math.log(pooled) + 12.0)]
    # BFGS first: scipy's L-BFGS-B is ~30x slower per call on this 2-parameter problem. The bounded
    # method is the fallback should BFGS wander off to absurd values.
    res = optimize.minimize(neg, start, jac=True, method="BFGS")
    if not (np.all(np.isfinite(res.x)) and all(lo <= x <= hi for x, (lo, hi) in zip(res.x, bounds, strict=True))):
        res = optimize.minimize(neg, start, jac=True, method="L-BFGS-B", bounds=bounds)
    theta = res.x
    h = 1e-4
    hess = np.empty((2, 2))
    for j in range(2):
        step = np.zeros(2)
        step[j] = h
        hess[:, j] = (neg(theta + step)[1] - neg(theta - step)[1]) / (2 * h)
    hess = 0.5 * (hess + hess.T)
    vals, vecs = np.linalg.eigh(hess)
    vals = np.clip(vals, 1e-4, None)  # a flat direction still gets a finite (wide) proposal
    return theta, (vecs * vals) @ vecs.T


def _sample_posterior(hyper: _Hyperprior, k: np.ndarray, tau: np.ndarray, n: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Draws of theta from its posterior: Student-t proposal around the mode (Laplace scale),
    importance weights to the exact posterior, then systematic resampling."""
    theta, info = _mode(hyper, k, tau)
    cov = np.linalg.inv(info) * PROPOSAL_INFLATION**2
    m = MAX_PROPOSALS
    ess = 0.0
    for _ in range(2):  # a second round re-centres the proposal on the weighted draws if needed
        proposal = stats.multivariate_t(loc=theta, shape=cov, df=PROPOSAL_DF)
        draws = np.atleast_2d(proposal.rvs(size=m, random_state=rng))
        logw = nb_loglik(draws[:, 0], draws[:, 1], k, tau) + hyper.logpdf(draws[:, 0], draws[:, 1])
        logw -= proposal.logpdf(draws)
        logw = np.where(np.isfinite(logw), logw, -np.inf)
        w = np.exp(logw - logw.max())
        w /= w.sum()
        ess = 1.0 / float(np.sum(w**2))
        if ess >= 0.2 * m:
            break
        theta = w @ draws
        centred = draws - theta
        cov = (centred * w[:, None]).T @ centred * PROPOSAL_INFLATION**2 + np.eye(2) * 1e-6
    positions = (rng.random() + np.arange(n)) / n
    idx = np.minimum(np.searchsorted(np.cumsum(w), positions), m - 1)
    chosen = draws[idx]
    return theta, chosen, ess


def fit_population(study: Study, *, draws: int = 4000, seed: int = 0) -> PopulationFit:
    """Estimate the between-site rate distribution Gamma(alpha, beta) and draw its parameters."""
    rng = np.random.default_rng([seed, _STREAM_FIT])
    active = [s for s in study.sites if s.is_active and s.active_days(study.as_of) > 0]
    k = np.array([s.count for s in active], dtype=float)
    tau = np.array([s.active_days(study.as_of) for s in active], dtype=float)
    n_sites, site_days, subjects = len(active), float(tau.sum()), int(k.sum())
    data_txt = f"n={n_sites} active sites, {site_days / MONTH_DAYS:.1f} site-months, {subjects} subjects"
    info = _prior_info(study)
    enough = n_sites >= ML_MIN_SITES and site_days >= ML_MIN_SITE_MONTHS * MONTH_DAYS and subjects >= ML_MIN_SUBJECTS

    if enough or (info is None and n_sites > 0):
        center = study.prior.alpha if study.prior is not None else WEAK_ALPHA_CENTER
        hyper = _Hyperprior(center, WEAK_LOG_ALPHA_SD, None, 0.0)
        regime = "ml" if enough else "weak"
        method = (f"poisson-gamma ML ({data_txt})" if enough
                  else f"poisson-gamma ML, weak prior (few data: {data_txt}; no prior or planned rates)")
    elif info is not None:
        mu0, cv, mean_cv = info
        sd = max(mean_cv, 0.01)
        # Centred so that E[mu] = mu0 (log-normal mean correction).
        hyper = _Hyperprior(1.0 / cv**2, PRIOR_LOG_ALPHA_SD, math.log(mu0) - sd**2 / 2, sd)
        source = "prior" if study.prior is not None else "planned rates"
        prior_txt = f"{mu0 * MONTH_DAYS:.2f}/month per site, cv {cv:.2f} ({source})"
        if n_sites == 0:
            regime, method = "prior", f"prior (no recruitment data yet: {prior_txt})"
        else:
            regime, method = "blend", f"empirical Bayes: {prior_txt} updated by few data ({data_txt})"
    else:
        nan = float("nan")
        return PopulationFit("none", "none (no recruitment data, planned rates or prior)", nan, nan,
                             np.full(draws, nan), np.full(draws, nan), 0, 0.0, 0, None, 0.0)

    if n_sites == 0:
        # No likelihood: the hyperprior is the posterior; its mode gives the stated point values.
        theta = np.array([math.log(hyper.alpha_center), math.log(info[0])])
        chosen, ess = hyper.sample(rng, draws), float(draws)
    else:
        theta, chosen, ess = _sample_posterior(hyper, k, tau, draws, rng)
    alpha_hat, mu_hat = math.exp(theta[0]), math.exp(theta[1])
    alpha_d = np.exp(chosen[:, 0])
    beta_d = alpha_d / np.exp(chosen[:, 1])
    return PopulationFit(regime, method, alpha_hat, alpha_hat / mu_hat, alpha_d, beta_d, n_sites, site_days,
                         subjects, _reference_rate(study, mu_hat), ess)


# --------------------------------------------------------------------------- activation delays


@dataclass(frozen=True)
class DelayModel:
    """Distribution of ``D = actual - planned activation`` (days), sampled conditionally on the
    site not being active at the cut (``D > as_of - planned``).

    ``empirical``: Kaplan–Meier estimate from the study's sites with both dates, sites still
    waiting counting as censored at their current delay; mass beyond the longest observed delay
    (and the residual delay of sites already later than every observed one) is exponential with
    mean ``tail_mean``. Otherwise a gamma with the stated or default mean/sd."""

    method: str
    times: np.ndarray = field(repr=False)  # Kaplan–Meier event times (days)
    survival: np.ndarray = field(repr=False)  # S(t) just after each time
    tail_mean: float = DELAY_TAIL_MIN_DAYS
    mean_days: float = DEFAULT_DELAY_MEAN_DAYS
    sd_days: float = DEFAULT_DELAY_SD_DAYS
    n_observed: int = 0

    @classmethod
    def from_study(cls, study: Study) -> DelayModel:
        delays = [(s.activated - s.planned_activation).days for s in study.sites
                  if s.activated is not None and s.planned_activation is not None]
        if study.activation_delay is not None:
            spec = study.activation_delay
            return cls(f"stated: mean {spec.mean_days:g} days, sd {spec.sd_days:g}", np.empty(0), np.empty(0),
                       max(spec.mean_days, DELAY_TAIL_MIN_DAYS), spec.mean_days, spec.sd_days, len(delays))
        if len(delays) < DELAY_MIN_EVENTS:
            return cls(f"default: mean {DEFAULT_DELAY_MEAN_DAYS:g} days, sd {DEFAULT_DELAY_SD_DAYS:g} "
                       f"(fewer than {DELAY_MIN_EVENTS} observed delays)", np.empty(0), np.empty(0),
                       DEFAULT_DELAY_MEAN_DAYS, n_observed=len(delays))
        censored = np.array([(study.as_of - s.planned_activation).days for s in study.sites
                             if s.activated is None and s.planned_activation is not None], dtype=float)
        events = np.array(delays, dtype=float)
        times = np.unique(events)
        at_risk = (events[None, :] >= times[:, None]).sum(1) + (censored[None, :] >= times[:, None]).sum(1)
        died = (events[None, :] == times[:, None]).sum(1)
        survival = np.cumprod(1.0 - died / at_risk)
        tail = max(DELAY_TAIL_MIN_DAYS, float(np.clip(events, 0, None).mean()))
        return cls(f"empirical (Kaplan–Meier, {len(delays)} observed delays, median "
                   f"{float(np.median(events)):g} days)", times, survival, tail, n_observed=len(delays))

    def sample(self, overdue: np.ndarray, u: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Delays (P, S) for sites whose delay already exceeds ``overdue`` (P,) days, from
        uniforms ``u`` and standard exponentials ``e`` (both (P, S))."""
        o = overdue[:, None]
        if self.times.size:
            last = self.times.size - 1
            idx = np.searchsorted(self.times, overdue, side="right")
            s_o = np.where(idx > 0, self.survival[np.maximum(idx - 1, 0)], 1.0)
            # Inverse CDF of the conditional law: the first event time whose survival is <= u * S(o).
            target = u * s_o[:, None]
            np.negative(target, out=target)
            j = np.searchsorted(-self.survival, target.ravel(), side="left").reshape(target.shape)
            d = self.times[np.minimum(j, last)]
            tail = j > last
            tail[s_o <= 0] = True  # later than every observed delay: only the tail is left
            if tail.any():
                start = np.broadcast_to(np.maximum(self.times[last], o), d.shape)
                d[tail] = start[tail] + e[tail] * self.tail_mean
            return d
        low = np.maximum(o + 1.0, 0.0)  # activation on the day after the cut at the earliest
        if self.sd_days == 0:
            return np.broadcast_to(np.maximum(self.mean_days, low), u.shape).astype(float)
        shape = (self.mean_days / self.sd_days) ** 2
        scale = self.sd_days**2 / self.mean_days
        sf_low = stats.gamma.sf(low, shape, scale=scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = gamma_isf(u * sf_low, shape, scale)
        far = (sf_low <= 1e-12) | ~np.isfinite(d)
        return np.where(far, low + e * self.tail_mean, np.maximum(d, low))


# The gamma inverse survival function is the costliest step of a large forecast (an inverse incomplete gamma
# per site and simulation: 1.2 million for 300 waiting sites). `gamma_isf` reads it from a table of the
# survival function on a grid of GAMMA_ISF_STEP (in units of the scale) instead: between two grid points
# the answer is interpolated, so it is off by less than one step (0.001 x scale, under 0.01 day for the
# default delay), and exact (scipy) below the table's smallest probability.
GAMMA_ISF_STEP = 1e-3
GAMMA_ISF_MIN_Q = 1e-12


@functools.lru_cache(maxsize=16)
def _gamma_sf_table(shape: float) -> tuple[np.ndarray, np.ndarray]:
    """(q, x) of the unit-scale gamma: q = sf(x) decreasing on an even x grid, both reversed (q increasing)."""
    x_max = float(special.gammainccinv(shape, GAMMA_ISF_MIN_Q))
    x = np.arange(0.0, x_max + GAMMA_ISF_STEP, GAMMA_ISF_STEP)
    q = special.gammaincc(shape, x)
    return q[::-1].copy(), x[::-1].copy()


def gamma_isf(q: np.ndarray, shape: float, scale: float) -> np.ndarray:
    """x with P(X > x) = q for X ~ Gamma(shape, scale), within GAMMA_ISF_STEP x scale (see above)."""
    q = np.asarray(q, dtype=float)
    table_q, table_x = _gamma_sf_table(float(shape))
    out = np.interp(q, table_q, table_x)
    small = q < table_q[0]
    if small.any():
        out[small] = special.gammainccinv(shape, q[small])
    return out * scale


# --------------------------------------------------------------------------- cumulative intensity


def invert_cumulative_intensity(times: np.ndarray, rates: np.ndarray, targets: np.ndarray,
                                cum: np.ndarray | None = None) -> np.ndarray:
    """Exact ``T`` with ``Lambda(T) = targets`` per row, for a piecewise-constant rate.

    ``times`` (S, m) are each row's sorted change points with ``times[:, 0] = 0``; ``rates``
    (S, m) the rate on ``[times[j], times[j+1])`` (the last one holds for ever). Rows whose
    intensity never reaches the target give ``inf``."""
    if cum is None:
        cum = _cumulative(times, rates)
    targets = np.asarray(targets, dtype=float)
    # The segment in which the target falls: the last change point whose intensity is still below it.
    j = np.maximum((cum < targets[:, None]).sum(axis=1) - 1, 0)
    rows = np.arange(len(targets))
    rate = rates[rows, j]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # tiny rates: inf is the answer
        out = times[rows, j] + (targets - cum[rows, j]) / rate
    return np.where(rate > 0, out, np.inf)


def _cumulative(times: np.ndarray, rates: np.ndarray) -> np.ndarray:
    cum = np.zeros_like(times)
    if times.shape[1] > 1:
        np.cumsum(rates[:, :-1] * np.diff(times, axis=1), axis=1, out=cum[:, 1:])
    return cum


def cumulative_intensity_at(times: np.ndarray, rates: np.ndarray, cum: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``Lambda(t)`` (S, G) for query times ``at`` (G,), all >= 0, per row of the step function."""
    at = np.asarray(at, dtype=float)
    s, m = times.shape
    # Shift each row into its own band so that one searchsorted serves every row.
    width = float(max(times.max(), at.max())) + 1.0
    offsets = np.arange(s, dtype=float)[:, None] * width
    flat = (times + offsets).ravel()
    idx = np.searchsorted(flat, (at[None, :] + offsets).ravel(), side="right").reshape(s, len(at)) - 1
    j = idx - np.arange(s)[:, None] * m
    rows = np.arange(s)[:, None]
    return cum[rows, j] + rates[rows, j] * (at[None, :] - times[rows, j])


# --------------------------------------------------------------------------- forecast


@dataclass(frozen=True)
class SiteForecast:
    id: str
    status: str  # "active", "planned" or "closed"
    enrolled: int
    rate_per_month: dict[str, float]  # p05, p50, p95 of the site's (posterior) rate
    rate_mean_per_month: float
    expected_additional: float  # expected further subjects by the forecast's horizon
    activation: dict[str, dt.date] | None = None  # p05/p50/p95 of a planned site's activation


def _quantiles(values: np.ndarray, axis: int = 0) -> np.ndarray:
    return np.quantile(values, [0.05, 0.5, 0.95], axis=axis, method="inverted_cdf")


def _day_after(as_of: dt.date, t: float) -> dt.date | None:
    """The calendar day on which continuous time ``t`` (> 0) falls; None beyond the horizon."""
    if not math.isfinite(t) or t > MAX_FORECAST_DAYS:
        return None
    return as_of + dt.timedelta(days=max(math.ceil(t), 1))


class Forecast:
    """A forecast for a study or a subset of its sites. Built by :func:`forecast`."""

    def __init__(self, *, study: Study, sites: tuple[Site, ...], target: int, fit: PopulationFit,
                 delays: DelayModel, seed: int, simulations: int, horizon: dt.date | None) -> None:
        self.study = study
        self.as_of = study.as_of
        self.selected = sites
        self.target = target
        self.fit = fit
        self.delays = delays
        self.seed = seed
        self.simulations = simulations
        self.method = fit.method
        self.enrolled = sum(s.count for s in sites)
        self.remaining = max(target - self.enrolled, 0)
        self.reason: str | None = None
        self.completion: dict[str, dt.date | None] | None = None
        self.probability_on_time: float | None = None
        self.reached_on: dt.date | None = None
        self._horizon_arg = horizon
        self._sim: _Simulation | None = None
        self._completion_days: np.ndarray | None = None

    # -- results

    @property
    def horizon(self) -> dt.date:
        """Date up to which per-site expected additional subjects are counted: the given horizon,
        else the median completion date, else the planned last-subject-in, else a year out."""
        if self._horizon_arg is not None:
            return self._horizon_arg
        if self.completion and self.completion["p50"] and self.completion["p50"] > self.as_of:
            return self.completion["p50"]
        lsi = self.study.planned_last_subject_in
        return lsi if lsi and lsi > self.as_of else self.as_of + dt.timedelta(days=365)

    def _actual_by(self, day: dt.date) -> int:
        return sum(1 for s in self.selected for d in s.enrolled if d <= day)

    def enrolled_by(self, day: dt.date) -> dict[str, float]:
        """Subjects enrolled by the end of ``day``: mean and p05/p50/p95 (actual count if past)."""
        if day <= self.as_of or self._sim is None:
            n = float(self._actual_by(min(day, self.as_of)))
            if day > self.as_of and self._unknown_future:
                n = float("nan")  # sites may still recruit, at rates nothing tells us
            return {"mean": n, "p05": n, "p50": n, "p95": n}
        t = float((day - self.as_of).days)
        lam = self._sim.intensity_at(np.array([t]))[:, 0]
        rng = np.random.default_rng([self.seed, _STREAM_BY, int(t)])
        n = self.enrolled + rng.poisson(lam)
        q = _quantiles(n)
        return {"mean": float(n.mean()), "p05": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}

    @property
    def _unknown_future(self) -> bool:
        return self.fit.regime == "none" and any(s.recruiting_after(self.as_of) for s in self.selected)

    def default_grid(self) -> list[dt.date]:
        ends = [self.study.planned_last_subject_in]
        if self.completion:
            ends.append(self.completion["p95"])
        end = max([d for d in ends if d is not None and d > self.as_of], default=None)
        days = min((end - self.as_of).days if end else 365, MAX_CURVE_DAYS)
        step = max(1, math.ceil(days / CURVE_POINTS))
        return [self.as_of + dt.timedelta(days=d) for d in range(0, days + step, step)]

    def curve(self, dates: Sequence[dt.date] | None = None) -> list[dict]:
        """Enrolled by each date (default grid: the cut to the later of p95 completion and the planned
        last-subject-in), as consistent simulated paths: [{date, mean, p05, p50, p95}]."""
        dates = sorted(set(dates)) if dates is not None else self.default_grid()
        future = [d for d in dates if d > self.as_of]
        out = [{"date": d, **self.enrolled_by(d)} for d in dates if d <= self.as_of]
        if future and self._sim is not None:
            t = np.array([(d - self.as_of).days for d in future], dtype=float)
            lam = self._sim.intensity_at(t)
            rng = np.random.default_rng([self.seed, _STREAM_CURVE])
            steps = np.diff(lam, axis=1, prepend=0.0)
            n = self.enrolled + np.cumsum(rng.poisson(np.clip(steps, 0, None)), axis=1)
            q = _quantiles(n)
            mean = n.mean(axis=0)
            for g, d in enumerate(future):
                out.append({"date": d, "mean": float(mean[g]), "p05": float(q[0, g]), "p50": float(q[1, g]),
                            "p95": float(q[2, g])})
        elif future:
            out.extend({"date": d, **self.enrolled_by(d)} for d in future)
        return out

    @cached_property
    def sites(self) -> list[SiteForecast]:
        """Per site: posterior rate quantiles (per month) and expected additional subjects by
        :attr:`horizon`; planned sites also get their activation-date quantiles."""
        status = ["planned" if not s.is_active else "active" if s.recruiting_after(self.as_of) else "closed"
                  for s in self.selected]
        sim = self._sim
        if sim is None:
            nan = float("nan")
            return [SiteForecast(s.id, st, s.count, {"p05": nan, "p50": nan, "p95": nan}, nan, 0.0)
                    for s, st in zip(self.selected, status, strict=True)]
        h = float((self.horizon - self.as_of).days)
        # Quantiles from the first SITE_QUANTILE_DRAWS simulations: ample for two decimals, half the cost.
        q = _quantiles(sim.rates[:, :SITE_QUANTILE_DRAWS], axis=1) * MONTH_DAYS
        mean = sim.rates.mean(axis=1)
        extra = mean * np.clip(np.minimum(sim.ends, h), 0.0, None)
        activation = {}
        if sim.pending.size:
            starts = sim.starts
            exposure = np.clip(np.minimum(sim.ends[sim.pending][:, None], h) - starts, 0.0, None)
            extra[sim.pending] = (sim.rates[sim.pending] * exposure).mean(axis=1)
            aq = _quantiles(starts, axis=1)
            for row, i in enumerate(sim.pending):
                activation[int(i)] = {name: self.as_of + dt.timedelta(days=math.floor(aq[j, row]) + 1)
                                      for j, name in enumerate(("p05", "p50", "p95"))}
        return [SiteForecast(s.id, status[i], s.count,
                             {"p05": float(q[0, i]), "p50": float(q[1, i]), "p95": float(q[2, i])},
                             float(mean[i] * MONTH_DAYS), float(extra[i]), activation.get(i))
                for i, s in enumerate(self.selected)]

    @property
    def completion_days(self) -> np.ndarray | None:
        """Simulated days from the cut to the target (None when reached or not forecastable)."""
        return self._completion_days


@dataclass
class _Simulation:
    rates: np.ndarray  # (n, S) per-day rate of each selected site
    pending: np.ndarray  # (P,) indices of the planned sites among the selected
    starts: np.ndarray  # (P, S) their opening time (days after the cut)
    ends: np.ndarray  # (n,) last recruiting moment of each site (inf if open-ended)
    times: np.ndarray  # (S, m) change points of the total rate, column 0 = 0
    total: np.ndarray  # (S, m) total rate from each change point
    cum: np.ndarray  # (S, m) cumulative intensity at each change point

    def intensity_at(self, t: np.ndarray) -> np.ndarray:
        return cumulative_intensity_at(self.times, self.total, self.cum, t)


def _select(study: Study, site_filter) -> tuple[Site, ...]:
    if site_filter is None:
        return study.sites
    if callable(site_filter):
        return tuple(s for s in study.sites if site_filter(s))
    wanted = {str(x) for x in site_filter}
    unknown = wanted - {s.id for s in study.sites}
    if unknown:
        raise ValueError(f"unknown site ids: {', '.join(sorted(unknown))}")
    return tuple(s for s in study.sites if s.id in wanted)


# Sites drawn per block: the draws are the same as in one call (each stream is consumed in the same order),
# but the temporaries are block x simulations instead of sites x simulations (a 1,200-site study at 4,000
# simulations would otherwise hold several 40 MB arrays at once).
_BLOCK_SITES = 64


def _blocks(n: int):
    for lo in range(0, n, _BLOCK_SITES):
        yield slice(lo, min(lo + _BLOCK_SITES, n))


def _simulate(study: Study, sites: tuple[Site, ...], fit: PopulationFit, delays: DelayModel,
              seed: int) -> _Simulation:
    as_of = study.as_of
    n_sims = fit.draws
    alpha, beta = fit.alpha_draws, fit.beta_draws
    act = np.array([i for i, s in enumerate(sites) if s.is_active], dtype=int)
    pend = np.array([i for i, s in enumerate(sites) if not s.is_active], dtype=int)
    rates = np.empty((len(sites), n_sims))
    # Active and planned sites draw from separate streams, each in study order: a what-if that
    # appends a site or closes one leaves every other site's draws unchanged.
    if act.size:
        k = np.array([sites[i].count for i in act], dtype=float)[:, None]
        tau = np.array([sites[i].active_days(as_of) for i in act], dtype=float)[:, None]
        rng = np.random.default_rng([seed, _STREAM_RATES, 0])
        for b in _blocks(act.size):
            g = rng.standard_gamma(alpha + k[b])
            g /= beta + tau[b]
            rates[act[b]] = g
    if pend.size:
        w = np.array([fit.site_weight(sites[i]) for i in pend])[:, None]
        rng = np.random.default_rng([seed, _STREAM_RATES, 1])
        for b in _blocks(pend.size):
            g = rng.standard_gamma(alpha, size=(b.stop - b.start, n_sims))
            g *= w[b] / beta
            rates[pend[b]] = g
    for i, site in enumerate(sites):
        if site.rate_override_per_month is not None:
            rates[i] = site.rate_override_per_month / MONTH_DAYS

    ends = np.array([(s.closed - as_of).days if s.closed else np.inf for s in sites], dtype=float)
    starts = np.zeros((pend.size, n_sims))
    if pend.size:
        rng_u = np.random.default_rng([seed, _STREAM_ACT_U])
        rng_e = np.random.default_rng([seed, _STREAM_ACT_E])
        overdue = np.array([(as_of - sites[i].planned_activation).days for i in pend], dtype=float)
        for b in _blocks(pend.size):
            u = rng_u.random((b.stop - b.start, n_sims))
            e = rng_e.standard_exponential((b.stop - b.start, n_sims))
            d = delays.sample(overdue[b], u, e)
            np.maximum(d - overdue[b, None] - 1.0, 0.0, out=starts[b])  # opening day = planned + D

    recruiting = act[ends[act] > 0] if act.size else act
    total0 = rates[recruiting].sum(axis=0) if recruiting.size else np.zeros(n_sims)
    # Change points after the cut: planned sites opening, sites closing (a planned site that
    # would close before it opens never recruits).
    ev_t, ev_d = [], []
    if pend.size:
        pend_rates = rates[pend]
        if np.isfinite(ends[pend]).any():
            pend_rates[~(ends[pend][:, None] > starts)] = 0.0
        ev_t.append(starts)
        ev_d.append(pend_rates)
        closing = np.isfinite(ends[pend])
        if closing.any():
            ev_t.append(np.broadcast_to(ends[pend][closing][:, None], (int(closing.sum()), n_sims)))
            ev_d.append(-pend_rates[closing])
    closing = recruiting[np.isfinite(ends[recruiting])]
    if closing.size:
        ev_t.append(np.broadcast_to(ends[closing][:, None], (closing.size, n_sims)))
        ev_d.append(-rates[closing])
    if not ev_t:
        times = np.zeros((n_sims, 1))
        total = total0[:, None].copy()
        return _Simulation(rates, pend, starts, ends, times, total, _cumulative(times, total))
    # Each simulation's change points in time order, written straight into the (S, 1 + events) step function.
    t = np.concatenate(ev_t).T
    del ev_t
    order = np.argsort(t, axis=1)
    times = np.zeros((n_sims, 1 + t.shape[1]))
    times[:, 1:] = np.take_along_axis(t, order, axis=1)
    del t
    dlt = np.concatenate(ev_d).T
    del ev_d
    steps = np.take_along_axis(dlt, order, axis=1)
    del dlt, order
    np.cumsum(steps, axis=1, out=steps)
    total = np.empty_like(times)
    total[:, 0] = total0
    np.add(total0[:, None], steps, out=total[:, 1:])
    del steps
    np.clip(total, 0.0, None, out=total)  # rounding
    return _Simulation(rates, pend, starts, ends, times, total, _cumulative(times, total))


def forecast(study: Study, *, target: int | None = None,
             site_filter: Callable[[Site], bool] | Collection[str] | None = None,
             simulations: int = 4000, seed: int = 0, horizon: dt.date | None = None,
             fit: PopulationFit | None = None, delays: DelayModel | None = None) -> Forecast:
    """Forecast enrolment for ``study`` (or the sites chosen by ``site_filter``: a predicate or a
    collection of site ids) towards ``target`` (default: the study's).

    The rate distribution and activation delays are always estimated from the whole study (a
    country borrows strength from the rest); ``fit``/``delays`` may be passed in to reuse them,
    as the what-if comparison does. Deterministic for a given ``seed``."""
    if simulations < 1:
        raise ValueError("simulations must be >= 1")
    sites = _select(study, site_filter)
    target = study.target if target is None else target
    if fit is None:
        fit = fit_population(study, draws=simulations, seed=seed)
    if delays is None:
        delays = DelayModel.from_study(study)
    result = Forecast(study=study, sites=sites, target=target, fit=fit, delays=delays, seed=seed,
                      simulations=fit.draws, horizon=horizon)
    lsi = study.planned_last_subject_in

    if fit.regime != "none" and sites:
        result._sim = _simulate(study, sites, fit, delays, seed)

    if result.remaining == 0:
        dates = sorted(d for s in sites for d in s.enrolled)
        reached = dates[target - 1] if target > 0 else study.as_of
        result.reached_on = reached
        result.completion = {"p05": reached, "p50": reached, "p95": reached}
        result.probability_on_time = None if lsi is None else float(reached <= lsi)
        return result

    if not any(s.recruiting_after(study.as_of) for s in sites):
        result.reason = ("no active or planned sites left to recruit" if sites else "no sites selected")
        result._sim = None
        return result
    if fit.regime == "none":
        result.reason = ("no rate information: no site has recruitment data or a planned rate, and no prior "
                         "was given")
        return result

    sim = result._sim
    u = np.random.default_rng([seed, _STREAM_DONE]).random(fit.draws)
    need = special.gammaincinv(result.remaining, u)  # E ~ Gamma(remaining, 1) by inversion
    days = invert_cumulative_intensity(sim.times, sim.total, need, cum=sim.cum)
    result._completion_days = days
    q = _quantiles(days)
    result.completion = {name: _day_after(study.as_of, float(v)) for name, v in zip(("p05", "p50", "p95"), q,
                                                                                     strict=True)}
    if lsi is not None:
        result.probability_on_time = float(np.mean(days <= (lsi - study.as_of).days))
    never = float(np.mean(~(days <= MAX_FORECAST_DAYS)))
    if result.completion["p50"] is None:
        result.reason = (f"the target of {target} is not reached within 100 years in {never:.0%} of simulations: "
                         "the remaining sites cannot recruit enough")
    elif result.completion["p95"] is None:
        result.reason = f"in {never:.0%} of simulations the target is not reached within 100 years"
    return result
