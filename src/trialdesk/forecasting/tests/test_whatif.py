"""What-if scenarios beside the baseline."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from trialdesk.forecasting.model import Site, Study
from trialdesk.forecasting.tests.conftest import recruiting_sites
from trialdesk.forecasting.whatif import Scenario, apply_scenario, what_if

AS_OF = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def study():
    rng = np.random.default_rng(31)
    sites = recruiting_sites(rng, 12, as_of=AS_OF, rate_month=1.0, cv=0.5)
    sites = [Site(s.id, activated=s.activated, enrolled=s.enrolled, country="DE" if i < 6 else "FR")
             for i, s in enumerate(sites)]
    sites.append(Site("p1", planned_activation=AS_OF + dt.timedelta(days=60), country="FR"))
    enrolled = sum(s.count for s in sites)
    return Study(AS_OF, enrolled + 120, tuple(sites), planned_last_subject_in=AS_OF + dt.timedelta(days=300))


def test_empty_scenario_equals_baseline_exactly(study):
    result = what_if(study, Scenario(), seed=3)
    assert result.scenario.completion == result.baseline.completion
    diff = result.difference()
    assert diff["completion_days"] == {"p05": 0, "p50": 0, "p95": 0}
    assert diff["probability_on_time"] == 0 and diff["expected_enrolled_by"]["change"] == 0


def test_adding_sites_finishes_earlier(study):
    new = tuple(Site(f"n{i}", planned_activation=AS_OF + dt.timedelta(days=30)) for i in range(6))
    result = what_if(study, Scenario(add_sites=new, label="six more"), seed=3)
    diff = result.difference()
    assert diff["completion_days"]["p50"] < -10
    assert diff["probability_on_time"] > 0 and diff["expected_enrolled_by"]["change"] > 10
    assert [s.id for s in result.scenario.sites][-6:] == [f"n{i}" for i in range(6)]
    # Common random numbers: the shared sites keep their draws, so their contributions barely move.
    base_rates = [s.rate_per_month for s in result.baseline.sites]
    assert [s.rate_per_month for s in result.scenario.sites][:len(base_rates)] == base_rates


def test_dropping_sites_and_changing_rates(study):
    base = what_if(study, Scenario(), seed=1).baseline
    dropped = what_if(study, Scenario(drop_sites=("s0", "s1", "s2")), seed=1)
    assert dropped.difference()["completion_days"]["p50"] > 0
    assert dropped.scenario.enrolled == base.enrolled  # their subjects stay enrolled
    gone = {s.id: s for s in dropped.scenario.sites}
    assert gone["s0"].expected_additional == 0 and gone["s0"].status == "closed"

    faster = what_if(study, Scenario(rate_changes={"s3": 10.0}), seed=1)
    assert faster.difference()["completion_days"]["p50"] < 0
    s3 = next(s for s in faster.scenario.sites if s.id == "s3")
    assert s3.rate_per_month == {"p05": 10.0, "p50": 10.0, "p95": 10.0}

    later = what_if(study, Scenario(activation_changes={"p1": AS_OF + dt.timedelta(days=200)}), seed=1)
    assert later.difference()["completion_days"]["p50"] >= 0


def test_changing_the_target(study):
    result = what_if(study, Scenario(target=study.target + 50), seed=2)
    assert result.scenario.target == study.target + 50 and result.baseline.target == study.target
    assert result.difference()["completion_days"]["p50"] > 0


def test_what_if_for_a_subset(study):
    fr = [s.id for s in study.sites if s.country == "FR"]
    new = (Site("fr-new", planned_activation=AS_OF + dt.timedelta(days=20), country="FR"),)
    target = sum(study.site(i).count for i in fr) + 30
    by_ids = what_if(study, Scenario(add_sites=new), site_filter=fr, target=target, seed=4)
    by_country = what_if(study, Scenario(add_sites=new), site_filter=lambda s: s.country == "FR", target=target,
                         seed=4)
    assert "fr-new" in [s.id for s in by_ids.scenario.sites]
    assert by_ids.scenario.completion == by_country.scenario.completion
    assert by_ids.difference()["completion_days"]["p50"] < 0


def test_apply_scenario_checks_ids(study):
    with pytest.raises(ValueError, match="unknown site 'zz'"):
        apply_scenario(study, Scenario(drop_sites=("zz",)))
    with pytest.raises(ValueError, match="exist already: s0"):
        apply_scenario(study, Scenario(add_sites=(Site("s0", planned_activation=AS_OF),)))
    with pytest.raises(ValueError, match="already active"):
        apply_scenario(study, Scenario(activation_changes={"s0": AS_OF}))
    changed = apply_scenario(study, Scenario(drop_sites=("p1",), rate_changes={"s1": 0.5}, target=7))
    assert changed.site("p1").closed == AS_OF and changed.site("s1").rate_override_per_month == 0.5
    assert changed.target == 7 and study.site("p1").closed is None  # the original is untouched
