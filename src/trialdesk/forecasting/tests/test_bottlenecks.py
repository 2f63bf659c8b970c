"""Bottleneck warnings: each rule fires when it should, stays quiet when it should not, and says
what it found in numbers."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from trialdesk.forecasting.bottlenecks import (
    bottleneck_warnings,
    idle_site_warnings,
    schedule_warnings,
    screen_failure_warnings,
    slow_site_warnings,
)
from trialdesk.forecasting.model import Prior, Site, Study, forecast
from trialdesk.forecasting.tests.conftest import recruiting_sites

AS_OF = dt.date(2025, 6, 30)


def _ago(n: int) -> dt.date:
    return AS_OF - dt.timedelta(days=n)


def _kinds(warnings, kind):
    return {w["site_id"]: w for w in warnings if w["kind"] == kind}


def test_idle_sites():
    sites = [
        Site("new", activated=_ago(59)),
        Site("idle", activated=_ago(70)),
        Site("long-idle", activated=_ago(130)),
        Site("quiet", activated=_ago(300), enrolled=(_ago(250), _ago(90))),
        Site("busy", activated=_ago(300), enrolled=(_ago(250), _ago(10))),
        Site("closed", activated=_ago(300), closed=_ago(100)),
        Site("planned", planned_activation=_ago(200)),
    ]
    warnings = idle_site_warnings(sites, AS_OF)
    none = _kinds(warnings, "no_enrollment")
    assert set(none) == {"idle", "long-idle"}
    assert none["idle"]["severity"] == "warning" and none["long-idle"]["severity"] == "critical"
    assert none["idle"]["message"] == ("Site idle has enrolled no subjects in the 70 days since activation on "
                                       "2025-04-21.")
    quiet = _kinds(warnings, "no_recent_enrollment")
    assert set(quiet) == {"quiet"}
    assert "enrolled nobody for 90 days (last subject 2025-04-01; 2 enrolled in total)" in quiet["quiet"]["message"]
    assert {w["site_id"] for w in idle_site_warnings(sites, AS_OF, idle_days=100)} == {"long-idle"}


def test_slow_site_is_credibly_below_half_the_typical_rate():
    rng = np.random.default_rng(4)
    sites = recruiting_sites(rng, 30, as_of=AS_OF, rate_month=2.0, cv=0.3, min_days=200, max_days=300)
    sites.append(Site("slow", activated=_ago(299), enrolled=(_ago(200),)))
    sites.append(Site("young", activated=_ago(20)))
    result = forecast(Study(AS_OF, 1000, tuple(sites)))
    warnings = slow_site_warnings(result)
    assert set(_kinds(warnings, "slow_site")) == {"slow"}  # one subject in 300 days; a new site is no evidence
    message = warnings[0]["message"]
    assert re.fullmatch(r"Site slow recruits about 0\.\d\d/month \(90% interval 0\.\d\d–0\.\d\d; 1 in 300 days\), "
                        r"below 0\.5 × the study's typical 1\.\d\d/month with probability 0\.9\d\.", message), message
    assert warnings[0]["severity"] == "warning"  # "critical" is for probabilities above 0.99
    assert slow_site_warnings(result, slow_factor=0.05) == []


def test_screen_failure_outlier():
    sites = [Site(str(i), activated=_ago(200), screened=30, screen_failed=6) for i in range(4)]
    sites.append(Site("bad", activated=_ago(200), screened=20, screen_failed=14))
    sites.append(Site("unlucky", activated=_ago(200), screened=5, screen_failed=3))
    warnings = screen_failure_warnings(sites, sites)
    assert set(_kinds(warnings, "screen_failure")) == {"bad"}
    assert warnings[0]["message"] == ("Site bad: 14 of 20 screened subjects failed screening (70%), against 22% at "
                                      "the study's other sites; probability its rate exceeds 32% is 1.00.")
    assert screen_failure_warnings(sites, sites, margin=0.6) == []
    # Nothing to compare with: no warning.
    assert screen_failure_warnings(sites[-2:], sites[-2:]) == []


def test_schedule_warnings_late_and_unlikely():
    rng = np.random.default_rng(8)
    sites = tuple(recruiting_sites(rng, 10, as_of=AS_OF, rate_month=1.0, cv=0.4))
    enrolled = sum(s.count for s in sites)
    tight = Study(AS_OF, enrolled + 100, sites, planned_last_subject_in=AS_OF + dt.timedelta(days=90))
    result = forecast(tight)
    warnings = {w["kind"]: w for w in schedule_warnings(result)}
    assert set(warnings) == {"late_median", "low_probability_on_time"}
    assert warnings["late_median"]["severity"] == "critical"  # even the 5th percentile is late
    assert warnings["low_probability_on_time"]["message"] == (
        f"Probability of reaching {enrolled + 100} subjects by 2025-09-28 is 0.00 (threshold 0.50); "
        f"{enrolled} enrolled so far.")
    relaxed = Study(AS_OF, enrolled + 100, sites, planned_last_subject_in=AS_OF + dt.timedelta(days=3000))
    assert schedule_warnings(forecast(relaxed)) == []
    # Between: on time more likely than not, yet below a stricter threshold.
    median_days = (result.completion["p50"] - AS_OF).days
    close = Study(AS_OF, enrolled + 100, sites, planned_last_subject_in=AS_OF + dt.timedelta(days=median_days + 15))
    p = forecast(close).probability_on_time
    assert 0.5 < p < 0.95
    assert [w["kind"] for w in schedule_warnings(forecast(close), on_time_threshold=0.95)] == \
        ["low_probability_on_time"]


def test_unreachable_and_reached():
    nobody = Study(AS_OF, 10, (Site("a", planned_activation=AS_OF + dt.timedelta(days=10)),))
    warnings = schedule_warnings(forecast(nobody))
    assert [w["kind"] for w in warnings] == ["unreachable"]
    assert warnings[0]["severity"] == "critical" and "no rate information" in warnings[0]["message"]
    done = Study(AS_OF, 1, (Site("a", activated=_ago(10), enrolled=(_ago(5),)),), prior=Prior(1.0),
                 planned_last_subject_in=_ago(30))
    assert schedule_warnings(forecast(done)) == []


def test_bottleneck_warnings_combines_and_shapes():
    sites = [Site(str(i), activated=_ago(200), enrolled=(_ago(100),) * 5, screened=30, screen_failed=6)
             for i in range(6)]
    sites.append(Site("idle", activated=_ago(90), screened=10, screen_failed=9))
    study = Study(AS_OF, 500, tuple(sites), planned_last_subject_in=AS_OF + dt.timedelta(days=60))
    warnings = bottleneck_warnings(forecast(study), idle_days=30)
    kinds = [w["kind"] for w in warnings]
    assert kinds[:2] == ["late_median", "low_probability_on_time"]
    assert "no_enrollment" in kinds and "screen_failure" in kinds
    for w in warnings:
        assert set(w) == {"kind", "site_id", "message", "severity"}
        assert w["severity"] in {"info", "warning", "critical"} and w["message"].endswith(".")
