"""The invented demo portfolio as plain data (no Django): organizations, people, users, studies, sites.

Sponsor, CRO, compounds and people are fictional; the institutions are real hospitals and
research units, used only as believable site names. Dates are offsets in days from the day the
demo is loaded, so the portfolio always looks current. `services.demo_portfolio_load` turns
this into records through the domain services.

The enrollment stories (subjects come from `histories.py`, loaded by `clinical.py`): CLEARSKIN-2 is ahead of
plan, VITALIS-HF on plan, AIRWAY-3 behind it (re-baselined once; one site idle since activation, one
screening out most candidates, one far below the others; a consent form approved days ago leaves an open
re-consent list). TIDEWAY-3, LUMEN-2 and the Phase 1 study reached their targets; LUPRA-2 paused on hold.
"""

from __future__ import annotations

from dataclasses import dataclass

SEED = 20240611

US, CA, DE, FR, ES, IT, PL, UK, JP = (
    "United States", "Canada", "Germany", "France", "Spain", "Italy", "Poland", "United Kingdom", "Japan",
)

# Site numbers start with a per-country block, the way sponsors usually number sites.
COUNTRY_SITE_BLOCK = {US: 10, CA: 11, DE: 20, FR: 21, ES: 22, IT: 23, PL: 24, UK: 25, JP: 30}

SPONSOR = {"name": "Northvale Therapeutics, Inc.", "kind": "sponsor", "registry_class": "INDUSTRY",
           "address": "200 Binney Street", "city": "Cambridge", "state": "Massachusetts", "postal_code": "02142",
           "country": US, "website": "https://northvale.example"}
CRO = {"name": "Meridian Clinical Research Ltd", "kind": "cro", "address": "3 Forbury Place", "city": "Reading",
       "postal_code": "RG1 3JH", "country": UK, "website": "https://meridian-cr.example"}
PARTNER = {"name": "Kestrel Biologics GmbH", "kind": "sponsor", "registry_class": "INDUSTRY", "city": "München",
           "state": "Bayern", "country": DE, "website": "https://kestrel-bio.example"}


@dataclass(frozen=True)
class Institution:
    name: str
    city: str
    state: str
    country: str
    postal_code: str = ""


INSTITUTIONS: dict[str, Institution] = {
    "us_mgh": Institution("Massachusetts General Hospital", "Boston", "Massachusetts", US, "02114"),
    "us_mayo": Institution("Mayo Clinic", "Rochester", "Minnesota", US, "55905"),
    "us_ccf": Institution("Cleveland Clinic", "Cleveland", "Ohio", US, "44195"),
    "us_mda": Institution("The University of Texas MD Anderson Cancer Center", "Houston", "Texas", US, "77030"),
    "us_mskcc": Institution("Memorial Sloan Kettering Cancer Center", "New York", "New York", US, "10065"),
    "us_jhh": Institution("The Johns Hopkins Hospital", "Baltimore", "Maryland", US, "21287"),
    "us_ucsf": Institution("UCSF Medical Center", "San Francisco", "California", US, "94143"),
    "us_nm": Institution("Northwestern Memorial Hospital", "Chicago", "Illinois", US, "60611"),
    "us_duke": Institution("Duke University Hospital", "Durham", "North Carolina", US, "27710"),
    "us_spaulding": Institution("Spaulding Clinical Research", "West Bend", "Wisconsin", US, "53095"),
    "ca_tgh": Institution("Toronto General Hospital", "Toronto", "Ontario", CA, "M5G 2C4"),
    "ca_twh": Institution("Toronto Western Hospital", "Toronto", "Ontario", CA, "M5T 2S8"),
    "ca_pm": Institution("Princess Margaret Cancer Centre", "Toronto", "Ontario", CA, "M5G 2M9"),
    "ca_mhi": Institution("Montreal Heart Institute", "Montréal", "Quebec", CA, "H1T 1C8"),
    "ca_vgh": Institution("Vancouver General Hospital", "Vancouver", "British Columbia", CA, "V5Z 1M9"),
    "de_charite": Institution("Charité – Universitätsmedizin Berlin", "Berlin", "Berlin", DE, "10117"),
    "de_cro": Institution("Charité Research Organisation GmbH", "Berlin", "Berlin", DE, "10117"),
    "de_ukhd": Institution("Universitätsklinikum Heidelberg", "Heidelberg", "Baden-Württemberg", DE, "69120"),
    "de_lmu": Institution("LMU Klinikum", "München", "Bayern", DE, "81377"),
    "de_uke": Institution("Universitätsklinikum Hamburg-Eppendorf", "Hamburg", "Hamburg", DE, "20246"),
    "fr_psl": Institution("Hôpital Pitié-Salpêtrière (AP-HP)", "Paris", "Île-de-France", FR, "75013"),
    "fr_gr": Institution("Gustave Roussy", "Villejuif", "Île-de-France", FR, "94805"),
    "fr_hcl": Institution("Hospices Civils de Lyon – Hôpital Édouard Herriot", "Lyon",
                          "Auvergne-Rhône-Alpes", FR, "69003"),
    "fr_chut": Institution("CHU de Toulouse", "Toulouse", "Occitanie", FR, "31059"),
    "es_vh": Institution("Hospital Universitari Vall d'Hebron", "Barcelona", "Catalonia", ES, "08035"),
    "es_clinic": Institution("Hospital Clínic de Barcelona", "Barcelona", "Catalonia", ES, "08036"),
    "es_lapaz": Institution("Hospital Universitario La Paz", "Madrid", "Madrid", ES, "28046"),
    "es_12o": Institution("Hospital Universitario 12 de Octubre", "Madrid", "Madrid", ES, "28041"),
    "it_gemelli": Institution("Fondazione Policlinico Universitario A. Gemelli IRCCS", "Roma", "Lazio", IT,
                              "00168"),
    "it_hsr": Institution("IRCCS Ospedale San Raffaele", "Milano", "Lombardia", IT, "20132"),
    "it_int": Institution("Fondazione IRCCS Istituto Nazionale dei Tumori", "Milano", "Lombardia", IT, "20133"),
    "it_careggi": Institution("Azienda Ospedaliero-Universitaria Careggi", "Firenze", "Toscana", IT, "50134"),
    "pl_uck": Institution("Uniwersyteckie Centrum Kliniczne", "Gdańsk", "Pomorskie", PL, "80-952"),
    "pl_suk": Institution("Szpital Uniwersytecki w Krakowie", "Kraków", "Małopolskie", PL, "30-688"),
    "pl_wum": Institution("Uniwersyteckie Centrum Kliniczne WUM", "Warszawa", "Mazowieckie", PL, "02-097"),
    "uk_rbh": Institution("Royal Brompton Hospital", "London", "England", UK, "SW3 6NP"),
    "uk_guys": Institution("Guy's Hospital", "London", "England", UK, "SE1 9RT"),
    "uk_mri": Institution("Manchester Royal Infirmary", "Manchester", "England", UK, "M13 9WL"),
    "uk_add": Institution("Addenbrooke's Hospital", "Cambridge", "England", UK, "CB2 0QQ"),
    "uk_hmr": Institution("Hammersmith Medicines Research", "London", "England", UK, "NW10 7EW"),
    "jp_utokyo": Institution("The University of Tokyo Hospital", "Bunkyo-ku", "Tokyo", JP, "113-8655"),
    "jp_kyoto": Institution("Kyoto University Hospital", "Kyoto", "Kyoto", JP, "606-8507"),
    "jp_ncch": Institution("National Cancer Center Hospital", "Chuo-ku", "Tokyo", JP, "104-0045"),
    "jp_osaka": Institution("Osaka University Hospital", "Suita", "Osaka", JP, "565-0871"),
    "jp_sumida": Institution("Sumida Hospital", "Sumida-ku", "Tokyo", JP, "130-0004"),
}

