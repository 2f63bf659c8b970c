"""Invented subject histories for the demo portfolio, as plain data (no Django).

Each site recruits as a Poisson process while active, its rate drawn from a gamma distribution around the
planned rate: the Poisson–gamma model the enrollment forecast assumes, so the demo's forecasts behave as
they would on real data. A candidate is pre-screened or screened, consents, and either fails screening
(with a reason code) or is enrolled and randomised after a screening period; enrolled subjects then
complete the schedule of events, withdraw (with a reason) or are lost to follow-up. Dates count from
`today` and nothing is dated after it: a subject whose next step lies in the future stays at their
current status.

Every draw comes from a generator seeded by study, site and subject, so a load is reproducible and one
subject's history does not change when another's does.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from trialdesk.demo.portfolio import VisitSpec
from trialdesk.subjects import rules
from trialdesk.subjects.lifecycle import STATUS_DATE_FIELD

MONTH_DAYS = 365.25 / 12
SITE_RATE_SHAPE = 2.5        # gamma shape of site rates around the plan: between-site cv of 0.63
PRESCREEN_SHARE = 0.5        # candidates found by pre-screening (chart review) before screening
CLOSING_MARGIN_DAYS = 20     # a site stops seeing new candidates this long before it closes to enrollment
SCREENING_DAYS = (7, 28)     # consent to enrollment
MISSED_SHARE = 0.05          # required visits missed (optional visits: OPTIONAL_MISSED_SHARE)
OPTIONAL_MISSED_SHARE = 0.25
OUT_OF_WINDOW_SHARE = 0.05
REMOTE_SHARE = 0.08          # on-site visits done by telemedicine instead

# Default screen-failure codes (subjects.lifecycle.DEFAULT_SCREEN_FAIL_REASONS) and how often each occurs.
DEFAULT_FAIL_WEIGHTS = (("inclusion_not_met", 1.5), ("exclusion_met", 1.0), ("lab_out_of_range", 0.8),
                        ("other", 0.2))
OTHER_FAIL_TEXTS = ("Moved away before randomisation.", "Could not commit to the visit schedule.",
                    "Investigator judged participation not in the candidate's interest.")
WITHDRAWAL_WEIGHTS = (("withdrew_consent", 4.0), ("adverse_event", 3.0), ("investigator_decision", 1.5),
                      ("other", 1.0))
WITHDRAWAL_TEXTS = {
    "withdrew_consent": ("", "Travel to the site too burdensome.", "No reason given."),
    "adverse_event": ("", "Injection-site reaction.", "Elevated liver enzymes; study drug stopped."),
    "investigator_decision": ("", "Non-compliance with study procedures.", "Prohibited medication started."),
    "other": ("Relocated abroad.", "Pregnancy.", "Sponsor request after unblinding for safety."),
}


@dataclass(frozen=True)
class StudyContext:
    """What every site of a study shares."""

    protocol_number: str
    today: dt.date
    schedule: tuple[VisitSpec, ...]          # the schedule subjects follow (its last visit ends participation)
    arms: tuple[tuple[str, float], ...]      # (label, share)
    strata: tuple[str, ...]
    fail_reasons: tuple[tuple[str, float], ...]  # (code, weight), defaults and study-specific
    withdraw: float
    lost: float
    death: float = 0.0
    econsent: float = 0.0


@dataclass(frozen=True)
class SiteWindow:
    """When and how fast one site recruits."""

    key: str
    activated: dt.date
    rate_per_month: float                    # subjects enrolled per month while recruiting
    screen_fail: float
    close_on: dt.date | None = None          # the site closes to enrollment (None: still open today)
    close_text: str = ""                     # why candidates still in screening then were not enrolled
    cap: int | None = None                   # the site closes once this many are enrolled
    end_by: dt.date | None = None            # every participation ends before this day (site closed out)


@dataclass
class History:
    seed: str
    status: str
    dates: dict[str, dt.date]                # Subject date field -> date (only dates up to today)
    screen_fail_code: str = ""
    screen_fail_text: str = ""
    withdrawal_reason: str = ""
    withdrawal_text: str = ""
    arm: str = ""
    stratum: str = ""
    irt_reference: str = ""
    consent_method: str = "paper"
    reconsent_lag: int = 14                  # days from a new consent form's approval to this re-consent

    def on(self, name: str) -> dt.date | None:
        return self.dates.get(name)

    @property
    def first_contact(self) -> dt.date:
        return min(self.dates.values())

    @property
    def end_on(self) -> dt.date | None:
        """The day participation stopped: completed, withdrawn or lost to follow-up (the first of them)."""
        ends = [self.dates[f] for f in ("completed_on", "withdrawn_on", "lost_on") if f in self.dates]
        return min(ends) if ends else None

    def steps(self) -> list[tuple[str, dt.date]]:
        """(status, date) in the order they happened."""
        return rules.recorded_dates(self.dates)


@dataclass
class SiteResult:
    histories: list[History] = field(default_factory=list)
    closed_on: dt.date | None = None         # the day a capped site reached its cap


def _days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def months_between(start: dt.date, end: dt.date) -> float:
    return max(0.0, (end - start).days / MONTH_DAYS)


def _weighted(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


# --- Plans and rates ---------------------------------------------------------------------------------

def planned_rates(sites: dict[str, tuple[float, dt.date]], target: int, last_subject_in: dt.date
                  ) -> dict[str, float]:
    """Planned monthly rate per site: one rate per unit of site weight, set so that every site recruiting
    from its planned activation reaches the target on the planned last-subject-in date.

    sites: key -> (weight, planned activation). Sites planned to open after that date get no rate.
    """
    exposure = sum(w * months_between(start, last_subject_in) for w, start in sites.values())
    if exposure <= 0:
        return dict.fromkeys(sites, 0.0)
    per_weight = target / exposure
    return {key: round(per_weight * w, 2) if start < last_subject_in else 0.0 for key, (w, start) in sites.items()}


def site_factors(keys: Iterable[str], exposure: dict[str, float], seed: str) -> dict[str, float]:
    """Gamma-distributed rate factors (mean 1), rescaled so the study as a whole keeps its pace: the
    between-site spread is real, but the study total does not hang on a lucky draw."""
    rng = random.Random(seed)
    factors = {key: rng.gammavariate(SITE_RATE_SHAPE, 1 / SITE_RATE_SHAPE) for key in keys}
    weight = sum(exposure.get(k, 0.0) for k in factors)
    if weight > 0:
        scale = weight / sum(f * exposure.get(k, 0.0) for k, f in factors.items())
        factors = {k: f * scale for k, f in factors.items()}
    return factors


# --- Visits ------------------------------------------------------------------------------------------

def visit_offset(seed: str, visit: VisitSpec, *, final: bool = False) -> int | None:
    """Days between a visit's planned and actual date for one subject, or None when it is missed.

    Screening and baseline happen on their anchor day; the subject's last visit is always done, in its
    window (it ends their participation). Otherwise most visits fall in their window, a few outside it.
    """
    if visit.day == 0 and visit.anchor in ("consent", "enrollment"):
        return 0
    rng = random.Random(f"{seed}:{visit.code}")
    u = rng.random()
    if not final:
        missed = MISSED_SHARE if visit.required else OPTIONAL_MISSED_SHARE
        if u < missed:
            return None
        if u < missed + OUT_OF_WINDOW_SHARE:
            if visit.before and rng.random() < 0.3:
                return -(visit.before + rng.randint(1, 3))
            return visit.after + rng.randint(1, 6)
    return round(rng.triangular(-visit.before, visit.after, 0))


def visit_modality(seed: str, visit: VisitSpec) -> str:
    """The modality a visit took place in: mostly as planned, some on-site visits by telemedicine."""
    rng = random.Random(f"{seed}:{visit.code}:modality")
    if visit.modality == "on_site" and visit.day != 0 and rng.random() < REMOTE_SHARE:
        return "remote"
    return visit.modality


def anchor_date(dates: dict[str, dt.date], anchor: str) -> dt.date | None:
    field_name = {"consent": "consented_on", "enrollment": "enrolled_on", "randomization": "randomized_on",
                  "first_dose": "first_dose_on"}[anchor]
    return dates.get(field_name)


def last_visit(schedule: Sequence[VisitSpec]) -> VisitSpec:
    """The visit that ends participation: the latest one after randomisation."""
    return max(schedule, key=lambda v: (v.anchor in ("randomization", "first_dose"), v.day))


# --- Histories -----------------------------------------------------------------------------------------

def _cut(full: dict[str, dt.date], today: dt.date) -> dict[str, dt.date]:
    return {k: v for k, v in full.items() if v <= today}


def _candidate(ctx: StudyContext, window: SiteWindow, seed: str, arrival: dt.date) -> tuple[History, dict]:
    """One candidate's full (uncut) history from first contact."""
    rng = random.Random(seed)
    h = History(seed=seed, status="", dates={}, reconsent_lag=rng.randint(3, 40),
                consent_method="econsent" if rng.random() < ctx.econsent else "paper")
    d: dict[str, dt.date] = {}
    prescreened = rng.random() < PRESCREEN_SHARE
    if prescreened:
        d["prescreened_on"] = arrival
        d["screened_on"] = arrival + _days(rng.randint(3, 21))
    else:
        d["screened_on"] = arrival
    d["consented_on"] = d["screened_on"] + _days(0 if rng.random() < 0.75 else rng.randint(1, 5))
    if rng.random() < window.screen_fail:
        stage = rng.random()
        if prescreened and stage < 0.3:
            # Failed pre-screening: never screened.
            for name in ("screened_on", "consented_on"):
                d.pop(name)
            d["screen_failed_on"] = arrival + _days(rng.randint(1, 10))
            h.screen_fail_code = _weighted(rng, ctx.fail_reasons)
        elif 0.3 <= stage < 0.4:
            d.pop("consented_on")
            d["screen_failed_on"] = d["screened_on"] + _days(rng.randint(0, 3))
            h.screen_fail_code = "consent_declined"
        else:
            d["screen_failed_on"] = d["consented_on"] + _days(rng.randint(3, 25))
            h.screen_fail_code = _weighted(rng, ctx.fail_reasons)
        if h.screen_fail_code == "other":
            h.screen_fail_text = rng.choice(OTHER_FAIL_TEXTS)
        return h, d
    enrolled = d["consented_on"] + _days(rng.randint(*SCREENING_DAYS))
    d.update(enrolled_on=enrolled, randomized_on=enrolled, first_dose_on=enrolled, active_on=enrolled)
    h.arm = _weighted(rng, ctx.arms)
    h.stratum = rng.choice(ctx.strata) if ctx.strata else ""
    final = last_visit(ctx.schedule)
    completion = anchor_date(d, final.anchor) + _days(final.day + visit_offset(seed, final, final=True))
    duration = (completion - enrolled).days
    end = completion
    u = rng.random()
    if u < ctx.withdraw:
        day = enrolled + _days(rng.randint(7, max(8, duration - 7)))
        reason = "death" if rng.random() < ctx.death else _weighted(rng, WITHDRAWAL_WEIGHTS)
        h.withdrawal_reason = reason
        h.withdrawal_text = rng.choice(WITHDRAWAL_TEXTS.get(reason, ("",)))
        if reason == "investigator_decision" and ctx.death:
            h.withdrawal_text = "Radiological disease progression (RECIST 1.1)."
        d["withdrawn_on"] = end = day
    elif u < ctx.withdraw + ctx.lost:
        d["lost_on"] = end = enrolled + _days(rng.randint(30, max(31, duration - 14)))
        if rng.random() < 0.3:
            later = end + _days(rng.randint(30, 90))
            if later < completion:
                d["withdrawn_on"] = later
                h.withdrawal_reason = "lost_to_follow_up"
    else:
        d["completed_on"] = completion
    if window.end_by is not None and end >= window.end_by:
        # The site closed out early: everyone still on study there was discontinued before.
        for name in ("completed_on", "lost_on", "withdrawn_on"):
            d.pop(name, None)
        latest = max(enrolled + _days(7), window.end_by - _days(rng.randint(10, 40)))
        d["withdrawn_on"] = min(latest, window.end_by - _days(1))
        h.withdrawal_reason, h.withdrawal_text = "investigator_decision", "Discontinued before the site's close-out."
    return h, d


