"""The invented subject histories follow the screening-log rules the services enforce (no database)."""

from __future__ import annotations

import datetime as dt

from trialdesk.demo import histories as H
from trialdesk.demo import portfolio as P
from trialdesk.subjects.lifecycle import ON_STUDY_STATUSES, WITHDRAWAL_REASONS

TODAY = dt.date(2025, 6, 30)
CTX = H.StudyContext(
    protocol_number="TEST-1", today=TODAY, schedule=P.ASTHMA_SCHEDULE,
    arms=(("Active", 2 / 3), ("Placebo", 1 / 3)), strata=("A", "B"),
    fail_reasons=H.fail_reason_weights((("eos_low", "Eosinophils low", 3.0),)), withdraw=0.1, lost=0.03,
    death=0.2, econsent=0.4)


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _window(**kwargs) -> H.SiteWindow:
    values = {"key": "site", "activated": TODAY - _days(500), "rate_per_month": 3.0, "screen_fail": 0.35}
    return H.SiteWindow(**{**values, **kwargs})


def test_histories_follow_the_screening_log_rules_and_stop_at_today():
    windows = [_window(), _window(key="closed", close_on=TODAY - _days(100), close_text="Closed."),
               _window(key="capped", cap=12), _window(key="closed-out", end_by=TODAY - _days(60),
                                                      close_on=TODAY - _days(200), close_text="Closed.")]
    codes = {code for code, _w in CTX.fail_reasons} | {"consent_declined"}
    arms = {label for label, _s in CTX.arms}
    for window in windows:
        result = H.site_histories(CTX, window)
        assert result.histories, window.key
        for h in result.histories:
            assert H.path_check(h) == [], (window.key, h.dates, h.status)
            assert max(h.dates.values()) <= TODAY
            assert h.first_contact >= window.activated
            if h.status == "screen_failed":
                assert h.screen_fail_code in codes
                assert h.screen_fail_code != "other" or h.screen_fail_text
            else:
                assert not h.screen_fail_code
            if h.on("randomized_on"):
                assert h.arm in arms and h.stratum in CTX.strata
                assert h.on("enrolled_on") == h.on("randomized_on") == h.on("first_dose_on")
            else:
                assert not h.arm
            if h.status == "withdrawn":
                assert h.withdrawal_reason in WITHDRAWAL_REASONS
    statuses = {h.status for w in windows for h in H.site_histories(CTX, w).histories}
    assert {"pre_screened", "consented", "screen_failed", "active", "completed", "withdrawn",
            "lost_to_follow_up"} <= statuses


def test_closing_rules_cap_and_close_out():
    capped = H.site_histories(CTX, _window(cap=10))
    enrolled = sorted(h.on("enrolled_on") for h in capped.histories if h.on("enrolled_on"))
    assert len(enrolled) == 10 and capped.closed_on == enrolled[-1]
    assert all(h.first_contact <= capped.closed_on for h in capped.histories)

    closed = H.site_histories(CTX, _window(close_on=TODAY - _days(100), close_text="Closed."))
    assert all(h.on("enrolled_on") <= TODAY - _days(100) for h in closed.histories if h.on("enrolled_on"))
    # Nobody is left half-way through screening at a closed site.
    assert not [h for h in closed.histories if h.status in ("pre_screened", "screened", "consented")]

    end_by = TODAY - _days(60)
    closed_out = H.site_histories(CTX, _window(close_on=TODAY - _days(200), end_by=end_by))
    assert closed_out.histories
    for h in closed_out.histories:
        assert h.status not in ON_STUDY_STATUSES
        assert h.end_on is None or h.end_on < end_by


def test_histories_are_reproducible_and_site_specific():
    a = H.site_histories(CTX, _window())
    b = H.site_histories(CTX, _window())
    other = H.site_histories(CTX, _window(key="other"))
    assert [(h.seed, h.dates, h.status) for h in a.histories] == [(h.seed, h.dates, h.status) for h in b.histories]
    assert [h.dates for h in a.histories] != [h.dates for h in other.histories]
    assert H.site_histories(CTX, _window(rate_per_month=0)).histories == []


def test_recruitment_rate_matches_the_site_rate():
    rate, months = 4.0, 500 / H.MONTH_DAYS
    histories = H.site_histories(CTX, _window(rate_per_month=rate)).histories
    enrolled = sum(1 for h in histories if h.on("enrolled_on"))
    # Poisson count with mean ~ rate x months (less the first weeks' screening): well inside 4 sd.
    expected = rate * months
    assert abs(enrolled - expected) < 4 * expected ** 0.5 + rate


def test_planned_rates_reach_the_target_on_the_last_subject_in_date():
    lsi = TODAY + _days(300)
    sites = {"a": (30.0, TODAY - _days(200)), "b": (60.0, TODAY), "c": (10.0, TODAY + _days(100)),
             "late": (20.0, lsi + _days(10))}
    rates = H.planned_rates(sites, 400, lsi)
    reached = sum(rates[k] * H.months_between(start, lsi) for k, (_w, start) in sites.items())
    assert abs(reached - 400) < 1
    assert rates["late"] == 0.0
    assert abs(rates["b"] - 2 * rates["a"]) <= 0.01  # rates are per unit of site weight (rounded)


def test_site_factors_keep_the_study_pace():
    exposure = {"a": 10.0, "b": 3.0, "c": 7.0}
    factors = H.site_factors(["a", "b", "c", "override"], exposure, "seed")
    assert abs(sum(factors[k] * e for k, e in exposure.items()) - sum(exposure.values())) < 1e-9
    assert len(set(factors.values())) == 4


def test_visit_offsets():
    screening, baseline, *treatment = P.ASTHMA_SCHEDULE
    final = H.last_visit(P.ASTHMA_SCHEDULE)
    assert final.code == "W52"
    seeds = [f"s{n}" for n in range(2000)]
    assert {H.visit_offset(s, screening) for s in seeds} == {0}
    assert {H.visit_offset(s, baseline) for s in seeds} == {0}
    finals = [H.visit_offset(s, final, final=True) for s in seeds]
    assert all(o is not None and -final.before <= o <= final.after for o in finals)
    week4 = next(v for v in treatment if v.code == "W4")
    offsets = [H.visit_offset(s, week4) for s in seeds]
    missed = sum(o is None for o in offsets) / len(seeds)
    outside = sum(o is not None and not -week4.before <= o <= week4.after for o in offsets) / len(seeds)
    assert 0.03 < missed < 0.07 and 0.03 < outside < 0.07
    optional = next(v for v in treatment if not v.required)
    assert 0.2 < sum(H.visit_offset(s, optional) is None for s in seeds) / len(seeds) < 0.3
