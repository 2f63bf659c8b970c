"""What-if scenarios: add or drop sites, change a site's rate or planned activation, change the
target, and see the result beside the baseline forecast. Pure; no Django.

The scenario is forecast with the baseline's fitted rate distribution and activation-delay
model and the same seed. Every site draws its random numbers from streams in study order and
added sites come last, so the sites both forecasts share get the same draws (common random
numbers): the difference between the two shows the effect of the change, not Monte Carlo noise.

Semantics: dropping a site stops its recruitment at the cut (its subjects stay enrolled and its
history still informs the fit); a rate change fixes the site's future rate; an added site is a
planned site (its optional planned rate is read like any planned rate: relative to the study's
reference planned rate, see docs/forecasting.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace

from trialdesk.forecasting.model import Forecast, Site, Study, forecast

__all__ = ["Scenario", "WhatIf", "apply_scenario", "what_if"]


@dataclass(frozen=True)
class Scenario:
    add_sites: tuple[Site, ...] = ()
    drop_sites: tuple[str, ...] = ()
    rate_changes: Mapping[str, float] = field(default_factory=dict)  # site id -> rate per month
    activation_changes: Mapping[str, dt.date] = field(default_factory=dict)  # planned site id -> date
    target: int | None = None
    label: str | None = None


def apply_scenario(study: Study, scenario: Scenario) -> Study:
    """The study as the scenario would have it (raises ValueError for unknown or clashing ids)."""
    ids = {s.id for s in study.sites}
    for site_id in (*scenario.drop_sites, *scenario.rate_changes, *scenario.activation_changes):
        if site_id not in ids:
            raise ValueError(f"scenario names unknown site {site_id!r}")
    clash = ids & {s.id for s in scenario.add_sites}
    if clash:
        raise ValueError(f"scenario adds sites that exist already: {', '.join(sorted(clash))}")
    sites = []
    for site in study.sites:
        if site.id in scenario.drop_sites:
            site = replace(site, closed=min(site.closed, study.as_of) if site.closed else study.as_of)
        if site.id in scenario.rate_changes:
            site = replace(site, rate_override_per_month=float(scenario.rate_changes[site.id]))
        if site.id in scenario.activation_changes:
            if site.is_active:
                raise ValueError(f"site {site.id!r} is already active")
            site = replace(site, planned_activation=scenario.activation_changes[site.id])
        sites.append(site)
    sites.extend(scenario.add_sites)
    target = study.target if scenario.target is None else scenario.target
    return replace(study, sites=tuple(sites), target=target)


@dataclass
class WhatIf:
    baseline: Forecast
    scenario: Forecast
    scenario_spec: Scenario

    def difference(self) -> dict:
        """Scenario minus baseline: completion quantiles in days, probability on time, and the
        expected number enrolled by the planned last-subject-in (or the baseline's horizon)."""
        base, alt = self.baseline.completion or {}, self.scenario.completion or {}
        days = {}
        for key in ("p05", "p50", "p95"):
            b, a = base.get(key), alt.get(key)
            days[key] = (a - b).days if a is not None and b is not None else None
        pb, pa = self.baseline.probability_on_time, self.scenario.probability_on_time
        when = self.baseline.study.planned_last_subject_in or self.baseline.horizon
        by_b, by_a = self.baseline.enrolled_by(when)["mean"], self.scenario.enrolled_by(when)["mean"]
        return {
            "completion_days": days,
            "probability_on_time": None if pb is None or pa is None else round(pa - pb, 3),
            "expected_enrolled_by": {"date": when.isoformat(), "baseline": round(by_b, 1),
                                     "scenario": round(by_a, 1), "change": round(by_a - by_b, 1)},
        }


def what_if(study: Study, scenario: Scenario, *, simulations: int = 4000, seed: int = 0,
            site_filter: Callable[[Site], bool] | Collection[str] | None = None,
            horizon: dt.date | None = None, target: int | None = None) -> WhatIf:
    """Forecast the baseline and the scenario side by side (see the module docstring).

    ``target`` is the baseline's (default: the study's); the scenario's is its own or the same.
    A ``site_filter`` given as ids is extended by the added sites' ids."""
    changed = apply_scenario(study, scenario)
    base = forecast(study, target=target, site_filter=site_filter, simulations=simulations, seed=seed,
                    horizon=horizon)
    alt_filter = site_filter
    if site_filter is not None and not callable(site_filter):
        alt_filter = [*site_filter, *(s.id for s in scenario.add_sites)]
    alt = forecast(changed, site_filter=alt_filter, seed=seed, horizon=horizon or base.horizon, fit=base.fit,
                   delays=base.delays, simulations=simulations,
                   target=scenario.target if scenario.target is not None else base.target)
    return WhatIf(base, alt, scenario)
