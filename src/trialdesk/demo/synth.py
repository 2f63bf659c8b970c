"""Sampling for the synthetic portfolio (`trialdesk generate_portfolio`), as plain data: no Django.

The portfolio is drawn in two passes. `plan_portfolio` draws every study and site (cheap: a few hundred
thousand objects at scale L): lifecycle states, phases, key dates, staggered site activations, each site's
enrollment rate from a gamma distribution, and how many candidates each site has seen. Then
`study_records` draws one study's subjects (screen failures, withdrawals, losses to follow-up), consents,
re-consents, randomizations and visits, so the generator never holds more than one study's subjects.

Realism, in short:
* study sizes are log-normal by phase, plus a few mega-trials of 1,000+ sites (scales M and L);
* studies are spread over every lifecycle state, with dates that fit it (a completed study's last subject
  finished before its database lock; an enrolling study's sites are still opening);
* site activations are staggered from the study's first activation (exponential ramp-up);
* site enrollment rates are gamma-distributed around the study's mean (many slow sites, a few fast ones),
  and the number of candidates a site has seen is Poisson in its rate times its months open;
* candidates are pre-screened or screened, consent, fail screening at a study-specific rate or enroll, are
  randomised (randomised designs), dosed, and then complete, withdraw or are lost to follow-up; nothing is
  dated after `today`.

Everything is drawn from generators seeded by (seed, study), so a scale and seed give the same portfolio.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from trialdesk.subjects.rules import recorded_dates

MONTH_DAYS = 365.25 / 12


# --- Scales ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scale:
    name: str
    studies: int
    sites: int
    subjects: int            # every screening-log entry, screen failures included
    mega_trials: int = 0     # studies with 1,000+ sites
    mega_sites: tuple[int, int] = (1000, 2500)


SCALES = {
    # XS is for tests only (not offered on the command line): every lifecycle state once, little else.
    "XS": Scale("XS", studies=9, sites=60, subjects=500),
    "S": Scale("S", studies=20, sites=500, subjects=10_000),
    "M": Scale("M", studies=200, sites=10_000, subjects=200_000, mega_trials=2, mega_sites=(1000, 1500)),
    "L": Scale("L", studies=1000, sites=50_000, subjects=1_000_000, mega_trials=5),
}


# --- Reference data ------------------------------------------------------------------------------------------

# (therapeutic area, code, conditions, relative share of studies, mean enrollment per site per month)
THERAPEUTIC_AREAS = (
    ("Oncology", "ONC", ("Non-small cell lung cancer", "Breast cancer", "Colorectal cancer", "Prostate cancer",
                         "Melanoma", "Multiple myeloma", "Acute myeloid leukaemia"), 0.28, 0.45),
    ("Cardiovascular", "CV", ("Heart failure", "Atrial fibrillation", "Hypertension", "Hypercholesterolaemia"),
     0.10, 1.1),
    ("Respiratory", "RES", ("Asthma", "COPD", "Idiopathic pulmonary fibrosis"), 0.08, 0.9),
    ("Neuroscience", "NEU", ("Migraine", "Alzheimer's disease", "Parkinson's disease", "Multiple sclerosis",
                             "Epilepsy"), 0.11, 0.6),
    ("Immunology", "IMM", ("Rheumatoid arthritis", "Psoriasis", "Atopic dermatitis", "Crohn's disease",
                           "Ulcerative colitis"), 0.13, 0.8),
    ("Metabolism", "MET", ("Type 2 diabetes", "Obesity", "Metabolic dysfunction-associated steatohepatitis"),
     0.09, 1.5),
    ("Infectious disease", "INF", ("Respiratory syncytial virus infection", "Influenza", "HIV-1 infection",
                                   "Chronic hepatitis B"), 0.08, 1.3),
    ("Nephrology", "REN", ("Chronic kidney disease", "IgA nephropathy"), 0.04, 0.5),
    ("Rare disease", "RAR", ("Duchenne muscular dystrophy", "Spinal muscular atrophy", "Fabry disease"),
     0.04, 0.15),
    ("Psychiatry", "PSY", ("Major depressive disorder", "Schizophrenia", "Generalised anxiety disorder"),
     0.05, 1.0),
)

# (phases, share, median sites, spread of log sites)
PHASE_MIX = (
    (("PHASE1",), 0.10, 6, 0.5),
    (("PHASE1", "PHASE2"), 0.07, 15, 0.6),
    (("PHASE2",), 0.30, 30, 0.7),
    (("PHASE3",), 0.45, 90, 0.8),
    (("PHASE4",), 0.08, 40, 0.7),
)

STUDY_STATUS_MIX = (
    ("planning", 0.06), ("start_up", 0.10), ("enrolling", 0.36), ("on_hold", 0.04),
    ("closed_to_enrollment", 0.10), ("follow_up", 0.12), ("completed", 0.14), ("terminated", 0.05),
    ("withdrawn", 0.03),
)
STUDY_STATUSES = tuple(s for s, _ in STUDY_STATUS_MIX)
MEGA_STATUSES = ("enrolling", "follow_up", "enrolling", "closed_to_enrollment", "completed")
# Studies in these states have (had) subjects.
RECRUITING_STATUSES = frozenset({"enrolling", "on_hold", "closed_to_enrollment", "follow_up", "completed",
                                 "terminated"})

# (country, share of sites, cities as (name, state, latitude, longitude))
COUNTRIES = (
    ("United States", 0.32, (("Boston", "Massachusetts", 42.36, -71.06), ("Houston", "Texas", 29.76, -95.37),
                             ("Chicago", "Illinois", 41.88, -87.63), ("Los Angeles", "California", 34.05, -118.24),
                             ("New York", "New York", 40.71, -74.01), ("Seattle", "Washington", 47.61, -122.33),
                             ("Atlanta", "Georgia", 33.75, -84.39), ("Miami", "Florida", 25.76, -80.19),
                             ("Denver", "Colorado", 39.74, -104.99), ("Nashville", "Tennessee", 36.16, -86.78),
                             ("Philadelphia", "Pennsylvania", 39.95, -75.17), ("Rochester", "Minnesota", 44.02,
                                                                                -92.47))),
    ("Germany", 0.08, (("Berlin", "", 52.52, 13.40), ("Munich", "Bavaria", 48.14, 11.58),
                       ("Hamburg", "", 53.55, 9.99), ("Heidelberg", "Baden-Württemberg", 49.40, 8.67))),
    ("France", 0.06, (("Paris", "Île-de-France", 48.86, 2.35), ("Lyon", "", 45.76, 4.84),
                      ("Marseille", "", 43.30, 5.37), ("Lille", "", 50.63, 3.06))),
    ("United Kingdom", 0.06, (("London", "England", 51.51, -0.13), ("Manchester", "England", 53.48, -2.24),
                              ("Glasgow", "Scotland", 55.86, -4.25), ("Oxford", "England", 51.75, -1.26))),
    ("Spain", 0.05, (("Madrid", "", 40.42, -3.70), ("Barcelona", "Catalonia", 41.39, 2.17),
                     ("Valencia", "", 39.47, -0.38))),
    ("Italy", 0.04, (("Milan", "Lombardy", 45.46, 9.19), ("Rome", "Lazio", 41.90, 12.50),
                     ("Naples", "Campania", 40.85, 14.27))),
    ("Poland", 0.04, (("Warsaw", "", 52.23, 21.01), ("Kraków", "", 50.06, 19.94), ("Gdańsk", "", 54.35, 18.65))),
    ("Japan", 0.05, (("Tokyo", "", 35.68, 139.69), ("Osaka", "", 34.69, 135.50), ("Nagoya", "", 35.18, 136.91))),
    ("China", 0.05, (("Beijing", "", 39.90, 116.41), ("Shanghai", "", 31.23, 121.47),
                     ("Guangzhou", "Guangdong", 23.13, 113.26))),
    ("Canada", 0.04, (("Toronto", "Ontario", 43.65, -79.38), ("Montreal", "Quebec", 45.50, -73.57),
                      ("Vancouver", "British Columbia", 49.28, -123.12))),
    ("Australia", 0.03, (("Sydney", "New South Wales", -33.87, 151.21), ("Melbourne", "Victoria", -37.81, 144.96))),
    ("Brazil", 0.03, (("São Paulo", "SP", -23.55, -46.63), ("Porto Alegre", "RS", -30.03, -51.23))),
    ("South Korea", 0.03, (("Seoul", "", 37.57, 126.98), ("Busan", "", 35.18, 129.08))),
    ("Netherlands", 0.02, (("Amsterdam", "", 52.37, 4.90), ("Leiden", "", 52.16, 4.49))),
    ("Belgium", 0.02, (("Brussels", "", 50.85, 4.35), ("Leuven", "", 50.88, 4.70))),
    ("Czechia", 0.02, (("Prague", "", 50.08, 14.44), ("Brno", "", 49.20, 16.61))),
    ("Hungary", 0.01, (("Budapest", "", 47.50, 19.04),)),
    ("Argentina", 0.02, (("Buenos Aires", "", -34.60, -58.38), ("Córdoba", "", -31.42, -64.18))),
    ("Mexico", 0.02, (("Mexico City", "", 19.43, -99.13), ("Guadalajara", "Jalisco", 20.66, -103.35))),
    ("India", 0.01, (("Mumbai", "Maharashtra", 19.08, 72.88), ("Bengaluru", "Karnataka", 12.97, 77.59))),
)

INSTITUTION_KINDS = ("University Hospital", "Medical Center", "Clinical Research Institute", "General Hospital",
                     "Cancer Center", "Heart Institute", "Research Clinic", "Children's Hospital",
                     "Community Hospital", "Private Practice")

FIRST_NAMES = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kavya",
               "Lars", "Maria", "Noah", "Olga", "Pedro", "Qian", "Rosa", "Samir", "Tomasz", "Uma", "Viktor",
               "Wen", "Ximena", "Yusuf", "Zofia", "Amara", "Bruno", "Chloé", "Dmitri", "Emma", "Felix", "Giulia",
               "Hana", "Ivan", "Julia", "Kenji", "Leila", "Marco", "Nadia", "Oscar", "Priya", "Rafael", "Sofia",
               "Theo", "Valentina", "William", "Yara")
LAST_NAMES = ("Andersen", "Becker", "Costa", "Dubois", "Eriksson", "Fischer", "García", "Hoffmann", "Ivanova",
              "Jansen", "Kowalski", "López", "Müller", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi",
              "Schmidt", "Tanaka", "Urbanek", "Varga", "Wang", "Xu", "Yamamoto", "Zimmermann", "Bianchi",
              "Chen", "Dimitrov", "Fernández", "Gupta", "Horváth", "Kim", "Larsen", "Martin", "Novak", "Oliveira",
              "Patel", "Romero", "Silva", "Svoboda", "Thompson", "Weber", "Nowak", "Moreau", "Smith", "Johnson",
              "Brown")
DEGREES = ("MD", "MD, PhD", "MD", "DO", "MBBS", "MD, MPH")

DRUG_STEMS = ("zel", "vor", "tam", "quil", "bren", "dar", "lum", "nex", "pra", "sol", "tiv", "ori", "cav", "mer")
DRUG_SUFFIXES = {"ONC": "tinib", "IMM": "mab", "NEU": "pant", "CV": "sartan", "MET": "glutide", "INF": "vir",
                 "RES": "lumab", "REN": "flozin", "RAR": "gene", "PSY": "pride"}

SCREEN_FAIL_CODES = (("inclusion_not_met", 1.5), ("exclusion_met", 1.0), ("lab_out_of_range", 0.8),
                     ("consent_declined", 0.3), ("other", 0.2))
OTHER_FAIL_TEXTS = ("Moved away before randomisation.", "Could not commit to the visit schedule.",
                    "Investigator judged participation not in the candidate's interest.")
CLOSED_TEXT = "Enrollment closed before randomisation."
TERMINATED_TEXT = "Study terminated by the sponsor."
WITHDRAWAL_REASONS = (("withdrew_consent", 4.0), ("adverse_event", 3.0), ("investigator_decision", 1.5),
                      ("death", 0.3), ("other", 1.0))
WITHDRAWAL_TEXTS = {"withdrew_consent": ("", "Travel to the site too burdensome.", "No reason given."),
                    "adverse_event": ("", "Injection-site reaction.", "Elevated liver enzymes; study drug stopped."),
                    "investigator_decision": ("", "Non-compliance with study procedures."),
                    "death": ("",), "other": ("Relocated abroad.", "Pregnancy.")}
WHY_STOPPED = ("Futility at the interim analysis.", "Sponsor decision: portfolio reprioritisation.",
               "Slow enrollment.", "Safety signal reviewed by the data monitoring committee.")
HOLD_REASONS = ("Drug supply interruption.", "Protocol amendment under health-authority review.",
                "Temporary halt requested by the data monitoring committee.")
STRATA = (("Region: North America", "Region: Europe", "Region: Asia-Pacific", "Region: Rest of world"),
          ("Baseline severity: moderate", "Baseline severity: severe"),
          ("Prior therapy: yes", "Prior therapy: no"))


# --- Plans ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VisitPlan:
    code: str
    name: str
    anchor: str          # consent | enrollment | randomization
    day: int
    before: int
    after: int
    modality: str
    required: bool


@dataclass
class ProtocolPlan:
    version_number: str
    version_date: dt.date
    amendment_number: int | None
    status: str                      # approved | superseded | draft
    approved_on: dt.date | None      # signed (approval signature) on this day
    superseded_on: dt.date | None = None
    summary: str = ""
    icf_irb_approval: dt.date | None = None   # its consent form's IRB/IEC approval (approved versions only)
    icf_version_date: dt.date | None = None


@dataclass
class SitePlan:
    number: str
    institution: int                 # index into Portfolio.institutions
    investigator: int                # index into Portfolio.people (the PI)
    status: str = "candidate"
    status_changed: dt.date | None = None
    status_reason: str = ""
    activated: dt.date | None = None          # actual activation
    planned_activation: dt.date | None = None
    enroll_until: dt.date | None = None       # last day candidates may arrive / be enrolled (None: no subjects)
    closed_out: dt.date | None = None
    rate: float = 0.0                          # enrolled per month while open (gamma around the study mean)
    exposure_months: float = 0.0
    candidates: int = 0                        # screening-log entries drawn for this site
    target: int | None = None
    milestones: dict[str, tuple[dt.date | None, dt.date | None]] = field(default_factory=dict)  # key: (plan, act)


@dataclass
class StudyPlan:
    index: int
    protocol_number: str
    nct_id: str | None
    acronym: str
    title: str
    ta: str
    ta_code: str
    condition: str
    phases: tuple[str, ...]
    status: str
    mega: bool
    randomized: bool
    arms: tuple[tuple[str, str, float], ...]       # (label, arm type, share)
    drug: str
    strata: tuple[str, ...]
    schedule: tuple[VisitPlan, ...]
    protocols: list[ProtocolPlan]
    screen_fail: float
    withdraw: float
    lost: float
    econsent: float
    rate_mean: float
    planned_fsa: dt.date
    enroll_months: float
    status_changed: dt.date
    why_stopped: str = ""
    enroll_end: dt.date | None = None           # recruitment stopped (closed, terminated, on hold); None: open
    terminated_on: dt.date | None = None
    rebaseline: bool = False
    sites: list[SitePlan] = field(default_factory=list)
    planned_enrollment: int | None = None        # set once subjects are drawn (or from the plan)
    key_dates: dict[str, tuple[dt.date | None, dt.date | None]] = field(default_factory=dict)

    @property
    def duration_days(self) -> int:
        return max(v.day for v in self.schedule)

    @property
    def treatment_anchor(self) -> str:
        return "randomization" if self.randomized else "enrollment"


@dataclass
class Institution:
    name: str
    country: str
    city: str
    state: str
    latitude: float
    longitude: float
    investigators: list[int] = field(default_factory=list)   # indexes into Portfolio.people


@dataclass(frozen=True)
class PersonPlan:
    first_name: str
    last_name: str
    title: str
    degrees: str
    institution: int | None
    job_title: str


@dataclass
class Portfolio:
    scale: Scale
    seed: int
    today: dt.date
    institutions: list[Institution]
    people: list[PersonPlan]
    studies: list[StudyPlan]

    @property
    def site_count(self) -> int:
        return sum(len(s.sites) for s in self.studies)

    @property
    def expected_subjects(self) -> int:
        return sum(site.candidates for s in self.studies for site in s.sites)


@functools.lru_cache(maxsize=8192)
def _days(n: float) -> dt.timedelta:
    return dt.timedelta(days=int(n))


def _weighted(rng: random.Random, options) -> str:
    return rng.choices([o for o, *_ in options], weights=[w for _, w, *_ in options])[0]


def study_rng(seed: int, index: int, part: str = "") -> random.Random:
    return random.Random(f"trialdesk-synth:{seed}:{index}:{part}")


# --- Site counts ------------------------------------------------------------------------------------------

def allocate_sites(scale: Scale, phases: list[tuple[str, ...]], megas: list[bool], rng: np.random.Generator
                   ) -> list[int]:
    """Sites per study summing to scale.sites: log-normal by phase, mega-trials 1,000+, others below 900."""
    n = len(phases)
    counts = [0] * n
    lo, hi = scale.mega_sites
    for i in range(n):
        if megas[i]:
            counts[i] = int(rng.integers(lo, hi + 1))
    remaining = scale.sites - sum(counts)
    medians = {p: (m, sd) for p, _, m, sd in PHASE_MIX}
    others = [i for i in range(n) if not megas[i]]
    weights = np.array([rng.lognormal(math.log(medians[phases[i]][0]), medians[phases[i]][1]) for i in others])
    cap = 900.0 if scale.mega_trials else max(2.0, remaining / 4)
    share = weights / weights.sum() * remaining
    for _ in range(50):  # cap the largest and spread what the cap cut off over the others
        over = share > cap
        excess = float((share[over] - cap).sum())
        if excess <= 0.5:
            break
        share[over] = cap
        free = ~over
        share[free] += excess * share[free] / share[free].sum()
    share = np.maximum(1, np.floor(share)).astype(int)
    diff = remaining - int(share.sum())
    order = np.argsort(-share)
    j = 0
    while diff != 0:
        k = order[j % len(order)]
        step = 1 if diff > 0 else -1
        if share[k] + step >= 1:
            share[k] += step
            diff -= step
        j += 1
    for i, c in zip(others, share, strict=True):
        counts[i] = int(c)
    return counts


# --- Schedules -----------------------------------------------------------------------------------------------

def make_schedule(rng: random.Random, randomized: bool, ta_code: str) -> tuple[VisitPlan, ...]:
    """Screening (consent day), baseline (enrollment day), then treatment and follow-up visits."""
    anchor = "randomization" if randomized else "enrollment"
    weeks = rng.choice((12, 24, 26, 48, 52, 52, 78, 104) if ta_code != "ONC" else (52, 78, 104, 104))
    n = rng.randint(12, 26)
    visits = [VisitPlan("SCR", "Screening", "consent", 0, 0, 0, "on_site", True),
              VisitPlan("BL", "Baseline / Day 1", "enrollment", 0, 0, 0, "on_site", True)]
    days: list[int] = []
    for i in range(1, n + 1):
        day = max(7, round(weeks * 7 * (i / n) ** 1.4))
        while days and day <= days[-1]:
            day += 1
        days.append(day)
    for i, day in enumerate(days, start=1):
        last = i == len(days)
        window = min(14, max(2, day // 20))
        modality = "on_site"
        if not last:
            if i % 4 == 1 and i > 1:
                modality = "phone"
            elif i % 7 == 3:
                modality = rng.choice(("remote", "home"))
        code = "EOS" if last else (f"W{day // 7}" if day % 7 == 0 else f"D{day}")
        name = "End of study" if last else (f"Week {day // 7}" if day % 7 == 0 else f"Day {day}")
        if modality == "phone":
            name += " call"
        required = last or rng.random() > 0.1
        if any(v.code == code for v in visits):
            code = f"{code}.{i}"
        visits.append(VisitPlan(code, name, anchor, day, window, window, modality, required))
    return tuple(visits)


# --- Portfolio plan ----------------------------------------------------------------------------------------

def _drug_name(rng: random.Random, ta_code: str) -> str:
    stem = rng.choice(DRUG_STEMS) + rng.choice(DRUG_STEMS)
    return (stem + DRUG_SUFFIXES.get(ta_code, "mab")).capitalize()


def _pick_statuses(scale: Scale, rng: random.Random) -> list[str]:
    n = scale.studies
    statuses = list(STUDY_STATUSES) if n >= len(STUDY_STATUSES) else []
    statuses += [_weighted(rng, STUDY_STATUS_MIX) for _ in range(n - len(statuses))]
    rng.shuffle(statuses)
    return statuses


def plan_portfolio(scale: Scale, seed: int, today: dt.date) -> Portfolio:
    rng = random.Random(f"trialdesk-synth:{seed}:portfolio")
    nrng = np.random.default_rng([seed, 1])
    statuses = _pick_statuses(scale, rng)
    megas = [False] * scale.studies
    for k in range(scale.mega_trials):
        megas[k] = True
        statuses[k] = MEGA_STATUSES[k % len(MEGA_STATUSES)]
    phases = [("PHASE3",) if megas[i] else _weighted(rng, PHASE_MIX) for i in range(scale.studies)]
    # Studies that have not started recruiting have fewer sites on the books (candidates only).
    site_counts = allocate_sites(scale, phases, megas, nrng)

    institutions, people = _institutions(scale, rng, max(site_counts))
    inst_weights = np.array([1.0 / (i + 10) ** 0.8 for i in range(len(institutions))])
    inst_weights /= inst_weights.sum()

    studies = []
    for i in range(scale.studies):
        srng = study_rng(seed, i + 1, "plan")
        study = _plan_study(i + 1, statuses[i], phases[i], megas[i], srng, today)
        chosen = nrng.choice(len(institutions), size=site_counts[i], replace=False, p=inst_weights)
        _plan_sites(study, [int(c) for c in chosen], institutions, srng, nrng, today)
        studies.append(study)
    _scale_candidates(studies, scale.subjects, nrng)
    for study in studies:
        _plan_targets(study, study_rng(seed, study.index, "targets"), today)
    return Portfolio(scale=scale, seed=seed, today=today, institutions=institutions, people=people,
                     studies=studies)


def _institutions(scale: Scale, rng: random.Random, largest_study: int) -> tuple[list[Institution],
                                                                                 list[PersonPlan]]:
    n = max(scale.sites // 4, int(largest_study * 1.3) + 5, 12)
    institutions: list[Institution] = []
    people: list[PersonPlan] = []
    seen: dict[str, int] = {}
    for _ in range(n):
        country, _w, cities = COUNTRIES[[c for c, *_ in COUNTRIES].index(_weighted(rng, COUNTRIES))]
        city, state, lat, lon = rng.choice(cities)
        base = f"{city} {rng.choice(INSTITUTION_KINDS)}"
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base} {seen[base]}"
        inst = Institution(name=name, country=country, city=city, state=state,
                           latitude=round(lat + rng.uniform(-0.2, 0.2), 5),
                           longitude=round(lon + rng.uniform(-0.2, 0.2), 5))
        for _ in range(rng.randint(1, 3)):
            inst.investigators.append(len(people))
            people.append(PersonPlan(first_name=rng.choice(FIRST_NAMES), last_name=rng.choice(LAST_NAMES),
                                     title="Dr.", degrees=rng.choice(DEGREES), institution=len(institutions),
                                     job_title="Principal Investigator"))
        institutions.append(inst)
    return institutions, people


def _plan_study(index: int, status: str, phases: tuple[str, ...], mega: bool, rng: random.Random,
                today: dt.date) -> StudyPlan:
    ta, code, conditions, _share, rate = THERAPEUTIC_AREAS[
        [t[0] for t in THERAPEUTIC_AREAS].index(_weighted(rng, [(t[0], t[3]) for t in THERAPEUTIC_AREAS]))]
    condition = rng.choice(conditions)
    drug = _drug_name(rng, code)
    phase_digit = {"PHASE1": 1, "PHASE2": 2, "PHASE3": 3, "PHASE4": 4}[phases[-1]]
    randomized = phases != ("PHASE1",) and rng.random() < 0.85
    if randomized:
        n_arms = rng.choice((2, 2, 2, 3))
        arms = [(f"{drug} {dose} mg", "EXPERIMENTAL", 1.0) for dose in (50, 100, 200)[:n_arms - 1]]
        arms.append(("Placebo" if code != "ONC" else "Standard of care",
                     "PLACEBO_COMPARATOR" if code != "ONC" else "ACTIVE_COMPARATOR", 1.0))
    else:
        arms = [(drug, "EXPERIMENTAL", 1.0)]
    schedule = make_schedule(rng, randomized, code)
    duration = max(v.day for v in schedule)
    enroll_months = rng.uniform(10, 30) if not mega else rng.uniform(18, 36)
    screen_fail = rng.uniform(0.15, 0.45) if code != "ONC" else rng.uniform(0.3, 0.55)
    rate_mean = rate * rng.lognormvariate(0, 0.35)
    enroll_days = enroll_months * MONTH_DAYS

    # The first site's activation, placed so the study's state fits today.
    enroll_end = terminated_on = None
    why = ""
    if status == "planning":
        fsa = today + _days(rng.randint(90, 360))
        changed = today - _days(rng.randint(10, 200))
    elif status == "start_up":
        fsa = today + _days(rng.randint(-20, 150))
        changed = today - _days(rng.randint(30, 240))
    elif status == "withdrawn":
        fsa = today - _days(rng.randint(60, 700))
        changed = fsa - _days(rng.randint(0, 60))
        why = "Sponsor decision before enrollment began."
    elif status in ("enrolling", "on_hold"):
        fsa = today - _days(rng.uniform(0.15, 1.1) * enroll_days + 30)
        changed = fsa + _days(rng.randint(5, 40))
        if status == "on_hold":
            enroll_end = today - _days(rng.randint(15, 150))
            enroll_end = max(enroll_end, fsa + _days(90))
            changed = enroll_end
            why = rng.choice(HOLD_REASONS)
    elif status == "closed_to_enrollment":
        enroll_end = today - _days(rng.randint(5, 90))
        fsa = enroll_end - _days(enroll_days)
        changed = enroll_end
    elif status == "follow_up":
        enroll_end = today - _days(rng.randint(60, max(61, duration - 30)))
        fsa = enroll_end - _days(enroll_days)
        changed = enroll_end + _days(rng.randint(5, 50))
    elif status == "completed":
        lslv = today - _days(rng.randint(90, 1100))
        enroll_end = lslv - _days(duration + 30)
        fsa = enroll_end - _days(enroll_days)
        changed = min(today, lslv + _days(rng.randint(60, 200)))
    elif status == "terminated":
        fsa = today - _days(rng.randint(300, 1600))
        terminated_on = min(today - _days(30), fsa + _days(rng.randint(120, max(121, int(enroll_days)))))
        enroll_end = terminated_on
        changed = terminated_on
        why = rng.choice(WHY_STOPPED)
    else:
        raise ValueError(status)
    changed = min(changed, today)

    protocols = _plan_protocols(rng, status, fsa, enroll_end, today)
    strata = STRATA[rng.randrange(len(STRATA))] if randomized and rng.random() < 0.6 else ()
    acronym = (drug[:4] + rng.choice(("-PRIME", "-FORWARD", "-ONE", "-VISTA", "-BRIDGE", "-RISE", "-TRUST",
                                      "-AIM", "-CORE", "-NOVA"))).upper()
    if not randomized:
        design = "an open-label, single-arm"
    elif arms[-1][1] == "PLACEBO_COMPARATOR":
        design = "a randomised, double-blind, placebo-controlled"
    else:
        design = "a randomised, open-label, active-controlled"
    title = f"{design.capitalize()} phase {'/'.join(p[-1] for p in phases)} study of {drug} in {condition}"
    return StudyPlan(
        index=index, protocol_number=f"{code}-{phase_digit}{index:04d}",
        nct_id=f"NCT9{index:07d}" if status not in ("planning",) and rng.random() < 0.8 else None,
        acronym=acronym, title=title[:500], ta=ta, ta_code=code, condition=condition, phases=phases, status=status,
        mega=mega, randomized=randomized, arms=tuple(arms), drug=drug, strata=strata, schedule=schedule,
        protocols=protocols, screen_fail=screen_fail, withdraw=rng.uniform(0.04, 0.14), lost=rng.uniform(0.0, 0.04),
        econsent=rng.choice((0.0, 0.0, 0.2, 0.5, 0.9)), rate_mean=rate_mean, planned_fsa=fsa,
        enroll_months=enroll_months, status_changed=changed, why_stopped=why, enroll_end=enroll_end,
        terminated_on=terminated_on,
        rebaseline=status in RECRUITING_STATUSES and rng.random() < 0.2,
    )


def _plan_protocols(rng: random.Random, status: str, fsa: dt.date, enroll_end: dt.date | None,
                    today: dt.date) -> list[ProtocolPlan]:
    """Version 1.0 before start-up; amendments while recruiting; sometimes a draft amendment on top."""
    v1_date = fsa - _days(rng.randint(160, 320))
    plans = [ProtocolPlan("1.0", v1_date, None, "approved", min(today, v1_date + _days(rng.randint(5, 30))),
                          summary="Original protocol.")]
    if status == "planning" and rng.random() < 0.5:
        plans[0].status, plans[0].approved_on = "draft", None
        return plans
    last_day = min(today, enroll_end or today)
    amendments = rng.choice((0, 0, 0, 1, 1, 2)) if status in RECRUITING_STATUSES else 0
    for k in range(1, amendments + 1):
        start = max(plans[-1].version_date + _days(90), fsa + _days(60))
        if start >= last_day - _days(30):
            break
        day = start + _days(rng.randint(0, max(0, (last_day - _days(30) - start).days)))
        approved = min(today, day + _days(rng.randint(5, 25)))
        plans.append(ProtocolPlan(f"{k + 1}.0", day, k, "approved", approved,
                                  summary=f"Amendment {k}: eligibility clarified, visit windows widened."))
    for prev, nxt in zip(plans, plans[1:], strict=False):
        prev.status, prev.superseded_on = "superseded", nxt.approved_on
    if status in RECRUITING_STATUSES | {"start_up"} and rng.random() < 0.1:
        k = len(plans)
        plans.append(ProtocolPlan(f"{k + 1}.0 draft", today - _days(rng.randint(0, 30)), k, "draft", None,
                                  summary=f"Amendment {k} in preparation."))
    for p in plans:
        if p.approved_on is not None:
            p.icf_version_date = p.approved_on + _days(rng.randint(0, 10))
            p.icf_irb_approval = p.icf_version_date + _days(rng.randint(14, 45))
            if p.icf_irb_approval > today:
                p.icf_irb_approval = None
    return plans


# The start-up template's milestones (startup.defaults), in the order a site goes through them.
MILESTONE_KEYS = ("confidentiality_agreement", "feasibility", "qualification_visit", "selected", "budget_agreed",
                  "irb_submitted", "regulatory_approval", "contract_executed", "irb_approval",
                  "essential_documents", "initiation_visit", "activated")
# Steps done by a site not (yet) activated, by its status: (fewest, most) of MILESTONE_KEYS in order.
DONE_STEPS = {"candidate": (0, 2), "not_selected": (1, 3), "selected": (4, 4), "start_up": (5, 10)}


def _start_up_path(rng: random.Random, activation: dt.date) -> dict[str, dt.date]:
    """Start-up milestone dates counted back from an activation day, each after what it depends on."""
    siv = activation - _days(rng.randint(0, 7))
    essential = siv - _days(rng.randint(3, 14))
    irb = essential - _days(rng.randint(2, 20))
    contract = essential - _days(rng.randint(2, 25))
    regulatory = essential - _days(rng.randint(0, 30))
    irb_submitted = irb - _days(rng.randint(20, 50))
    budget = contract - _days(rng.randint(15, 40))
    selected = min(irb_submitted, budget, regulatory - _days(30)) - _days(rng.randint(3, 20))
    qv = selected - _days(rng.randint(5, 20))
    feasibility = qv - _days(rng.randint(5, 25))
    cda = feasibility - _days(rng.randint(5, 20))
    return {"confidentiality_agreement": cda, "feasibility": feasibility, "qualification_visit": qv,
            "selected": selected, "budget_agreed": budget, "irb_submitted": irb_submitted,
            "regulatory_approval": regulatory, "contract_executed": contract, "irb_approval": irb,
            "essential_documents": essential, "initiation_visit": siv, "activated": activation}


def _milestones(rng: random.Random, site: SitePlan, today: dt.date) -> dict[str, tuple[dt.date | None,
                                                                                       dt.date | None]]:
    """Start-up milestones as (planned, actual): actuals run late against the plan; only steps done by today
    (and fitting the site's status) have an actual date."""
    planned = _start_up_path(rng, site.planned_activation)
    if site.activated is not None:
        actual = _start_up_path(rng, site.activated)
        return {k: (planned[k], actual[k]) for k in MILESTONE_KEYS}
    slip = _days(rng.randint(0, 45))
    low, high = DONE_STEPS.get(site.status, (0, 0))
    done = set(sorted(MILESTONE_KEYS, key=lambda k: (planned[k], MILESTONE_KEYS.index(k)))[:rng.randint(low, high)])
    if site.status in ("selected", "start_up"):
        done |= {"confidentiality_agreement", "feasibility", "qualification_visit", "selected"}
    done.discard("activated")
    out = {}
    for key in MILESTONE_KEYS:
        actual = min(planned[key] + slip, today - _days(1))
        out[key] = (planned[key], actual if key in done else None)
    return out


def _plan_sites(study: StudyPlan, chosen: list[int], institutions: list[Institution], rng: random.Random,
                nrng: np.random.Generator, today: dt.date) -> None:
    n = len(chosen)
    width = max(3, len(str(n)))
    status = study.status
    ramp = rng.uniform(60, 240) * (2 if study.mega else 1)
    horizon = study.enroll_months * MONTH_DAYS * 0.8
    offsets = sorted(min(horizon, float(x)) for x in nrng.exponential(ramp, size=n))
    order = list(range(n))
    rng.shuffle(order)
    rates = nrng.gamma(1.3, study.rate_mean / 1.3, size=n)
    for k, inst_index in enumerate(chosen):
        inst = institutions[inst_index]
        site = SitePlan(number=f"{k + 1:0{width}d}", institution=inst_index,
                        investigator=rng.choice(inst.investigators), rate=float(rates[k]))
        planned_activation = study.planned_fsa + _days(offsets[order[k]]) - _days(rng.randint(0, 30))
        site.planned_activation = planned_activation
        u = rng.random()
        if status == "planning":
            site.status = "candidate" if u < 0.6 else ("selected" if u < 0.85 else "not_selected")
        elif status == "start_up":
            activation = study.planned_fsa + _days(offsets[order[k]])
            if activation <= today - _days(5) and u < 0.8:
                site.status, site.activated = "activated", activation
            else:
                site.status = "not_selected" if u > 0.93 else ("start_up" if u > 0.3 else "selected")
        elif status == "withdrawn":
            site.status = "not_selected" if u < 0.7 else "candidate"
        else:
            activation = study.planned_fsa + _days(offsets[order[k]]) + _days(rng.randint(0, 45))
            if k == 0:
                activation = study.planned_fsa + _days(rng.randint(0, 20))
            stop = study.enroll_end or today
            if u < 0.06:
                site.status = "not_selected"
            elif activation >= stop - _days(10):
                # Never opened before recruitment stopped (or not yet open).
                if study.enroll_end is None or status == "on_hold":
                    site.status = "start_up" if activation - today < _days(150) else "selected"
                else:
                    site.status = "not_selected"
            else:
                site.activated = activation
                site.enroll_until = stop
                if status in ("enrolling", "on_hold"):
                    site.status = "enrolling" if (today - activation).days > 30 else "activated"
                    if status == "enrolling" and rng.random() < 0.05 and (today - activation).days > 200:
                        site.enroll_until = activation + _days(rng.randint(150, (today - activation).days - 20))
                        site.status = "closed_to_enrollment"
                        site.status_reason = "Closed early: enrollment well below plan."
                    elif status == "on_hold":
                        site.status = "closed_to_enrollment" if rng.random() < 0.2 else site.status
                else:
                    site.status = "closed_to_enrollment"
        if site.status == "not_selected":
            site.status_reason = rng.choice(("Competing study at the site.", "No access to the patient population.",
                                             "Contract terms not agreed."))
        site.milestones = _milestones(rng, site, today)
        if site.enroll_until is not None and site.activated is not None:
            site.exposure_months = max(0.0, (site.enroll_until - site.activated).days / MONTH_DAYS)
        study.sites.append(site)


def _scale_candidates(studies: list[StudyPlan], total: int, nrng: np.random.Generator) -> None:
    """Candidates per site: Poisson in rate x months open / (1 - screen-fail share), scaled to the total."""
    weights = [(s, site, site.rate * site.exposure_months / (1 - s.screen_fail))
               for s in studies for site in s.sites]
    mass = sum(w for *_, w in weights)
    if mass <= 0:
        return
    factor = total / mass
    draws = nrng.poisson([w * factor for *_, w in weights])
    for (_study, site, _w), n in zip(weights, draws, strict=True):
        site.candidates = int(n)
        site.rate *= factor


def _plan_targets(study: StudyPlan, rng: random.Random, today: dt.date) -> None:
    """Enrollment targets: for open studies, the pace so far projected to the planned last subject in, off by
    up to a third either way (some studies ahead, some behind); closed ones near what they enrolled."""
    expected = sum(site.candidates * (1 - study.screen_fail) for site in study.sites)
    if study.status in ("planning", "start_up", "withdrawn") or expected <= 0:
        study.planned_enrollment = max(20, int(len(study.sites) * study.rate_mean * 12 * rng.uniform(0.6, 1.2)))
    elif study.status in ("enrolling", "on_hold"):
        elapsed = max(1.0, ((study.enroll_end or today) - study.planned_fsa).days / MONTH_DAYS)
        projected = expected / elapsed * study.enroll_months
        study.planned_enrollment = max(10, int(projected * rng.uniform(0.75, 1.35)))
    else:
        study.planned_enrollment = max(10, int(expected * rng.uniform(0.9, 1.1)))
    active = [s for s in study.sites if s.status not in ("not_selected", "candidate")] or study.sites
    per_site = study.planned_enrollment / max(1, len(active))
    for site in active:
        site.target = max(1, round(per_site * rng.uniform(0.6, 1.4)))


# --- Subjects ---------------------------------------------------------------------------------------------

@dataclass
class VisitRecord:
    definition: int            # index into the study's schedule
    protocol: int              # index into study.protocols (whose copy of the schedule)
    planned_on: dt.date
    window_start: dt.date
    window_end: dt.date
    actual_on: dt.date | None
    status: str                # planned | completed | missed | cancelled
    modality: str
    out_of_window: bool


@dataclass
class ConsentRecord:
    protocol: int              # index into study.protocols (its consent form)
    consented_on: dt.date
    method: str
    is_reconsent: bool


@dataclass
class ReconsentRecord:
    protocol: int              # the new form
    status: str                # open | done | not_required
    consent: int | None        # index into SubjectRecord.consents when done
    closed_on: dt.date | None


@dataclass
class SubjectRecord:
    site: int                  # index into study.sites
    sequence: int
    number: str
    status: str
    dates: dict[str, dt.date]
    screen_fail_code: str = ""
    screen_fail_text: str = ""
    withdrawal_reason: str = ""
    withdrawal_text: str = ""
    arm: int | None = None
    stratum: str = ""
    irt_reference: str = ""
    protocol: int | None = None          # index into study.protocols (schedule in force)
    consents: list[ConsentRecord] = field(default_factory=list)
    reconsents: list[ReconsentRecord] = field(default_factory=list)
    visits: list[VisitRecord] = field(default_factory=list)

    @property
    def first_contact(self) -> dt.date:
        return min(self.dates.values())

    @property
    def last_change(self) -> dt.date:
        return max(self.dates.values())


def status_of(dates: dict[str, dt.date]) -> str:
    """The latest recorded step, as the screening-log rules order them (first_dose_on has no status)."""
    return recorded_dates(dates)[-1][0]


def _candidate(study: StudyPlan, site: SitePlan, rng: random.Random, arrival: dt.date, today: dt.date
               ) -> SubjectRecord | None:
    d: dict[str, dt.date] = {}
    rec = SubjectRecord(site=0, sequence=0, number="", status="", dates=d)
    prescreened = rng.random() < 0.4
    if prescreened:
        d["prescreened_on"] = arrival
        d["screened_on"] = arrival + _days(rng.randint(3, 21))
    else:
        d["screened_on"] = arrival
    d["consented_on"] = d["screened_on"] + _days(0 if rng.random() < 0.75 else rng.randint(1, 5))
    stop = site.enroll_until or today
    if rng.random() < study.screen_fail:
        stage = rng.random()
        if prescreened and stage < 0.25:
            del d["screened_on"], d["consented_on"]
            d["screen_failed_on"] = arrival + _days(rng.randint(1, 10))
            rec.screen_fail_code = _weighted(rng, [c for c in SCREEN_FAIL_CODES if c[0] != "consent_declined"])
        elif stage < 0.35:
            del d["consented_on"]
            d["screen_failed_on"] = d["screened_on"] + _days(rng.randint(0, 3))
            rec.screen_fail_code = "consent_declined"
        else:
            d["screen_failed_on"] = d["consented_on"] + _days(rng.randint(3, 25))
            rec.screen_fail_code = _weighted(rng, [c for c in SCREEN_FAIL_CODES if c[0] != "consent_declined"])
        if rec.screen_fail_code == "other":
            rec.screen_fail_text = rng.choice(OTHER_FAIL_TEXTS)
    else:
        enrolled = d["consented_on"] + _days(rng.randint(7, 28))
        if enrolled > stop and stop < today:
            # Recruitment stopped while the candidate was still in screening.
            d["screen_failed_on"] = max(d["consented_on"], stop) + _days(rng.randint(1, 7))
            rec.screen_fail_code = "other"
            rec.screen_fail_text = TERMINATED_TEXT if study.terminated_on else CLOSED_TEXT
        else:
            d["enrolled_on"] = enrolled
            if study.randomized:
                d["randomized_on"] = enrolled
                weights = [share for *_x, share in study.arms]
                rec.arm = rng.choices(range(len(study.arms)), weights=weights)[0]
                rec.stratum = rng.choice(study.strata) if study.strata else ""
            dosed = enrolled + _days(rng.randint(0, 3))
            d["first_dose_on"] = d["active_on"] = dosed
            anchor = enrolled
            final = study.schedule[-1]
            completion = anchor + _days(final.day + round(rng.triangular(-final.before, final.after, 0)))
            u = rng.random()
            if u < study.withdraw:
                span = max(8, (completion - enrolled).days - 7)
                d["withdrawn_on"] = enrolled + _days(rng.randint(7, span))
                rec.withdrawal_reason = _weighted(rng, WITHDRAWAL_REASONS)
                rec.withdrawal_text = rng.choice(WITHDRAWAL_TEXTS[rec.withdrawal_reason])
            elif u < study.withdraw + study.lost:
                span = max(31, (completion - enrolled).days - 14)
                d["lost_on"] = enrolled + _days(rng.randint(30, span))
            else:
                d["completed_on"] = completion
            end_by = study.terminated_on or site.closed_out
            if end_by is not None:
                end = min(v for k, v in d.items() if k in ("completed_on", "withdrawn_on", "lost_on"))
                if end >= end_by:
                    for k in ("completed_on", "withdrawn_on", "lost_on"):
                        d.pop(k, None)
                    d["withdrawn_on"] = max(enrolled + _days(1), end_by + _days(rng.randint(0, 20)))
                    if d["withdrawn_on"] < d["active_on"]:
                        d["active_on"] = d["first_dose_on"] = d["withdrawn_on"]
                    rec.withdrawal_reason, rec.withdrawal_text = "other", TERMINATED_TEXT
    # Keep what happened by today.
    for k in [k for k, v in d.items() if v > today]:
        del d[k]
    if not d:
        return None
    if "screen_failed_on" not in d:
        rec.screen_fail_code = rec.screen_fail_text = ""
    if "withdrawn_on" not in d:
        rec.withdrawal_reason = rec.withdrawal_text = ""
    if "randomized_on" not in d:
        rec.arm, rec.stratum = None, ""
    if "active_on" in d and "first_dose_on" not in d:
        del d["active_on"]
    rec.status = status_of(d)
    return rec


def _end_of(rec: SubjectRecord) -> dt.date | None:
    ends = [rec.dates[k] for k in ("completed_on", "withdrawn_on") if k in rec.dates]
    return min(ends) if ends else None


def _on_study(rec: SubjectRecord, day: dt.date) -> bool:
    """Consented (or later) and not yet finished on that day: re-consent is required of them."""
    consented = rec.dates.get("consented_on")
    if consented is None or consented > day:
        return False
    failed = rec.dates.get("screen_failed_on")
    if failed is not None and failed <= day:
        return False
    end = _end_of(rec)
    return end is None or end > day


def _consents(study: StudyPlan, rec: SubjectRecord, rng: random.Random, today: dt.date) -> None:
    forms = [(p.icf_irb_approval, i) for i, p in enumerate(study.protocols) if p.icf_irb_approval is not None]
    consented = rec.dates.get("consented_on")
    if consented is None or not forms:
        return
    days = [d for d, _ in forms]
    k = max(0, bisect.bisect_right(days, consented) - 1)
    method = "econsent" if rng.random() < study.econsent else "paper"
    rec.consents.append(ConsentRecord(forms[k][1], consented, method, False))
    rec.protocol = forms[k][1]
    for approval, proto in forms[k + 1:]:
        if not _on_study(rec, approval):
            continue
        due = approval + _days(rng.randint(3, 40))
        end = _end_of(rec)
        if end is not None and end <= due:
            rec.reconsents.append(ReconsentRecord(proto, "not_required", None, end))
        elif due > today:
            rec.reconsents.append(ReconsentRecord(proto, "open", None, None))
        else:
            rec.consents.append(ConsentRecord(proto, due, method, True))
            rec.reconsents.append(ReconsentRecord(proto, "done", len(rec.consents) - 1, due))
            rec.protocol = proto


_ANCHOR_FIELD = {"consent": "consented_on", "enrollment": "enrolled_on", "randomization": "randomized_on"}


def _visits(study: StudyPlan, rec: SubjectRecord, rng: random.Random, today: dt.date) -> None:
    if rec.protocol is None:
        return
    switches = [(c.consented_on, c.protocol) for c in rec.consents]
    first_proto = switches[0][1]
    end = _end_of(rec)
    completed_on = rec.dates.get("completed_on")
    lost = rec.dates.get("lost_on")
    failed = rec.dates.get("screen_failed_on")
    last_index = len(study.schedule) - 1
    for index, v in enumerate(study.schedule):
        anchor = rec.dates.get(_ANCHOR_FIELD[v.anchor])
        if anchor is None:
            continue
        planned = anchor + _days(v.day)
        ws, we = planned - _days(v.before), planned + _days(v.after)
        proto = first_proto
        for day, p in switches:
            if day <= planned:
                proto = p
        actual = None
        modality = v.modality
        if v.day == 0:
            status, actual = "completed", anchor
        elif index == last_index and completed_on is not None:
            status, actual = "completed", completed_on
        elif (end is not None and planned > end) or (failed is not None and planned > failed):
            status = "cancelled"
        elif lost is not None and planned > lost:
            status = "missed" if we < today else "planned"
        else:
            u = rng.random()
            missed = 0.04 if v.required else 0.25
            if u < missed:
                status = "missed" if we < today else "planned"
            else:
                if u < missed + 0.04:
                    offset = v.after + rng.randint(1, 6)
                else:
                    offset = round(rng.triangular(-v.before, v.after, 0))
                actual = planned + _days(offset)
                if completed_on is not None and actual >= completed_on:
                    actual = completed_on - _days(1)
                if actual > today or (end is not None and actual > end):
                    actual = None
                    status = "planned" if we >= today else "missed"
                else:
                    status = "completed"
                    if modality == "on_site" and rng.random() < 0.08:
                        modality = "remote"
        out = actual is not None and not (ws <= actual <= we)
        rec.visits.append(VisitRecord(index, proto, planned, ws, we, actual, status,
                                      modality if actual is not None else "", out))


def site_subjects(study: StudyPlan, site_index: int, seed: int, today: dt.date) -> list[SubjectRecord]:
    """One site's screening log: candidates arriving uniformly over the months it was open."""
    site = study.sites[site_index]
    if site.candidates <= 0 or site.activated is None or site.enroll_until is None:
        return []
    rng = study_rng(seed, study.index, f"site:{site.number}")
    last_arrival = today if site.enroll_until >= today else site.enroll_until - _days(20)
    span = (last_arrival - site.activated).days
    if span <= 0:
        return []
    arrivals = sorted(site.activated + _days(rng.randint(0, span)) for _ in range(site.candidates))
    out = []
    for arrival in arrivals:
        rec = _candidate(study, site, rng, arrival, today)
        if rec is None:
            continue
        rec.site = site_index
        rec.sequence = len(out) + 1
        rec.number = f"{site.number}-{rec.sequence:03d}"
        _consents(study, rec, rng, today)
        _visits(study, rec, rng, today)
        out.append(rec)
    return out


def finish_site(study: StudyPlan, index: int, subjects: list[SubjectRecord], rng: random.Random,
                today: dt.date) -> None:
    """Site outcomes that depend on its subjects: closed out (finished studies, some sites of studies in
    follow-up whose subjects are all done), enrolling once someone enrolled."""
    site = study.sites[index]
    if site.activated is None:
        return
    last = max((s.last_change for s in subjects), default=site.enroll_until or site.activated)
    all_done = all(_end_of(s) or s.dates.get("screen_failed_on") for s in subjects)
    if study.status in ("completed", "terminated") or (study.status == "follow_up" and all_done
                                                        and rng.random() < 0.7):
        closed = max(last, site.enroll_until or last) + _days(rng.randint(10, 60))
        if closed <= today:
            site.closed_out = closed
            site.status = "closed_out"
    if site.status == "activated" and any("enrolled_on" in s.dates for s in subjects):
        site.status = "enrolling"


def finish_sites(study: StudyPlan, subjects_by_site: dict[int, list[SubjectRecord]], rng: random.Random,
                 today: dt.date) -> None:
    for index in range(len(study.sites)):
        finish_site(study, index, subjects_by_site.get(index, []), rng, today)


def study_subjects(study: StudyPlan, seed: int, today: dt.date) -> Iterator[tuple[int, list[SubjectRecord]]]:
    for index in range(len(study.sites)):
        yield index, site_subjects(study, index, seed, today)


def assign_irt(study: StudyPlan, subjects: list[SubjectRecord]) -> None:
    randomized = sorted((s for s in subjects if "randomized_on" in s.dates),
                        key=lambda s: (s.dates["randomized_on"], s.site, s.sequence))
    for n, s in enumerate(randomized, start=1):
        s.irt_reference = f"{study.protocol_number}-R{n:05d}"


def study_key_dates(study: StudyPlan, subjects: list[SubjectRecord], rng: random.Random, today: dt.date
                    ) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    """Planned vs actual key dates; actuals from what the sites and subjects did."""
    slip = _days(rng.randint(0, 60))
    p_fsa = study.planned_fsa - slip
    p_fsi = p_fsa + _days(rng.randint(20, 60))
    p_lsi = p_fsa + _days(study.enroll_months * MONTH_DAYS)
    p_lslv = p_lsi + _days(study.duration_days + 14)
    p_dbl = p_lslv + _days(rng.randint(45, 90))
    p_final = p_dbl + _days(rng.randint(120, 240))
    activations = [s.activated for s in study.sites if s.activated]
    enrolled = [s.dates["enrolled_on"] for s in subjects if "enrolled_on" in s.dates]
    a_fsa = min(activations) if activations else None
    a_fsi = min(enrolled) if enrolled else None
    a_lsi = max(enrolled) if enrolled and study.status in ("closed_to_enrollment", "follow_up", "completed",
                                                            "terminated") else None
    a_lslv = a_dbl = a_final = None
    if study.status == "completed" and enrolled:
        a_lslv = max(s.last_change for s in subjects)
        a_dbl = a_lslv + _days(rng.randint(30, 80))
        a_final = a_dbl + _days(rng.randint(90, 200))
        a_dbl = a_dbl if a_dbl <= today else None
        a_final = a_final if a_final and a_dbl and a_final <= today else None
    return {"first_site_activated": (p_fsa, a_fsa), "first_subject_in": (p_fsi, a_fsi),
            "last_subject_in": (p_lsi, a_lsi), "last_subject_last_visit": (p_lslv, a_lslv),
            "database_lock": (p_dbl, a_dbl), "final_report": (p_final, a_final)}


def plan_rate(study: StudyPlan, site: SitePlan) -> float:
    """Planned enrollment per month for a site: its target over the months from activation to planned LSI."""
    months = max(1.0, study.enroll_months - ((site.planned_activation or study.planned_fsa)
                                             - study.planned_fsa).days / MONTH_DAYS)
    return round(min(1000.0, (site.target or 0) / months), 2)
