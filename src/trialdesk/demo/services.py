"""Load the demo portfolio through the domain services, so every record is validated and audited.

Only in demo mode (TRIALDESK_DEMO=1): the demo creates logins whose passwords are printed.
The data is deterministic (fixed seed, dates relative to today); only the passwords are random.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from trialdesk.accounts.services import membership_grant, user_create
from trialdesk.core.errors import AccessDenied, Conflict, ValidationFailed
from trialdesk.ctgov.services import ctgov_import_file
from trialdesk.demo import portfolio as P
from trialdesk.demo.clinical import ClinicalLoader, ClinicalSummary
from trialdesk.demo.credentials import DemoLogin
from trialdesk.demo.selectors import demo_usernames_taken
from trialdesk.demo.startup_demo import startup_demo_load
from trialdesk.organizations.services import organization_create, person_create
from trialdesk.sites.services import site_create, site_transition
from trialdesk.studies.selectors import study_get
from trialdesk.studies.services import (
    arm_create,
    intervention_create,
    protocol_version_approve,
    protocol_version_create,
    study_create,
    study_transition,
    study_update,
)
from trialdesk.training.demo import demo_training
from trialdesk.visits.services import visit_definition_create, visit_definitions_copy

CTGOV_DIR = Path(__file__).resolve().parent / "data" / "ctgov"

DEMO_MODE_REQUIRED = ("The demo portfolio can only be loaded in demo mode (set TRIALDESK_DEMO=1): "
                      "it creates logins whose passwords are printed.")

# Lifecycle path from Planning to each target status, and the reason recorded for each step.
STUDY_PATHS = {
    "planning": [],
    "start_up": ["start_up"],
    "enrolling": ["start_up", "enrolling"],
    "closed_to_enrollment": ["start_up", "enrolling", "closed_to_enrollment"],
    "follow_up": ["start_up", "enrolling", "closed_to_enrollment", "follow_up"],
    "completed": ["start_up", "enrolling", "closed_to_enrollment", "follow_up", "completed"],
    "on_hold": ["start_up", "enrolling", "on_hold"],
}
STUDY_REASONS = {
    "start_up": "Final protocol approved and first sites selected; start-up begins.",
    "enrolling": "First site activated; enrollment open.",
    "closed_to_enrollment": "Enrollment target reached.",
    "follow_up": "All participants enrolled; treatment and follow-up ongoing.",
    "completed": "Last participant's last visit done, database locked and clinical study report issued.",
}
SITE_PATHS = {
    "candidate": [],
    "not_selected": ["not_selected"],
    "selected": ["selected"],
    "start_up": ["selected", "start_up"],
    "activated": ["selected", "start_up", "activated"],
    "enrolling": ["selected", "start_up", "activated", "enrolling"],
    "closed_to_enrollment": ["selected", "start_up", "activated", "enrolling", "closed_to_enrollment"],
    "closed_out": ["selected", "start_up", "activated", "enrolling", "closed_to_enrollment", "closed_out"],
}
SITE_REASONS = {
    "not_selected": "Feasibility not satisfactory.",
    "selected": "Feasibility questionnaire and qualification review passed.",
    "start_up": "Contract, budget and IRB/IEC submission under way.",
    "activated": "Site initiation visit done; sponsor green light issued.",
    "enrolling": "First participant screened.",
    "closed_to_enrollment": "Study enrollment closed.",
    "closed_out": "Close-out visit done; essential documents reconciled.",
}
# Site milestones in the model's order, planned relative to the site's activation date.
SITE_MILESTONE_OFFSETS = {"selected": -150, "qualification_visit": -120, "contract_executed": -60,
                          "irb_approval": -45, "initiation_visit": -14, "activated": 0, "first_subject_in": 30}
SITE_MILESTONES_DONE = {
    "candidate": [], "not_selected": [], "selected": ["selected"],
    "start_up": ["selected", "qualification_visit", "contract_executed"],
    "activated": ["selected", "qualification_visit", "contract_executed", "irb_approval", "initiation_visit",
                  "activated"],
}
for _status in ("enrolling", "closed_to_enrollment", "closed_out"):
    SITE_MILESTONES_DONE[_status] = [*SITE_MILESTONES_DONE["activated"], "first_subject_in"]
SITE_MILESTONES_DONE["closed_out"] = [*SITE_MILESTONES_DONE["closed_out"], "closed_out"]
ACTIVATED_STATUSES = frozenset({"activated", "enrolling", "closed_to_enrollment", "closed_out"})
# Sites of a study with subjects stop at Activated until their subjects are in: the rest of the path
# (enrolling, closed) follows them (demo/clinical.py).
OPEN_SITE_STATUSES = frozenset({"candidate", "not_selected", "selected", "start_up", "activated"})
ANCHOR_RANK = {"consent": 0, "enrollment": 1, "randomization": 2, "first_dose": 2}
STUDY_LATE_MILESTONES = ["last_subject_in", "last_subject_last_visit", "database_lock", "final_report"]
STUDY_LATE_DONE = {
    "closed_to_enrollment": ["last_subject_in"],
    "follow_up": ["last_subject_in"],
    "completed": STUDY_LATE_MILESTONES,
}


@dataclass
class DemoSummary:
    studies: list = field(default_factory=list)
    imported: list = field(default_factory=list)
    sites: int = 0
    users: dict = field(default_factory=dict)
    clinical: ClinicalSummary = field(default_factory=ClinicalSummary)


def demo_logins_wanted() -> list[tuple[str, str]]:
    """(username, role) of every demo login, for credentials.credentials_ensure."""
    return [(u.username, u.role) for u in P.USERS]


def demo_blinded_usernames() -> set[str]:
    """Demo logins that are blinded (never see randomized arms)."""
    return {u.username for u in P.USERS if u.blinded}


def demo_portfolio_load(*, logins: dict[str, DemoLogin], today: dt.date | None = None,
                        registry_files: list[Path] | None = None) -> DemoSummary:
    """Create the demo organizations, users, studies and sites, then import the real registry records.

    All or nothing. logins: username -> DemoLogin for every demo user (see demo_logins_wanted).
    """
    if not settings.DEMO_MODE:
        raise AccessDenied(DEMO_MODE_REQUIRED)
    missing = [u for u, _ in demo_logins_wanted() if u not in logins]
    if missing:
        raise ValidationFailed.field("logins", f"No password given for demo users: {', '.join(missing)}.")
    taken = demo_usernames_taken([u for u, _ in demo_logins_wanted()])
    if taken:
        raise Conflict(f"The demo portfolio is already loaded (users {', '.join(taken)} exist).")
    files = sorted(CTGOV_DIR.glob("*.json")) if registry_files is None else registry_files
    today = today or timezone.localdate()
    if today > timezone.localdate():
        # The services refuse dates in the future (a visit, a consent), so the demo cannot start later.
        raise ValidationFailed.field("today", "The demo portfolio cannot be dated after today.")
    loader = _Loader(logins=logins, today=today)
    with transaction.atomic():
        loader.run(files)
    return loader.summary


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


class _Loader:
    def __init__(self, *, logins: dict[str, DemoLogin], today: dt.date):
        self.logins = logins
        self.today = today
        self.rng = random.Random(P.SEED)
        self.summary = DemoSummary()
        self.users: dict = {}
        self.orgs: dict = {}
        self.studies: dict = {}
        self.sites: dict = {}          # (protocol number, institution key) -> StudySite
        self.site_paths: dict = {}     # (protocol number, institution key) -> [(status, reason)] still to do
        self.arms: dict = {}           # protocol number -> {label: Arm}
        self.protocols: dict = {}      # (protocol number, version number) -> ProtocolVersion
        self.planned: dict = {}        # protocol number -> planned key dates
        self.usernames: set[str] = set()
        self.pi_names = self._name_pools()

    # --- order of work -----------------------------------------------------

    def run(self, registry_files: list[Path]) -> None:
        self._admin()
        self._organizations()
        for spec in P.USERS:
            if spec.employer != "site" and spec.username != "admin":
                self._staff_user(spec)
        membership_grant(actor=self.admin, user=self.users["auditor"], role="auditor",
                         reason="Portfolio-wide read-only access for the GCP audit.")
        # The lead CPM plans new studies and imports registry records, which are portfolio-level rights.
        membership_grant(actor=self.admin, user=self.users["cpm"], role="cpm",
                         reason="Lead clinical project manager for the portfolio.")
        for spec in P.STUDIES:
            self._study(spec)
        self._site_users()
        self._study_memberships()
        clinical = ClinicalLoader(self)
        for spec in P.STUDIES:
            clinical.study(spec)
        clinical.visits_record()
        self.summary.clinical = clinical.summary
        startup_demo_load(self)  # feasibility and start-up milestones (demo/startup_demo.py)
        demo_training(self).populate()  # training matrix states after the rosters and delegations (training/demo.py)
        self._registry_import(registry_files)
        self.summary.users = dict(self.users)

    # --- people and organizations ------------------------------------------------

    def _admin(self) -> None:
        spec = next(u for u in P.USERS if u.username == "admin")
        # The first login has nobody to create it: bootstrap (actor None), as the CLI does.
        self.admin = user_create(actor=None, username=spec.username, first_name=spec.first_name,
                                 last_name=spec.last_name, email=self._email(spec.first_name, spec.last_name),
                                 password=self.logins[spec.username].password)
        self.usernames.add(spec.username)
        membership_grant(actor=None, user=self.admin, role="admin", reason="Demo portfolio: system administrator.")
        self.users["admin"] = self.admin

    def _organizations(self) -> None:
        self.orgs["sponsor"] = organization_create(user=self.admin, data=P.SPONSOR)
        self.orgs["cro"] = organization_create(user=self.admin, data=P.CRO)
        self.orgs["partner"] = organization_create(user=self.admin, data=P.PARTNER)
        for key, inst in P.INSTITUTIONS.items():
            self.orgs[key] = organization_create(user=self.admin, data={
                "name": inst.name, "kind": "institution", "city": inst.city, "state": inst.state,
                "country": inst.country, "postal_code": inst.postal_code,
            })

    def _email(self, first: str, last: str, domain: str = "northvale.example") -> str:
        return f"{_ascii(first)}.{_ascii(last)}@{domain}"

    def _person(self, *, first: str, last: str, title: str = "", degrees: str = "", job_title: str = "",
                organization=None, domain: str = "northvale.example"):
        return person_create(user=self.admin, data={
            "title": title, "first_name": first, "last_name": last, "degrees": degrees, "job_title": job_title,
            "email": self._email(first, last, domain), "organization": organization,
        })

    def _login(self, username: str, person):
        blinded = next(u.blinded for u in P.USERS if u.username == username)
        user = user_create(actor=self.admin, username=username, email=person.email, first_name=person.first_name,
                           last_name=person.last_name, person=person, password=self.logins[username].password,
                           is_blinded=blinded)
        self.users[username] = user
        self.usernames.add(username)
        return user

    def _staff_user(self, spec: P.DemoUser) -> None:
        org = {"sponsor": self.orgs["sponsor"], "cro": self.orgs["cro"]}.get(spec.employer)
        domain = {"cro": "meridian-cr.example", "none": "audit.example"}.get(spec.employer, "northvale.example")
        person = self._person(first=spec.first_name, last=spec.last_name, title=spec.title, degrees=spec.degrees,
                              job_title=spec.job_title, organization=org, domain=domain)
        self._login(spec.username, person)

    def _name_pools(self) -> dict[str, list[tuple[str, str]]]:
        pools = {}
        for country, firsts in P.PI_FIRST_NAMES.items():
            pools[country] = [(f, last) for f in firsts for last in P.PI_LAST_NAMES[country]]
        pools.update({country: list(names) for country, names in P.PI_WHOLE_NAMES.items()})
        for names in pools.values():
            self.rng.shuffle(names)
        return pools

    def _investigator(self, institution_key: str):
        inst = P.INSTITUTIONS[institution_key]
        first, last = self.pi_names[inst.country].pop()
        title = "Prof." if self.rng.random() < 0.3 else "Dr."
        degrees = "MD, PhD" if self.rng.random() < 0.4 else "MD"
        return self._person(first=first, last=last, title=title, degrees=degrees,
                            job_title="Principal Investigator", organization=self.orgs[institution_key],
                            domain=f"{institution_key.replace('_', '-')}.example")

    # --- studies ---------------------------------------------------------------

    def _study(self, spec: P.StudySpec) -> None:
        cpm = self.users["cpm"]
        planned = self._study_planned_dates(spec)
        criteria = ("Inclusion Criteria:\n\n" + "".join(f"* {c}\n" for c in spec.inclusion)
                    + "\nExclusion Criteria:\n\n" + "".join(f"* {c}\n" for c in spec.exclusion))
        data = {
            "protocol_number": spec.protocol_number, "acronym": spec.acronym, "brief_title": spec.brief_title,
            "official_title": spec.official_title, "summary": spec.summary, "phases": list(spec.phases),
            "study_type": "INTERVENTIONAL", "therapeutic_area": spec.therapeutic_area,
            "conditions": list(spec.conditions), "keywords": list(spec.keywords), "sponsor": self.orgs["sponsor"],
            "allocation": spec.allocation, "intervention_model": spec.intervention_model,
            "primary_purpose": spec.primary_purpose, "masking": spec.masking, "who_masked": list(spec.who_masked),
            "planned_enrollment": spec.planned_enrollment, "eligibility_criteria": criteria, "sex": spec.sex,
            "minimum_age": spec.minimum_age, "maximum_age": spec.maximum_age,
            "healthy_volunteers": spec.healthy_volunteers,
            "other_ids": [{"type": "EU CT", "id": spec.eu_ct_number}] if spec.eu_ct_number else [],
            **{f"planned_{key}": value for key, value in planned.items()},
        }
        study = study_create(user=self.admin, data=data,
                             collaborators=[self.orgs["partner"]] if spec.partner else None)
        membership_grant(actor=self.admin, user=cpm, role="cpm", study=study,
                         reason="Clinical project manager for the study.")
        self.studies[spec.protocol_number] = study
        self.planned[spec.protocol_number] = planned
        self.summary.studies.append(study)

        arms = {}
        for arm in spec.arms:
            arms[arm.label] = arm_create(user=cpm, study=study, data={
                "label": arm.label, "arm_type": arm.arm_type, "description": arm.description,
                "planned_enrollment": round(spec.planned_enrollment * arm.share),
            })
        for iv in spec.interventions:
            intervention_create(user=cpm, study=study, arm_ids=[arms[label].pk for label in iv.arms], data={
                "kind": iv.kind, "name": iv.name, "description": iv.description, "other_names": list(iv.other_names),
            })
        self.arms[spec.protocol_number] = arms
        previous = None
        for pspec in spec.protocols:
            pv = protocol_version_create(user=cpm, study=study, data={
                "version_number": pspec.version_number, "version_date": self.today + _days(pspec.days),
                "amendment_number": pspec.amendment_number, "summary_of_changes": pspec.summary_of_changes,
            })
            self.protocols[(spec.protocol_number, pspec.version_number)] = pv
            if spec.schedule:
                # The schedule is part of the protocol: written while the version is a draft, then approved.
                self._schedule(spec, pspec, pv, previous)
            previous = pv
            if pspec.approve:
                protocol_version_approve(user=cpm, protocol_version=pv, password=self.logins["cpm"].password,
                                         version=pv.version, comment="Approved for submission to competent "
                                                                    "authorities and ethics committees.")
        for status in STUDY_PATHS[spec.status]:
            reason = spec.hold_reason if status == "on_hold" else STUDY_REASONS[status]
            study_transition(user=cpm, study=study, status=status, version=study.version, reason=reason)

        sites = self._sites(spec, study, planned)
        if spec.enrollment is None:
            # Studies with subjects get their actual dates from the screening logs (demo/clinical.py).
            actual = self._study_actual_dates(spec, planned, sites)
            if actual:
                study_update(user=cpm, study=study, data=actual, version=study.version,
                             reason="Actual milestone dates recorded from site activation and enrollment tracking.")

    def _schedule(self, spec: P.StudySpec, pspec: P.ProtocolSpec, pv, previous) -> None:
        """The first version gets the study's schedule of events; an amendment copies the previous version's
        and adds its own visits, each placed after the visits that come before it."""
        cpm = self.users["cpm"]
        if previous is None:
            for n, visit in enumerate(spec.schedule, start=1):
                self._visit_create(pv, visit, n * 10)
            return
        visit_definitions_copy(user=cpm, source=previous, target=pv,
                               reason=f"Schedule of events carried over from protocol {previous.version_number}.")
        base = [(ANCHOR_RANK[v.anchor], v.day, (n + 1) * 10) for n, v in enumerate(spec.schedule)]
        for visit in pspec.adds_visits:
            key = (ANCHOR_RANK[visit.anchor], visit.day)
            self._visit_create(pv, visit, max((order for rank, day, order in base if (rank, day) <= key),
                                              default=0) + 5)

    def _visit_create(self, pv, visit: P.VisitSpec, order: int) -> None:
        visit_definition_create(user=self.users["cpm"], protocol_version=pv, data={
            "code": visit.code, "name": visit.name, "order": order, "anchor": visit.anchor,
            "target_day": visit.day, "window_before": visit.before, "window_after": visit.after,
            "modality": visit.modality, "required": visit.required,
        })

    def site_reason(self, status: str) -> str:
        return SITE_REASONS[status]

    def late_milestones(self, status: str) -> list[str]:
        return STUDY_LATE_DONE.get(status, [])

    def _study_planned_dates(self, spec: P.StudySpec) -> dict[str, dt.date]:
        fsa = self.today + _days(spec.first_site_activated)
        fsi = fsa + _days(30)
        lsi = fsi + _days(spec.enrollment_days)
        lslv = lsi + _days(spec.follow_up_days)
        dbl = lslv + _days(45)
        return {"first_site_activated": fsa, "first_subject_in": fsi, "last_subject_in": lsi,
                "last_subject_last_visit": lslv, "database_lock": dbl, "final_report": dbl + _days(120)}

    def _study_actual_dates(self, spec: P.StudySpec, planned: dict, sites: list) -> dict[str, dt.date]:
        actual = {}
        activated = [s.actual_activated for s in sites if s.actual_activated]
        if activated:
            actual["actual_first_site_activated"] = min(activated)
        first_in = [s.actual_first_subject_in for s in sites if s.actual_first_subject_in]
        if first_in:
            actual["actual_first_subject_in"] = min(first_in)
        late = STUDY_LATE_DONE.get(spec.status, [])
        if late:
            # The last subject came in after every site's first one.
            floor = {"last_subject_in": max(first_in) + _days(1)} if first_in else None
            dates = self._achieved(planned, late, spec.slip_days, floor=floor)
            actual.update({f"actual_{key}": value for key, value in dates.items()})
        return actual

    def _achieved(self, planned: dict, keys: list[str], slip: int, *, floor: dict | None = None
                  ) -> dict[str, dt.date]:
        """Actual dates for achieved milestones: a little late against plan, in order, all in the past."""
        out: dict[str, dt.date] = {}
        previous = None
        for key in keys:
            value = planned[key] + _days(self.rng.randint(-3, slip))
            if floor and key in floor:
                value = max(value, floor[key])
            if previous is not None and value <= previous:
                value = previous + _days(1)
            out[key] = previous = value
        limit = self.today - _days(self.rng.randint(1, 10))
        for key in reversed(keys):
            out[key] = min(out[key], limit)
            limit = out[key] - _days(1)
        return out

    # --- sites -------------------------------------------------------------------

    def _sites(self, spec: P.StudySpec, study, planned: dict) -> list:
        cpm = self.users["cpm"]
        targets = self._site_targets(spec)
        per_country: dict[str, int] = {}
        first_activation_done = False
        sites = []
        for site_spec in spec.sites:
            inst = P.INSTITUTIONS[site_spec.institution]
            per_country[inst.country] = per_country.get(inst.country, 0) + 1
            site_number = f"{P.COUNTRY_SITE_BLOCK[inst.country]}{per_country[inst.country]:02d}"
            activation = self._site_activation(spec, site_spec.status, planned, first_activation_done,
                                               site_spec.active_days)
            first_activation_done |= site_spec.status in ACTIVATED_STATUSES
            site_planned = {key: activation + _days(offset) for key, offset in SITE_MILESTONE_OFFSETS.items()}
            site_planned["closed_out"] = planned["last_subject_last_visit"] + _days(45 + self.rng.randint(0, 30))
            # The first subject in is recorded by the subject services when it happens.
            done = [k for k in SITE_MILESTONES_DONE[site_spec.status] if k != "first_subject_in"]
            if site_spec.status == "start_up" and self.rng.random() < 0.5:
                done = [*done, "irb_approval"]
            if site_spec.status == "closed_out" and spec.status != "completed":
                # An early close-out, before the study's planned close-out.
                site_planned["closed_out"] = self.today - _days(self.rng.randint(30, 120))
            actual = self._achieved(site_planned, done, 21) if done else {}
            site = site_create(user=cpm, study=study, reason="Site history migrated from the previous CTMS.", data={
                "institution": self.orgs[site_spec.institution], "site_number": site_number,
                "principal_investigator": self._investigator(site_spec.institution),
                "country": inst.country, "state": inst.state, "city": inst.city, "postal_code": inst.postal_code,
                "target_enrollment": targets.get(site_spec.institution),
                **{f"planned_{key}": value for key, value in site_planned.items()},
                **{f"actual_{key}": value for key, value in actual.items()},
            })
            path = [(status, site_spec.reason if status == site_spec.status and site_spec.reason
                     else SITE_REASONS[status]) for status in SITE_PATHS[site_spec.status]]
            later = []
            if spec.enrollment is not None:
                later = [step for step in path if step[0] not in OPEN_SITE_STATUSES]
                path = [step for step in path if step[0] in OPEN_SITE_STATUSES]
            for status, reason in path:
                site_transition(user=cpm, site=site, status=status, version=site.version, reason=reason)
            self.site_paths[(spec.protocol_number, site_spec.institution)] = later
            self.sites[(spec.protocol_number, site_spec.institution)] = site
            sites.append(site)
        self.summary.sites += len(sites)
        return sites

    def _site_targets(self, spec: P.StudySpec) -> dict[str, int]:
        """Per-site enrollment targets; open studies over-allocate by 10% to absorb slow sites."""
        chosen = [s.institution for s in spec.sites if s.status not in ("candidate", "not_selected")]
        weights = {key: self.rng.uniform(0.6, 1.4) for key in chosen}
        total = spec.planned_enrollment * (1.1 if spec.status in ("planning", "start_up", "enrolling") else 1.0)
        return {key: max(3, round(total * w / sum(weights.values()))) for key, w in weights.items()}

    def _site_activation(self, spec: P.StudySpec, status: str, planned: dict, first_done: bool,
                         active_days: int | None = None) -> dt.date:
        """Planned activation date: activated sites in the past, the others still ahead."""
        fsa = planned["first_site_activated"]
        if active_days is not None:
            return self.today - _days(active_days)
        if status not in ACTIVATED_STATUSES:
            return max(fsa, self.today) + _days(self.rng.randint(20, 100))
        if status == "activated" and first_done:
            return max(fsa, self.today - _days(self.rng.randint(10, 40)))  # activated, not yet enrolling
        if not first_done:
            return fsa
        room = max(0, -spec.first_site_activated - 60)
        return fsa + _days(self.rng.randint(0, min(90, room)))

    # --- memberships -------------------------------------------------------------------

    def _site_users(self) -> None:
        protocol, key = P.COORDINATOR_SITE
        spec = next(u for u in P.USERS if u.username == "coordinator")
        person = self._person(first=spec.first_name, last=spec.last_name, degrees=spec.degrees,
                              job_title=spec.job_title, organization=self.orgs[key],
                              domain=f"{key.replace('_', '-')}.example")
        self._login("coordinator", person)
        protocol, key = P.INVESTIGATOR_SITE
        self._login("investigator", self.sites[(protocol, key)].principal_investigator)

    def _study_memberships(self) -> None:
        cpm = self.users["cpm"]
        reason = "Study team set-up."
        for protocol, study in self.studies.items():
            membership_grant(actor=cpm, user=self.users["regulatory"], role="regulatory", study=study, reason=reason)
            membership_grant(actor=cpm, user=self.users["finance"], role="finance", study=study, reason=reason)
            if protocol in P.VIEWER_STUDIES:
                membership_grant(actor=cpm, user=self.users["viewer"], role="viewer", study=study, reason=reason)
            if protocol in P.CRA_SITES:
                membership_grant(actor=cpm, user=self.users["cra"], role="cra", study=study, reason=reason,
                                 sites=[self.sites[(protocol, key)] for key in P.CRA_SITES[protocol]])
        for username, role, (protocol, key) in (("coordinator", "site_coordinator", P.COORDINATOR_SITE),
                                                ("investigator", "principal_investigator", P.INVESTIGATOR_SITE)):
            membership_grant(actor=cpm, user=self.users[username], role=role, study=self.studies[protocol],
                             sites=[self.sites[(protocol, key)]], reason=reason)

    # --- real registry records ------------------------------------------------------------

    def _registry_import(self, files: list[Path]) -> None:
        """Import real ClinicalTrials.gov records beside the invented studies; the CPM and regulatory follow them."""
        for path in files:
            for result in ctgov_import_file(user=self.users["cpm"], path_or_bytes=path):
                self.summary.imported.append(result)
                study = study_get(self.admin, result.study_id)
                for username, role in (("cpm", "cpm"), ("regulatory", "regulatory")):
                    membership_grant(actor=self.admin, user=self.users[username], role=role, study=study,
                                     reason="Registry study added to the monitored portfolio.")