# Investigator names, combined first x last per country (Polish surnames are gendered, so whole names).
PI_FIRST_NAMES = {
    US: ["Jennifer", "Michael", "David", "Sarah", "Robert", "Emily", "James", "Laura", "Daniel", "Rachel"],
    CA: ["Geneviève", "Mark", "Priya", "Jean-François", "Heather", "Wei"],
    DE: ["Katrin", "Matthias", "Stefan", "Anja", "Jörg", "Claudia", "Thomas", "Sabine"],
    FR: ["Claire", "Julien", "Isabelle", "Nicolas", "Sophie", "Olivier"],
    ES: ["Marta", "Javier", "Lucía", "Alejandro", "Carmen", "Pablo"],
    IT: ["Giulia", "Marco", "Francesca", "Alessandro", "Chiara", "Luca"],
    UK: ["Alistair", "Fiona", "Oliver", "Harriet", "Rajesh", "Siobhan", "Edward", "Eleanor"],
    JP: ["Hiroshi", "Yuko", "Kenji", "Akiko", "Takeshi", "Naoko"],
}
PI_LAST_NAMES = {
    US: ["Whitaker", "Nguyen", "Patel", "Goldberg", "Morrison", "Chen", "Ramirez", "O'Connell", "Sullivan",
         "Brooks"],
    CA: ["Tremblay", "MacDonald", "Sharma", "Gagnon", "Campbell", "Zhang"],
    DE: ["Hoffmann", "Becker", "Schulte", "Wagner", "Krüger", "Neumann", "Vogel", "Lehmann"],
    FR: ["Lefèvre", "Moreau", "Garnier", "Rousseau", "Bertrand", "Fontaine"],
    ES: ["García Ruiz", "Fernández", "Navarro", "Ortega", "Serrano", "Molina"],
    IT: ["Rossi", "Bianchi", "Esposito", "Romano", "Colombo", "Ricci"],
    UK: ["Hughes", "Bennett", "Walsh", "Kapoor", "Murphy", "Clarke", "Price", "Doyle"],
    JP: ["Tanaka", "Suzuki", "Watanabe", "Yamamoto", "Nakamura", "Kobayashi"],
}
PI_WHOLE_NAMES = {
    PL: [("Agnieszka", "Nowak"), ("Piotr", "Wiśniewski"), ("Katarzyna", "Kamińska"), ("Tomasz", "Lewandowski"),
         ("Magdalena", "Wójcik"), ("Marcin", "Zieliński"), ("Anna", "Szymańska"), ("Paweł", "Dąbrowski")],
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str
    job_title: str
    employer: str = "sponsor"   # sponsor | cro | none | site (the person is the site's PI or staff)
    title: str = ""
    degrees: str = ""
    blinded: bool = False       # User.is_blinded: never sees randomized arms


# One login per role. The investigator is the PI already named on their site; the coordinator works there.
USERS = [
    DemoUser("admin", "admin", "Dana", "Whitfield", "Systems Administrator", employer="none"),
    DemoUser("cpm", "cpm", "Maria", "Lindqvist", "Clinical Project Manager"),
    DemoUser("cra", "cra", "Tomás", "Aguilar", "Senior Clinical Research Associate", employer="cro"),
    DemoUser("coordinator", "site_coordinator", "Megan", "Foster", "Clinical Research Coordinator",
             employer="site", degrees="RN"),
    DemoUser("investigator", "principal_investigator", "", "", "Principal Investigator", employer="site"),
    DemoUser("regulatory", "regulatory", "Priya", "Raman", "Regulatory & TMF Specialist"),
    DemoUser("finance", "finance", "Lukas", "Brandt", "Clinical Finance Manager"),
    DemoUser("viewer", "viewer", "Aiko", "Mori", "Medical Director", title="Dr.", degrees="MD", blinded=True),
    DemoUser("auditor", "auditor", "Graham", "Ellison", "GCP Quality Assurance Auditor", employer="none"),
]

# Where the site-scoped users work: (study protocol number, institution key).
COORDINATOR_SITE = ("NVT-1150-301", "us_mgh")
INVESTIGATOR_SITE = ("NVT-1150-301", "de_charite")
# The CRA monitors these sites.
CRA_SITES = {
    "NVT-1150-301": ["us_mgh", "us_jhh", "us_duke", "us_ucsf", "ca_vgh"],
    "NVT-3320-302": ["us_ccf", "us_duke", "ca_mhi"],
}
# The viewer follows only a few studies; the others see the whole demo portfolio through memberships.
VIEWER_STUDIES = ["NVT-1150-301", "NVT-3320-302", "NVT-4410-203"]


@dataclass(frozen=True)
class SiteSpec:
    institution: str
    status: str
    reason: str = ""            # reason recorded with the final transition (e.g. why not selected)
    enrolled: int | None = None  # exactly this many subjects enrolled; otherwise drawn from the site's rate
    active_days: int | None = None  # activated this many days ago (default: from the study's start-up)
    rate: float | None = None   # recruitment rate relative to plan (default: a gamma-distributed draw)
    screen_fail: float | None = None  # screen-failure proportion (default: the study's)


@dataclass(frozen=True)
class ArmSpec:
    label: str
    arm_type: str
    description: str
    share: float  # fraction of the study's planned enrollment


@dataclass(frozen=True)
class InterventionSpec:
    kind: str
    name: str
    description: str
    arms: tuple[str, ...]
    other_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class VisitSpec:
    """One visit of a schedule of events (see visits.models.VisitDefinition)."""

    code: str
    name: str
    anchor: str                 # consent | enrollment | randomization | first_dose
    day: int                    # target day after the anchor (0 = the anchor day)
    before: int = 0             # window, days
    after: int = 0
    modality: str = "on_site"   # on_site | remote | home | phone
    required: bool = True


@dataclass(frozen=True)
class ProtocolSpec:
    version_number: str
    days: int                   # version date, days from today
    summary_of_changes: str
    amendment_number: int | None = None
    approve: bool = True        # approved by the CPM's e-signature; False stays a draft
    adds_visits: tuple[VisitSpec, ...] = ()  # visits this version adds to the previous version's schedule


@dataclass(frozen=True)
class IcfSpec:
    """An informed consent form version, tied to a protocol version."""

    version_number: str
    days: int                   # version date, days from today
    protocol: str               # version_number of its protocol version
    irb_days: int | None = None  # IRB/IEC approval, days from today; None: still a draft
    country: str = ""           # a country-specific form


@dataclass(frozen=True)
class RebaselineSpec:
    """An earlier baseline of the enrollment plan, replaced by the current one for `reason`."""

    label: str                  # the earlier baseline's label
    lsi_days: int               # its planned last subject in, days before the study's current plan
    current_label: str
    reason: str


@dataclass(frozen=True)
class EnrollmentSpec:
    """How subjects come in: the study's pace against its plan and what happens to them."""

    pace: float                 # actual recruitment rate / planned rate (1: on plan)
    screen_fail: float          # typical screen-failure proportion
    withdraw: float             # share of enrolled subjects who withdraw before completing
    lost: float                 # share lost to follow-up
    strata: tuple[str, ...]
    screen_fail_reasons: tuple[tuple[str, str, float], ...]  # study-specific (code, label, weight)
    consent_sites: tuple[str, ...]  # sites whose subjects are entered one by one with their consents
    econsent: float = 0.0       # share of consents obtained electronically
    death: float = 0.0          # share of withdrawals that are deaths
    stop_days: int | None = None  # enrollment stopped this many days ago (hold); default: plan or today
    rebaseline: RebaselineSpec | None = None


@dataclass(frozen=True)
class StudySpec:
    protocol_number: str
    acronym: str
    brief_title: str
    official_title: str
    summary: str
    phases: tuple[str, ...]
    therapeutic_area: str
    conditions: tuple[str, ...]
    keywords: tuple[str, ...]
    status: str
    planned_enrollment: int
    first_site_activated: int   # planned, days from today
    enrollment_days: int        # planned first subject in -> last subject in
    follow_up_days: int         # planned last subject in -> last subject last visit
    arms: tuple[ArmSpec, ...]
    interventions: tuple[InterventionSpec, ...]
    inclusion: tuple[str, ...]
    exclusion: tuple[str, ...]
    protocols: tuple[ProtocolSpec, ...]
    sites: tuple[SiteSpec, ...]
    minimum_age: str = "18 Years"
    maximum_age: str = ""
    sex: str = "ALL"
    healthy_volunteers: bool = False
    allocation: str = "RANDOMIZED"
    intervention_model: str = "PARALLEL"
    primary_purpose: str = "TREATMENT"
    masking: str = "QUADRUPLE"
    who_masked: tuple[str, ...] = ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR")
    partner: bool = False       # co-developed with the partner company (a collaborator)
    eu_ct_number: str = ""
    hold_reason: str = ""
    slip_days: int = 14         # how late actual milestones run against plan
    schedule: tuple[VisitSpec, ...] = ()   # schedule of events of the first protocol version
    icfs: tuple[IcfSpec, ...] = ()
    enrollment: EnrollmentSpec | None = None  # None: no subjects (studies not yet enrolling)


# Schedules of events. Screening is the consent day; baseline is the enrollment day (randomised the same
# day); treatment visits count from randomisation. Phone, remote and home visits are the decentralised ones.
def _screening_and_baseline(baseline: str = "Baseline / Day 1 (randomisation)") -> tuple[VisitSpec, ...]:
    return (VisitSpec("SCR", "Screening", "consent", 0),
            VisitSpec("BL", baseline, "enrollment", 0))


ASTHMA_SCHEDULE = (
    *_screening_and_baseline(),
    VisitSpec("W2", "Week 2 safety call", "randomization", 14, 3, 3, "phone"),
    VisitSpec("W4", "Week 4", "randomization", 28, 3, 3),
    VisitSpec("W8", "Week 8 home dosing", "randomization", 56, 5, 5, "home"),
    VisitSpec("W12", "Week 12", "randomization", 84, 7, 7),
    VisitSpec("W16", "Week 16 telemedicine", "randomization", 112, 7, 7, "remote"),
    VisitSpec("W24", "Week 24", "randomization", 168, 7, 7),
    VisitSpec("W36", "Week 36", "randomization", 252, 7, 7),
    VisitSpec("W44", "Week 44 exacerbation diary review", "randomization", 308, 7, 7, "phone", required=False),
    VisitSpec("W52", "Week 52 end of treatment", "randomization", 364, 7, 7),
)
HEART_FAILURE_SCHEDULE = (
    *_screening_and_baseline(),
    VisitSpec("W2", "Week 2 titration call", "randomization", 14, 3, 3, "phone"),
    VisitSpec("W4", "Week 4 titration", "randomization", 28, 4, 4),
    VisitSpec("W8", "Week 8 call", "randomization", 56, 7, 7, "phone"),
    VisitSpec("W16", "Week 16", "randomization", 112, 7, 7),
    VisitSpec("M6", "Month 6", "randomization", 182, 14, 14),
    VisitSpec("M9", "Month 9 telemedicine", "randomization", 273, 14, 14, "remote"),
    VisitSpec("M12", "Month 12", "randomization", 365, 14, 14),
    VisitSpec("M18", "Month 18 end of study", "randomization", 540, 14, 14),
)
DERMATITIS_SCHEDULE = (
    *_screening_and_baseline(),
    VisitSpec("W1", "Week 1 call", "randomization", 7, 2, 2, "phone"),
    VisitSpec("W2", "Week 2", "randomization", 14, 3, 3),
    VisitSpec("W4", "Week 4 photo assessment", "randomization", 28, 3, 3, "remote"),
    VisitSpec("W8", "Week 8 end of treatment", "randomization", 56, 3, 3),
    VisitSpec("W12", "Week 12 follow-up call", "randomization", 84, 5, 5, "phone"),
)
DIABETES_SCHEDULE = (
    *_screening_and_baseline(),
    VisitSpec("W4", "Week 4", "randomization", 28, 3, 3),
    VisitSpec("W12", "Week 12", "randomization", 84, 7, 7),
    VisitSpec("W20", "Week 20 telemedicine", "randomization", 140, 7, 7, "remote"),
    VisitSpec("W28", "Week 28 call", "randomization", 196, 7, 7, "phone"),
    VisitSpec("W40", "Week 40 end of treatment", "randomization", 280, 7, 7),
)
NSCLC_SCHEDULE = (
    *_screening_and_baseline("Cycle 1 Day 1 (randomisation)"),
    VisitSpec("C2D1", "Cycle 2 Day 1", "randomization", 21, 3, 3),
    VisitSpec("C3D1", "Cycle 3 Day 1", "randomization", 42, 3, 3),
    VisitSpec("C5D1", "Cycle 5 Day 1 and tumour assessment", "randomization", 84, 3, 3),
    VisitSpec("EOT", "End of treatment", "randomization", 182, 7, 7),
    VisitSpec("SFU", "Safety follow-up call", "randomization", 212, 7, 7, "phone"),
    VisitSpec("LTFU1", "Survival follow-up call 1", "randomization", 364, 14, 14, "phone"),
    VisitSpec("LTFU2", "Survival follow-up call 2", "randomization", 540, 14, 14, "phone"),
)
PK_SCHEDULE = (
    *_screening_and_baseline("Day 1 dosing"),
    VisitSpec("D2", "Day 2 PK", "randomization", 1),
    VisitSpec("D8", "Day 8 PK", "randomization", 7, 1, 1),
    VisitSpec("D15", "Day 15 PK", "randomization", 14, 1, 1),
    VisitSpec("D29", "Day 29 PK", "randomization", 28, 2, 2),
    VisitSpec("D57", "Day 57 PK and immunogenicity", "randomization", 56, 3, 3),
    VisitSpec("D85", "Day 85 PK", "randomization", 84, 3, 3),
    VisitSpec("D113", "Day 113 end of study", "randomization", 112, 5, 5),
)
LUPUS_SCHEDULE = (
    *_screening_and_baseline(),
    VisitSpec("W2", "Week 2 home nurse visit", "randomization", 14, 3, 3, "home"),
    VisitSpec("W4", "Week 4", "randomization", 28, 3, 3),
    VisitSpec("W12", "Week 12", "randomization", 84, 7, 7),
    VisitSpec("W24", "Week 24", "randomization", 168, 7, 7),
    VisitSpec("W36", "Week 36 telemedicine", "randomization", 252, 7, 7, "remote"),
    VisitSpec("W48", "Week 48 end of treatment", "randomization", 336, 7, 7),
)
MIGRAINE_SCHEDULE = (
    *_screening_and_baseline(),
    VisitSpec("W4", "Week 4 dosing", "randomization", 28, 3, 3),
    VisitSpec("W8", "Week 8 dosing", "randomization", 56, 3, 3),
    VisitSpec("W12", "Week 12 end of treatment", "randomization", 84, 3, 3),
    VisitSpec("W24", "Week 24 follow-up call", "randomization", 168, 7, 7, "phone"),
)

STUDIES: tuple[StudySpec, ...] = (
    StudySpec(
        protocol_number="NVT-4412-101", acronym="KESTREL-1",
        brief_title="First-in-Human Study of NVT-4412 in Adults With Advanced KRAS G12D-Mutant Solid Tumours",
        official_title=("A Phase 1, Open-Label, Dose-Escalation and Dose-Expansion Study to Evaluate the Safety, "
                        "Tolerability, Pharmacokinetics and Preliminary Antitumour Activity of NVT-4412 in Adults "
                        "With Advanced Solid Tumours Harbouring a KRAS G12D Mutation"),
        summary=("NVT-4412 is an oral, selective inhibitor of KRAS G12D. Part A escalates the dose to find the "
                 "recommended Phase 2 dose; Part B treats expansion cohorts in pancreatic, colorectal and lung "
                 "cancer at that dose."),
        phases=("PHASE1",), therapeutic_area="Oncology",
        conditions=("Pancreatic Ductal Adenocarcinoma", "Colorectal Cancer", "Non-Small Cell Lung Cancer"),
        keywords=("KRAS G12D", "dose escalation", "first-in-human"),
        status="planning", planned_enrollment=72, first_site_activated=150, enrollment_days=540,
        follow_up_days=180, allocation="NON_RANDOMIZED", intervention_model="SEQUENTIAL", masking="NONE",
        who_masked=(), partner=True, eu_ct_number="2024-519842-33-00",
        arms=(
            ArmSpec("Part A: Dose escalation", "EXPERIMENTAL",
                    "NVT-4412 orally once daily in 21-day cycles at escalating dose levels (BOIN design).", 0.4),
            ArmSpec("Part B: Dose expansion", "EXPERIMENTAL",
                    "NVT-4412 at the recommended Phase 2 dose in three tumour-specific cohorts.", 0.6),
        ),
        interventions=(
            InterventionSpec("DRUG", "NVT-4412", "Oral tablet, 50 mg and 200 mg strengths, once daily.",
                             ("Part A: Dose escalation", "Part B: Dose expansion")),
        ),
        inclusion=(
            "Histologically confirmed locally advanced or metastatic solid tumour with a KRAS G12D mutation",
            "Disease progression on, or intolerance of, at least one prior line of standard therapy",
            "ECOG performance status 0 or 1",
            "At least one measurable lesion per RECIST v1.1 (Part B)",
            "Adequate bone marrow, liver and kidney function",
        ),
        exclusion=(
            "Prior treatment with a KRAS G12D-directed therapy",
            "Untreated or symptomatic brain metastases",
            "QTcF above 470 ms or clinically significant cardiac disease",
            "Major surgery within 4 weeks before the first dose",
        ),
        protocols=(
            ProtocolSpec("1.0", -45, "Original protocol."),
            ProtocolSpec("2.0 (Amendment 1)", -5, "Adds triplicate ECGs in Part A after FDA pre-IND feedback; "
                         "clarifies dose-limiting toxicity window.", amendment_number=1, approve=False),
        ),
        sites=(
            SiteSpec("us_mda", "selected"), SiteSpec("us_mskcc", "selected"), SiteSpec("es_vh", "selected"),
            SiteSpec("fr_gr", "candidate"), SiteSpec("it_int", "candidate"), SiteSpec("jp_ncch", "candidate"),
        ),
    ),
    StudySpec(
        protocol_number="NVT-2208-201", acronym="CALMWAVE",
        brief_title="A Dose-Ranging Study of NVT-2208 for the Preventive Treatment of Episodic Migraine",
        official_title=("A Phase 2, Randomised, Double-Blind, Placebo-Controlled, Dose-Ranging Study of "
                        "Subcutaneous NVT-2208 for the Preventive Treatment of Episodic Migraine in Adults"),
        summary=("NVT-2208 is a monoclonal antibody against the PACAP-38 ligand. Participants receive NVT-2208 "
                 "or placebo monthly for 12 weeks; the primary endpoint is the change in monthly migraine days."),
        phases=("PHASE2",), therapeutic_area="Neurology", conditions=("Episodic Migraine",),
        keywords=("PACAP", "migraine prevention", "monoclonal antibody"),
        status="start_up", planned_enrollment=240, first_site_activated=-20, enrollment_days=300,
        follow_up_days=168, minimum_age="18 Years", maximum_age="65 Years", eu_ct_number="2024-512207-41-00",
        arms=(
            ArmSpec("NVT-2208 70 mg", "EXPERIMENTAL", "NVT-2208 70 mg subcutaneously every 4 weeks.", 1 / 3),
            ArmSpec("NVT-2208 210 mg", "EXPERIMENTAL", "NVT-2208 210 mg subcutaneously every 4 weeks.", 1 / 3),
            ArmSpec("Placebo", "PLACEBO_COMPARATOR", "Matching placebo subcutaneously every 4 weeks.", 1 / 3),
        ),
        interventions=(
            InterventionSpec("BIOLOGICAL", "NVT-2208", "Humanised IgG2 anti-PACAP-38 antibody, prefilled syringe.",
                             ("NVT-2208 70 mg", "NVT-2208 210 mg")),
            InterventionSpec("DRUG", "Placebo", "Matching placebo, prefilled syringe.", ("Placebo",)),
        ),
        inclusion=(
            "History of migraine with or without aura for at least 12 months (ICHD-3)",
            "4 to 14 migraine days per month during the 28-day baseline period",
            "At least 80% diary compliance during baseline",
        ),
        exclusion=(
            "Chronic migraine or medication-overuse headache",
            "Prior exposure to a CGRP- or PACAP-pathway monoclonal antibody",
            "Myocardial infarction, stroke or transient ischaemic attack within 12 months",
            "Pregnant or breastfeeding",
        ),
        protocols=(
            ProtocolSpec("1.0", -160, "Original protocol."),
            ProtocolSpec("1.1 (Amendment 1)", -60, "Germany-specific amendment requested by the BfArM: adds "
                         "pregnancy testing at every dosing visit.", amendment_number=1),
            ProtocolSpec("2.0 (Amendment 2)", -3, "Extends the baseline period from 28 to 35 days; adds "
                         "exploratory digital diary endpoints.", amendment_number=2, approve=False),
        ),
        schedule=MIGRAINE_SCHEDULE,
        icfs=(
            IcfSpec("1.0", -150, "1.0", irb_days=-120),
            IcfSpec("1.1-DE", -55, "1.1 (Amendment 1)", irb_days=-40, country=DE),
            IcfSpec("2.0", -3, "2.0 (Amendment 2)"),
        ),
        sites=(
            SiteSpec("us_mayo", "activated"), SiteSpec("pl_suk", "activated"), SiteSpec("us_ccf", "start_up"),
            SiteSpec("us_nm", "start_up"), SiteSpec("de_lmu", "start_up"), SiteSpec("ca_twh", "selected"),
            SiteSpec("de_charite", "selected"),
            SiteSpec("es_clinic", "not_selected", reason="Competing migraine prevention study at the site; "
                                                         "investigator declined."),
        ),
    ),
    StudySpec(
        protocol_number="NVT-1150-301", acronym="AIRWAY-3",
        brief_title="NVT-1150 in Adults and Adolescents With Severe Eosinophilic Asthma",
        official_title=("A Phase 3, Randomised, Double-Blind, Placebo-Controlled, 52-Week Study to Evaluate the "
                        "Efficacy and Safety of NVT-1150 in Adults and Adolescents With Severe Eosinophilic Asthma"),
        summary=("NVT-1150 is a monoclonal antibody against thymic stromal lymphopoietin (TSLP). The study "
                 "compares two dosing intervals with placebo on top of standard of care; the primary endpoint is "
                 "the annualised rate of severe exacerbations over 52 weeks."),
        phases=("PHASE3",), therapeutic_area="Respiratory", conditions=("Severe Asthma", "Eosinophilic Asthma"),
        keywords=("TSLP", "exacerbations", "biologic"),
        status="enrolling", planned_enrollment=480, first_site_activated=-330, enrollment_days=600,
        follow_up_days=364, minimum_age="12 Years", maximum_age="75 Years", eu_ct_number="2023-503318-26-00",
        arms=(
            ArmSpec("NVT-1150 every 4 weeks", "EXPERIMENTAL", "NVT-1150 210 mg SC every 4 weeks for 52 weeks.",
                    0.4),
            ArmSpec("NVT-1150 every 8 weeks", "EXPERIMENTAL", "NVT-1150 420 mg SC every 8 weeks, placebo at the "
                    "interim visits.", 0.4),
            ArmSpec("Placebo", "PLACEBO_COMPARATOR", "Placebo SC every 4 weeks for 52 weeks.", 0.2),
        ),
        interventions=(
            InterventionSpec("BIOLOGICAL", "NVT-1150", "Human IgG1 anti-TSLP monoclonal antibody, autoinjector.",
                             ("NVT-1150 every 4 weeks", "NVT-1150 every 8 weeks"), other_names=("tezolumab-nv",)),
            InterventionSpec("DRUG", "Placebo", "Matching placebo autoinjector.",
                             ("NVT-1150 every 8 weeks", "Placebo")),
        ),
        inclusion=(
            "Physician-diagnosed asthma for at least 12 months, on medium- or high-dose inhaled corticosteroid "
            "plus at least one controller",
            "Blood eosinophils of 150 cells/µL or more at screening",
            "At least 2 severe exacerbations in the previous 12 months",
            "Pre-bronchodilator FEV1 below 80% predicted (below 90% for adolescents)",
        ),
        exclusion=(
            "Current smoker or former smoker with at least 10 pack-years",
            "Other clinically important lung disease (e.g. COPD, bronchiectasis, cystic fibrosis)",
            "Biologic therapy for asthma within 4 months before randomisation",
            "Helminth infection not treated before randomisation",
        ),
        protocols=(
            ProtocolSpec("1.0", -480, "Original protocol."),
            ProtocolSpec("2.0 (Amendment 1)", -250, "Lowers the screening eosinophil threshold from 300 to "
                         "150 cells/µL; adds adolescents from 12 years.", amendment_number=1),
            ProtocolSpec("3.0 (Amendment 2)", -10, "Adds an optional home-dosing module and a COVID-19 "
                         "vaccination guidance appendix.", amendment_number=2, approve=False,
                         adds_visits=(VisitSpec("W20H", "Week 20 home dosing (optional module)", "randomization",
                                                140, 5, 5, "home", required=False),)),
        ),
        schedule=ASTHMA_SCHEDULE,
        icfs=(
            IcfSpec("1.0", -400, "1.0", irb_days=-380),
            IcfSpec("2.0", -245, "2.0 (Amendment 1)", irb_days=-225),
            # Approved days ago: new safety information, so every subject on study must re-consent.
            IcfSpec("2.1", -30, "2.0 (Amendment 1)", irb_days=-12),
            IcfSpec("3.0", -8, "3.0 (Amendment 2)"),
        ),
        # Behind plan: slower than planned everywhere, one site idle since activation, one screening out
        # most of its candidates, one far below the others.
        enrollment=EnrollmentSpec(
            pace=0.75, screen_fail=0.35, withdraw=0.07, lost=0.02, econsent=0.3,
            strata=("Adult, eosinophils < 300/µL", "Adult, eosinophils ≥ 300/µL", "Adolescent (12–17 years)"),
            screen_fail_reasons=(
                ("eos_below_threshold", "Blood eosinophils below 150 cells/µL", 4.0),
                ("fev1_above_limit", "Pre-bronchodilator FEV1 at or above 80% predicted", 2.0),
                ("exacerbations_not_met", "Fewer than 2 severe exacerbations in 12 months", 2.0),
                ("smoking_history", "Current smoker or 10 pack-years or more", 1.0),
            ),
            consent_sites=("us_mgh", "de_charite"),
            rebaseline=RebaselineSpec(
                label="Original plan", lsi_days=150, current_label="After Amendment 1",
                reason=("Amendment 1 lowered the eosinophil threshold and added adolescents; German and Polish "
                        "sites opened later than planned. Last subject in moved by five months."),
            ),
        ),
        sites=(
            SiteSpec("us_mgh", "enrolling"), SiteSpec("us_jhh", "enrolling"), SiteSpec("us_duke", "enrolling"),
            SiteSpec("us_ucsf", "activated", active_days=150, rate=0.0), SiteSpec("ca_vgh", "enrolling"),
            SiteSpec("de_charite", "enrolling"), SiteSpec("de_ukhd", "enrolling"),
            SiteSpec("de_uke", "closed_to_enrollment", reason="Site enrollment target reached.", rate=3.0),
            SiteSpec("fr_psl", "enrolling"), SiteSpec("fr_hcl", "start_up"), SiteSpec("uk_rbh", "enrolling"),
            SiteSpec("uk_mri", "enrolling", rate=0.2), SiteSpec("pl_uck", "enrolling", rate=1.3, screen_fail=0.72),
            SiteSpec("es_lapaz", "enrolling"),
            SiteSpec("it_gemelli", "not_selected", reason="Pharmacy could not store the investigational product at "
                                                         "2–8 °C with continuous temperature logging."),
        ),
    ),
    StudySpec(
        protocol_number="NVT-3320-302", acronym="VITALIS-HF",
        brief_title="NVT-3320 Versus Placebo in Heart Failure With Preserved Ejection Fraction",
        official_title=("A Phase 3, Randomised, Double-Blind, Placebo-Controlled, Event-Driven Study of NVT-3320 "
                        "on Cardiovascular Death and Heart Failure Events in Patients With Heart Failure and "
                        "Left Ventricular Ejection Fraction of 50% or More"),
        summary=("NVT-3320 is an oral, once-daily soluble guanylate cyclase activator. The study continues until "
                 "the target number of primary endpoint events (cardiovascular death or worsening heart failure) "
                 "has occurred."),
        phases=("PHASE3",), therapeutic_area="Cardiovascular",
        conditions=("Heart Failure With Preserved Ejection Fraction",), keywords=("HFpEF", "sGC", "event-driven"),
        status="enrolling", planned_enrollment=900, first_site_activated=-240, enrollment_days=720,
        follow_up_days=540, minimum_age="40 Years", eu_ct_number="2023-507741-18-00",
        arms=(
            ArmSpec("NVT-3320 10 mg", "EXPERIMENTAL", "NVT-3320 10 mg orally once daily, titrated from 2.5 mg.",
                    0.5),
            ArmSpec("Placebo", "PLACEBO_COMPARATOR", "Matching placebo orally once daily.", 0.5),
        ),
        interventions=(
            InterventionSpec("DRUG", "NVT-3320", "Film-coated tablets 2.5 mg, 5 mg and 10 mg.", ("NVT-3320 10 mg",)),
            InterventionSpec("DRUG", "Placebo", "Matching placebo tablets.", ("Placebo",)),
        ),
        inclusion=(
            "Symptomatic heart failure (NYHA class II–IV) for at least 3 months",
            "LVEF of 50% or more within 12 months before screening",
            "NT-proBNP of 300 pg/mL or more (600 pg/mL or more with atrial fibrillation)",
            "Heart failure hospitalisation or urgent visit within 9 months, or structural heart disease",
        ),
        exclusion=(
            "Systolic blood pressure below 100 mmHg or symptomatic hypotension",
            "eGFR below 20 mL/min/1.73 m²",
            "Current use of long-acting nitrates or PDE5 inhibitors",
            "Acute coronary syndrome or cardiac surgery within 90 days",
        ),
        protocols=(
            ProtocolSpec("1.0", -400, "Original protocol."),
            ProtocolSpec("2.0 (Amendment 1)", -30, "Increases the sample size from 800 to 900 after a blinded "
                         "event-rate review; adds a Japanese pharmacokinetic sub-study.", amendment_number=1,
                         approve=False),
        ),
        schedule=HEART_FAILURE_SCHEDULE,
        icfs=(
            IcfSpec("1.0", -420, "1.0", irb_days=-300),
            IcfSpec("1.0-JP", -230, "1.0", irb_days=-200, country=JP),
            IcfSpec("2.0", -25, "2.0 (Amendment 1)"),
        ),
        # On plan.
        enrollment=EnrollmentSpec(
            pace=1.16, screen_fail=0.3, withdraw=0.05, lost=0.01, econsent=0.2,
            strata=("LVEF 50–59%", "LVEF ≥ 60%"),
            screen_fail_reasons=(
                ("ntprobnp_below", "NT-proBNP below the threshold", 4.0),
                ("sbp_low", "Systolic blood pressure below 100 mmHg", 1.5),
                ("egfr_low", "eGFR below 20 mL/min/1.73 m²", 1.0),
            ),
            consent_sites=("us_ccf",),
        ),
        sites=(
            SiteSpec("us_ccf", "enrolling"), SiteSpec("us_duke", "enrolling"), SiteSpec("us_nm", "enrolling"),
            SiteSpec("ca_mhi", "enrolling"), SiteSpec("ca_tgh", "activated"), SiteSpec("jp_utokyo", "enrolling"),
            SiteSpec("jp_osaka", "start_up"), SiteSpec("de_ukhd", "enrolling"), SiteSpec("it_hsr", "enrolling"),
            SiteSpec("it_careggi", "start_up"), SiteSpec("pl_wum", "enrolling"), SiteSpec("es_12o", "enrolling"),
        ),
    ),
    StudySpec(
        protocol_number="NVT-5017-202", acronym="CLEARSKIN-2",
        brief_title="Topical NVT-5017 in Adolescents and Adults With Moderate Atopic Dermatitis",
        official_title=("A Phase 2b, Randomised, Double-Blind, Vehicle-Controlled, Dose-Finding Study of NVT-5017 "
                        "Cream in Adolescents and Adults With Moderate Atopic Dermatitis"),
        summary=("NVT-5017 is a topical JAK1-selective inhibitor. Participants apply cream twice daily for 8 "
                 "weeks; the primary endpoint is the percentage change in EASI score at week 8."),
        phases=("PHASE2",), therapeutic_area="Dermatology", conditions=("Atopic Dermatitis",),
        keywords=("JAK1", "topical", "eczema"),
        status="enrolling", planned_enrollment=180, first_site_activated=-150, enrollment_days=300,
        follow_up_days=84, minimum_age="12 Years", maximum_age="65 Years",
        masking="DOUBLE", who_masked=("PARTICIPANT", "INVESTIGATOR"),
        arms=(
            ArmSpec("NVT-5017 0.5% cream", "EXPERIMENTAL", "NVT-5017 0.5% cream twice daily for 8 weeks.", 1 / 3),
            ArmSpec("NVT-5017 1.5% cream", "EXPERIMENTAL", "NVT-5017 1.5% cream twice daily for 8 weeks.", 1 / 3),
            ArmSpec("Vehicle cream", "PLACEBO_COMPARATOR", "Vehicle cream twice daily for 8 weeks.", 1 / 3),
        ),
        interventions=(
            InterventionSpec("DRUG", "NVT-5017 cream", "Topical cream, 0.5% and 1.5%.",
                             ("NVT-5017 0.5% cream", "NVT-5017 1.5% cream")),
            InterventionSpec("DRUG", "Vehicle cream", "Cream base without active ingredient.", ("Vehicle cream",)),
        ),
        inclusion=(
            "Atopic dermatitis for at least 2 years (Hanifin and Rajka criteria)",
            "Validated Investigator Global Assessment score of 3 (moderate)",
            "Affected body surface area of 3% to 20%, excluding scalp",
        ),
        exclusion=(
            "Systemic immunosuppressants or phototherapy within 4 weeks",
            "Active skin infection in the treatment area",
            "History of venous thromboembolism",
        ),
        protocols=(
            ProtocolSpec("1.0", -260, "Original protocol."),
            ProtocolSpec("2.0 (Amendment 1)", -90, "Adds an adolescent pharmacokinetic sub-study and clarifies "
                         "permitted emollients.", amendment_number=1,
                         adds_visits=(VisitSpec("PK2", "Week 2 PK sampling (adolescents)", "randomization", 14, 2, 2,
                                                "home", required=False),)),
        ),
        schedule=DERMATITIS_SCHEDULE,
        icfs=(
            IcfSpec("1.0", -280, "1.0", irb_days=-200),
            IcfSpec("2.0", -85, "2.0 (Amendment 1)", irb_days=-70),
        ),
        # Ahead of plan: a short topical study that sites fill quickly, one Polish site above all.
        enrollment=EnrollmentSpec(
            pace=2.0, screen_fail=0.22, withdraw=0.04, lost=0.01, econsent=0.6,
            strata=("Adolescent (12–17 years)", "Adult, body surface area < 10%", "Adult, body surface area ≥ 10%"),
            screen_fail_reasons=(
                ("iga_not_3", "IGA score not 3 (moderate)", 3.0),
                ("bsa_out_of_range", "Affected body surface area outside 3–20%", 2.0),
                ("washout_not_met", "Systemic treatment washout not complete", 1.5),
            ),
            consent_sites=("de_lmu",),
        ),
        sites=(
            SiteSpec("us_ucsf", "enrolling"), SiteSpec("us_nm", "enrolling"), SiteSpec("us_jhh", "activated"),
            SiteSpec("de_lmu", "enrolling"), SiteSpec("de_uke", "enrolling"), SiteSpec("fr_chut", "enrolling"),
            SiteSpec("pl_uck", "enrolling", rate=2.2), SiteSpec("ca_twh", "enrolling"),
        ),
    ),
    StudySpec(
        protocol_number="NVT-2730-303", acronym="TIDEWAY-3",
        brief_title="Once-Weekly NVT-2730 Versus Semaglutide in Type 2 Diabetes Inadequately Controlled on Metformin",
        official_title=("A Phase 3, Randomised, Double-Blind, Active-Controlled, 40-Week Study of Once-Weekly "
                        "NVT-2730 Compared With Semaglutide in Adults With Type 2 Diabetes on Metformin"),
        summary=("NVT-2730 is a once-weekly dual GIP/GLP-1 receptor agonist. The primary endpoint is the change "
                 "in HbA1c from baseline to week 40."),
        phases=("PHASE3",), therapeutic_area="Endocrinology & Metabolism", conditions=("Type 2 Diabetes Mellitus",),
        keywords=("GLP-1", "GIP", "HbA1c", "once weekly"),
        status="closed_to_enrollment", planned_enrollment=480, first_site_activated=-620, enrollment_days=560,
        follow_up_days=280, masking="DOUBLE", who_masked=("PARTICIPANT", "INVESTIGATOR"),
        eu_ct_number="2022-500914-39-00", slip_days=21,
        arms=(
            ArmSpec("NVT-2730 5 mg", "EXPERIMENTAL", "NVT-2730 5 mg SC once weekly.", 1 / 3),
            ArmSpec("NVT-2730 10 mg", "EXPERIMENTAL", "NVT-2730 10 mg SC once weekly, escalated from 5 mg.", 1 / 3),
            ArmSpec("Semaglutide 1 mg", "ACTIVE_COMPARATOR", "Semaglutide 1 mg SC once weekly.", 1 / 3),
        ),
        interventions=(
            InterventionSpec("DRUG", "NVT-2730", "Single-dose pen, 2.5 mg to 10 mg.",
                             ("NVT-2730 5 mg", "NVT-2730 10 mg")),
            InterventionSpec("DRUG", "Semaglutide", "Single-dose pen, 1 mg.", ("Semaglutide 1 mg",),
                             other_names=("Ozempic",)),
        ),
        inclusion=(
            "Type 2 diabetes on a stable metformin dose of at least 1500 mg/day for 3 months",
            "HbA1c of 7.0% to 10.5% at screening",
            "BMI of 25 kg/m² or more",
        ),
        exclusion=(
            "Type 1 diabetes or history of diabetic ketoacidosis",
            "History of pancreatitis or medullary thyroid carcinoma (personal or family)",
            "Proliferative diabetic retinopathy requiring acute treatment",
            "eGFR below 30 mL/min/1.73 m²",
        ),
        protocols=(
            ProtocolSpec("1.0", -720, "Original protocol."),
            ProtocolSpec("2.0 (Amendment 1)", -400, "Adds a fundoscopy sub-study and a continuous glucose "
                         "monitoring substudy in selected countries.", amendment_number=1),
            ProtocolSpec("3.0 (Amendment 2)", -20, "Extends safety follow-up by 4 weeks after the last dose.",
                         amendment_number=2, approve=False,
                         adds_visits=(VisitSpec("W44", "Week 44 safety follow-up call", "randomization", 308, 7, 7,
                                                "phone"),)),
        ),
        schedule=DIABETES_SCHEDULE,
        icfs=(
            IcfSpec("1.0", -740, "1.0", irb_days=-690),
            IcfSpec("2.0", -410, "2.0 (Amendment 1)", irb_days=-385),
            IcfSpec("3.0", -18, "3.0 (Amendment 2)"),
        ),
        enrollment=EnrollmentSpec(
            pace=1.0, screen_fail=0.28, withdraw=0.08, lost=0.02,
            strata=("HbA1c ≤ 8.5%", "HbA1c > 8.5%"),
            screen_fail_reasons=(
                ("hba1c_out_of_range", "HbA1c outside 7.0–10.5%", 4.0),
                ("metformin_dose", "Metformin below 1500 mg/day or dose not stable", 1.5),
                ("retinopathy", "Proliferative retinopathy on fundoscopy", 1.0),
            ),
            consent_sites=("pl_suk",),
        ),
        sites=(
            SiteSpec("us_mgh", "closed_to_enrollment"), SiteSpec("us_mayo", "closed_to_enrollment"),
            SiteSpec("ca_tgh", "closed_to_enrollment"), SiteSpec("jp_kyoto", "closed_to_enrollment"),
            SiteSpec("pl_suk", "closed_to_enrollment"), SiteSpec("es_clinic", "closed_to_enrollment"),
            SiteSpec("it_gemelli", "closed_to_enrollment"), SiteSpec("uk_add", "closed_to_enrollment"),
            SiteSpec("de_charite", "closed_to_enrollment"),
            SiteSpec("fr_hcl", "closed_out", reason="Closed early: no participant screened in 9 months.",
                     enrolled=0),
        ),
    ),
    StudySpec(
        protocol_number="NVT-4410-203", acronym="LUMEN-2",
        brief_title="NVT-4410 Plus Pembrolizumab Versus Docetaxel in Previously Treated Advanced NSCLC",
        official_title=("A Phase 2, Randomised, Open-Label Study of NVT-4410 in Combination With Pembrolizumab "
                        "Versus Docetaxel in Patients With Advanced Non-Small Cell Lung Cancer After Progression on "
                        "Platinum-Based Chemotherapy and Anti-PD-(L)1 Therapy"),
        summary=("NVT-4410 is an antibody-drug conjugate targeting TROP2. Participants are followed for overall "
                 "survival after treatment ends; the primary endpoint is progression-free survival."),
        phases=("PHASE2",), therapeutic_area="Oncology", conditions=("Non-Small Cell Lung Cancer",),
        keywords=("TROP2", "antibody-drug conjugate", "NSCLC"),
        status="follow_up", planned_enrollment=150, first_site_activated=-900, enrollment_days=480,
        follow_up_days=540, masking="NONE", who_masked=(), partner=True, eu_ct_number="2021-004417-12",
        arms=(
            ArmSpec("NVT-4410 + pembrolizumab", "EXPERIMENTAL", "NVT-4410 6 mg/kg IV plus pembrolizumab 200 mg "
                    "IV every 3 weeks.", 2 / 3),
            ArmSpec("Docetaxel", "ACTIVE_COMPARATOR", "Docetaxel 75 mg/m² IV every 3 weeks.", 1 / 3),
        ),
        interventions=(
            InterventionSpec("BIOLOGICAL", "NVT-4410", "Anti-TROP2 antibody-drug conjugate for infusion.",
                             ("NVT-4410 + pembrolizumab",)),
            InterventionSpec("BIOLOGICAL", "Pembrolizumab", "Anti-PD-1 antibody 200 mg IV.",
                             ("NVT-4410 + pembrolizumab",), other_names=("Keytruda",)),
            InterventionSpec("DRUG", "Docetaxel", "75 mg/m² IV infusion.", ("Docetaxel",)),
        ),
        inclusion=(
            "Stage IIIB/IIIC or IV NSCLC without actionable genomic alterations",
            "Progression after platinum-based chemotherapy and anti-PD-(L)1 therapy",
            "ECOG performance status 0 or 1",
            "Measurable disease per RECIST v1.1",
        ),
        exclusion=(
            "Prior TROP2-directed therapy or docetaxel",
            "History of interstitial lung disease or pneumonitis requiring steroids",
            "Active autoimmune disease requiring systemic treatment within 2 years",
        ),
        protocols=(
            ProtocolSpec("1.0", -1020, "Original protocol."),
            ProtocolSpec("2.0 (Amendment 1)", -700, "Adds mandatory dental and ophthalmology assessments "
                         "following stomatitis and keratitis reports.", amendment_number=1),
            ProtocolSpec("3.0 (Amendment 2)", -40, "Reduces survival follow-up visits to every 12 weeks by "
                         "telephone.", amendment_number=2, approve=False),
        ),
        schedule=NSCLC_SCHEDULE,
        icfs=(
            IcfSpec("1.0", -1030, "1.0", irb_days=-990),
            IcfSpec("2.0", -705, "2.0 (Amendment 1)", irb_days=-680),
            IcfSpec("3.0", -35, "3.0 (Amendment 2)"),
        ),
        enrollment=EnrollmentSpec(
            pace=1.0, screen_fail=0.4, withdraw=0.3, lost=0.02, death=0.45,
            strata=("PD-L1 TPS < 50%", "PD-L1 TPS ≥ 50%"),
            screen_fail_reasons=(
                ("actionable_mutation", "Actionable genomic alteration", 2.0),
                ("ecog_2", "ECOG performance status 2 or more", 2.0),
                ("brain_mets", "Untreated brain metastases", 1.5),
                ("ild_history", "History of interstitial lung disease", 1.0),
            ),
            consent_sites=("us_mda",),
        ),
        sites=(
            SiteSpec("us_mda", "closed_to_enrollment"), SiteSpec("us_mskcc", "closed_to_enrollment"),
            SiteSpec("ca_pm", "closed_to_enrollment"), SiteSpec("fr_gr", "closed_to_enrollment"),
            SiteSpec("es_vh", "closed_to_enrollment"), SiteSpec("it_int", "closed_to_enrollment"),
            SiteSpec("jp_ncch", "closed_to_enrollment"), SiteSpec("de_ukhd", "closed_to_enrollment"),
            SiteSpec("uk_guys", "closed_out", reason="All participants completed or discontinued; close-out "
                                                     "visit done early.", enrolled=4),
        ),
    ),
    StudySpec(
        protocol_number="NVT-1150-102", acronym="",
        brief_title="Pharmacokinetics of NVT-1150 in Healthy Japanese and White Adults",
        official_title=("A Phase 1, Randomised, Double-Blind, Placebo-Controlled Study of the Pharmacokinetics, "
                        "Safety and Immunogenicity of Single Subcutaneous Doses of NVT-1150 in Healthy Japanese "
                        "and White Adults"),
        summary=("Bridging study supporting Japanese development of NVT-1150: single doses of 70, 210 and 420 mg "
                 "or placebo, with pharmacokinetic sampling for 16 weeks."),
        phases=("PHASE1",), therapeutic_area="Clinical Pharmacology", conditions=("Healthy Volunteers",),
        keywords=("pharmacokinetics", "ethnic bridging"),
        status="completed", planned_enrollment=64, first_site_activated=-1100, enrollment_days=120,
        follow_up_days=112, minimum_age="20 Years", maximum_age="55 Years", healthy_volunteers=True,
        primary_purpose="BASIC_SCIENCE", slip_days=7,
        arms=(
            ArmSpec("NVT-1150 single dose", "EXPERIMENTAL", "One SC dose of 70, 210 or 420 mg (sequential "
                    "cohorts).", 0.75),
            ArmSpec("Placebo", "PLACEBO_COMPARATOR", "One SC dose of matching placebo.", 0.25),
        ),
        interventions=(
            InterventionSpec("BIOLOGICAL", "NVT-1150", "Human IgG1 anti-TSLP monoclonal antibody, vial.",
                             ("NVT-1150 single dose",)),
            InterventionSpec("DRUG", "Placebo", "Matching placebo, vial.", ("Placebo",)),
        ),
        inclusion=(
            "Healthy adults aged 20 to 55 years; Japanese participants born in Japan to Japanese parents and "
            "grandparents",
            "Body mass index of 18.0 to 30.0 kg/m²",
        ),
        exclusion=(
            "Any clinically significant illness within 4 weeks",
            "Prior exposure to a monoclonal antibody",
            "Positive test for hepatitis B, hepatitis C or HIV",
        ),
        protocols=(
            ProtocolSpec("1.0", -1180, "Original protocol."),
            ProtocolSpec("2.0 (Amendment 1)", -1050, "Adds the 420 mg cohort after review of the 210 mg "
                         "safety data.", amendment_number=1),
        ),
        schedule=PK_SCHEDULE,
        icfs=(
            IcfSpec("1.0", -1200, "1.0", irb_days=-1150),
            IcfSpec("2.0", -1048, "2.0 (Amendment 1)", irb_days=-1040),
        ),
        enrollment=EnrollmentSpec(
            pace=1.0, screen_fail=0.45, withdraw=0.03, lost=0.0,
            strata=("Japanese", "White"),
            screen_fail_reasons=(
                ("bmi_out_of_range", "BMI outside 18.0–30.0 kg/m²", 2.0),
                ("ancestry_not_met", "Ancestry criteria not met", 1.0),
                ("positive_serology", "Positive hepatitis B, hepatitis C or HIV test", 0.5),
            ),
            consent_sites=("jp_sumida",),
        ),
        sites=(
            SiteSpec("us_spaulding", "closed_out"), SiteSpec("de_cro", "closed_out"), SiteSpec("uk_hmr", "closed_out"),
            SiteSpec("jp_sumida", "closed_out"), SiteSpec("jp_osaka", "closed_out"),
        ),
    ),
    StudySpec(
        protocol_number="NVT-6604-204", acronym="LUPRA-2",
        brief_title="NVT-6604 in Adults With Active Systemic Lupus Erythematosus",
        official_title=("A Phase 2, Randomised, Double-Blind, Placebo-Controlled Study of the Efficacy and Safety "
                        "of NVT-6604 in Adults With Moderately to Severely Active Systemic Lupus Erythematosus"),
        summary=("NVT-6604 is an oral BTK inhibitor. The primary endpoint is the SRI-4 response at week 48. "
                 "Enrollment is paused while the data safety monitoring board reviews hepatic safety data."),
        phases=("PHASE2",), therapeutic_area="Immunology & Rheumatology",
        conditions=("Systemic Lupus Erythematosus",), keywords=("BTK", "SLE", "SRI-4"),
        status="on_hold", planned_enrollment=220, first_site_activated=-210, enrollment_days=420,
        follow_up_days=336, maximum_age="70 Years", sex="ALL", eu_ct_number="2023-509122-07-00",
        hold_reason="Enrollment paused at the DSMB's request pending review of hepatic safety data.",
        arms=(
            ArmSpec("NVT-6604 100 mg", "EXPERIMENTAL", "NVT-6604 100 mg orally once daily for 48 weeks.", 0.5),
            ArmSpec("Placebo", "PLACEBO_COMPARATOR", "Matching placebo orally once daily for 48 weeks.", 0.5),
        ),
        interventions=(
            InterventionSpec("DRUG", "NVT-6604", "Film-coated tablet, 100 mg.", ("NVT-6604 100 mg",)),
            InterventionSpec("DRUG", "Placebo", "Matching placebo tablet.", ("Placebo",)),
        ),
        inclusion=(
            "SLE classified by 2019 EULAR/ACR criteria, diagnosed at least 24 weeks before screening",
            "Positive antinuclear antibody or anti-dsDNA at screening",
            "SLEDAI-2K score of 6 or more with clinical SLEDAI-2K of 4 or more",
        ),
        exclusion=(
            "Active severe lupus nephritis or neuropsychiatric SLE",
            "ALT or AST above 1.5 times the upper limit of normal",
            "Treatment with rituximab within 12 months or belimumab within 3 months",
        ),
        protocols=(
            ProtocolSpec("1.0", -300, "Original protocol."),
            ProtocolSpec("2.0 (Amendment 1)", -2, "Adds liver function tests at weeks 2, 4 and 6 and new "
                         "hepatic stopping rules, as recommended by the DSMB.", amendment_number=1, approve=False,
                         adds_visits=(VisitSpec("W6", "Week 6 liver function tests (home nurse)", "randomization",
                                                42, 3, 3, "home"),)),
        ),
        schedule=LUPUS_SCHEDULE,
        icfs=(
            IcfSpec("1.0", -300, "1.0", irb_days=-260),
            IcfSpec("2.0", -2, "2.0 (Amendment 1)"),
        ),
        # Enrollment paused by the hold.
        enrollment=EnrollmentSpec(
            pace=0.85, screen_fail=0.45, withdraw=0.06, lost=0.01, stop_days=40,
            strata=("SLEDAI-2K < 10", "SLEDAI-2K ≥ 10"),
            screen_fail_reasons=(
                ("sledai_below", "SLEDAI-2K below 6 or clinical SLEDAI-2K below 4", 3.0),
                ("serology_negative", "ANA and anti-dsDNA negative", 2.0),
                ("liver_tests", "ALT or AST above 1.5 × ULN", 1.0),
            ),
            consent_sites=("us_duke",),
        ),
        sites=(
            SiteSpec("us_jhh", "closed_to_enrollment", reason="Enrollment paused: study on hold (DSMB review)."),
            SiteSpec("us_duke", "closed_to_enrollment", reason="Enrollment paused: study on hold (DSMB review)."),
            SiteSpec("fr_psl", "closed_to_enrollment", reason="Enrollment paused: study on hold (DSMB review)."),
            SiteSpec("es_12o", "closed_to_enrollment", reason="Enrollment paused: study on hold (DSMB review)."),
            SiteSpec("it_careggi", "closed_to_enrollment",
                     reason="Enrollment paused: study on hold (DSMB review)."),
            SiteSpec("pl_wum", "activated"), SiteSpec("uk_add", "start_up"),
        ),
    ),
)