def _finish(h: History, full: dict[str, dt.date], today: dt.date) -> History | None:
    """Keep what happened by today; the status is the latest step. None when nothing has happened yet."""
    dates = _cut(full, today)
    if not dates:
        return None
    h.dates = dates
    h.status = rules.recorded_dates(dates)[-1][0]
    if "screen_failed_on" not in dates:
        h.screen_fail_code = h.screen_fail_text = ""
    if "withdrawn_on" not in dates:
        h.withdrawal_reason = h.withdrawal_text = ""
    if "randomized_on" not in dates:
        h.arm = h.stratum = ""
    return h


def site_histories(ctx: StudyContext, window: SiteWindow) -> SiteResult:
    """Every candidate a site has seen by today, in order of first contact."""
    result = SiteResult()
    if window.rate_per_month <= 0 or window.screen_fail >= 1:
        return result
    arrivals_until = ctx.today if window.close_on is None else window.close_on - _days(CLOSING_MARGIN_DAYS)
    daily = window.rate_per_month / (1 - window.screen_fail) / MONTH_DAYS
    rng = random.Random(f"{ctx.protocol_number}:{window.key}:arrivals")
    t = 0.0
    candidates: list[tuple[History, dict]] = []
    while True:
        t += rng.expovariate(daily)
        arrival = window.activated + _days(math.floor(t))
        if arrival > arrivals_until:
            break
        seed = f"{ctx.protocol_number}:{window.key}:{len(candidates) + 1}"
        candidates.append(_candidate(ctx, window, seed, arrival))

    close_on, close_text = window.close_on, window.close_text
    if window.cap is not None:
        enrolled_days = sorted(d["enrolled_on"] for _, d in candidates if "enrolled_on" in d)
        if len(enrolled_days) >= window.cap and enrolled_days[window.cap - 1] <= ctx.today:
            cap_day = enrolled_days[window.cap - 1]
            if close_on is None or cap_day < close_on:
                close_on, close_text = cap_day, "Site enrollment target reached before randomisation."
                result.closed_on = cap_day
            candidates = [(h, d) for h, d in candidates if min(d.values()) <= cap_day]
    if close_on is not None:
        taken = 0
        for h, d in sorted(candidates, key=lambda c: c[1].get("enrolled_on", dt.date.max)):
            enrolled = d.get("enrolled_on")
            if enrolled is None:
                continue
            if enrolled <= close_on and (result.closed_on is None or taken < window.cap):
                taken += 1
                continue
            # Still in screening when the site closed to enrollment: not enrolled.
            for name in ("enrolled_on", "randomized_on", "first_dose_on", "active_on", "completed_on",
                         "withdrawn_on", "lost_on"):
                d.pop(name, None)
            rng_fail = random.Random(f"{h.seed}:closed")
            d["screen_failed_on"] = max(d["consented_on"], close_on) + _days(rng_fail.randint(1, 7))
            h.screen_fail_code, h.screen_fail_text = "other", close_text
            h.withdrawal_reason = h.withdrawal_text = h.arm = h.stratum = ""
    for h, d in candidates:
        kept = _finish(h, d, ctx.today)
        if kept is not None:
            result.histories.append(kept)
    return result


def assign_irt_references(histories: Iterable[History], prefix: str) -> None:
    """IRT references in order of randomisation across the study, as an IRT system numbers them."""
    randomized = sorted((h for h in histories if h.on("randomized_on")), key=lambda h: (h.on("randomized_on"),
                                                                                      h.seed))
    for n, h in enumerate(randomized, start=1):
        h.irt_reference = f"{prefix}-R{n:04d}"


def fail_reason_weights(study_reasons: Sequence[tuple[str, str, float]]) -> tuple[tuple[str, float], ...]:
    return (*DEFAULT_FAIL_WEIGHTS, *((code, weight) for code, _label, weight in study_reasons))


def path_check(history: History) -> list[tuple[str, str]]:
    """The screening-log rules' problems with a history (none expected): the services apply the same rules."""
    return rules.path_problems({f: history.on(f) for f in STATUS_DATE_FIELD.values()}, history.status)
