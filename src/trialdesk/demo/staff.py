"""The demo's site staff rosters and delegation logs, loaded through the staff (and training) services.

Called by the clinical loader for each study with subjects, after the sites' PI logins exist and before any
subject is entered (the services check the delegation log for every consent and eligibility decision):

* every site's principal investigator is on its roster already (the site services put them there, in post since
  the site's selection);
* the coordinator's site (P.COORDINATOR_SITE): the coordinator, trained on the current protocol version, with
  signed delegations (informed consent, medical history, CRF entry) from before the site's first subject, so
  she obtains consent there;
* the investigator's site (P.INVESTIGATOR_SITE): a trained study nurse (training's demo gives her a login with
  a password nobody is told: attendees acknowledge their own training) with signed delegations and two waiting
  for the investigator's signature, and an untrained sub-investigator whose GCP certificate expires soon, with
  pending delegations that cannot be signed yet (the page says what is missing);
* a few other activated sites of open studies: a sub-investigator and a study nurse with delegations pending
  the PI's signature, one GCP certificate expired.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from trialdesk.demo import portfolio as P
from trialdesk.staff.services import delegation_sign, delegations_create, site_staff_create
from trialdesk.training.demo import demo_training
from trialdesk.training.selectors import protocol_training_gap

OPEN_STUDIES = ("enrolling", "on_hold")
# Other activated sites per open study that get extra staff with pending delegations.
EXTRA_SITES_PER_STUDY = 2
# Each signature re-checks the signer's password (deliberately slow hashing): a few signed entries per person.
COORDINATOR_TASKS = ["informed_consent", "medical_history", "data_entry"]
NURSE_SIGNED = ["informed_consent", "ae_assessment"]
NURSE_PENDING = ["sample_processing", "ip_dispensing"]
SUB_I_PENDING = ["eligibility", "physical_exam", "ae_assessment"]
EXTRA_NAMES = {
    P.US: [("Rachel", "Dunn"), ("Kevin", "Ortiz"), ("Laura", "Simmons"), ("Brian", "Foley")],
    P.CA: [("Émilie", "Roy"), ("Daniel", "Fraser")],
    P.DE: [("Jonas", "Keller"), ("Anke", "Vogt"), ("Svenja", "Brandt"), ("Felix", "Hartmann")],
    P.FR: [("Camille", "Girard"), ("Hugo", "Lambert")],
    P.ES: [("Elena", "Prieto"), ("Sergio", "Vidal")],
    P.IT: [("Elisa", "Conti"), ("Matteo", "Greco")],
    P.PL: [("Joanna", "Mazur"), ("Michał", "Krawczyk")],
    P.UK: [("Hannah", "Reid"), ("Tom", "Fletcher")],
    P.JP: [("Mai", "Sato"), ("Ryo", "Ito")],
}


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


@dataclass
class StaffSummary:
    roster: int = 0
    delegations: int = 0
    signed: int = 0


class DemoStaff:
    def __init__(self, clinical):
        self.clinical = clinical
        self.loader = clinical.loader
        self.today: dt.date = clinical.today
        self.cpm = clinical.cpm
        self.rng = random.Random(f"{P.SEED}:staff")
        self.names = {country: list(names) for country, names in EXTRA_NAMES.items()}
        self.summary = StaffSummary()

    # --- per study ------------------------------------------------------------------------------

    def study(self, spec: P.StudySpec, study, sites: list) -> None:
        """sites: [(site spec, StudySite)] of the study."""
        activated = [(s, site) for s, site in sites if site.actual_activated is not None]
        extra = 0
        for site_spec, site in activated:
            key = (spec.protocol_number, site_spec.institution)
            if key == P.COORDINATOR_SITE:
                self._coordinator_site(study, site)
            elif key == P.INVESTIGATOR_SITE:
                self._investigator_site(study, site)
            elif spec.status in OPEN_STUDIES and extra < EXTRA_SITES_PER_STUDY and site_spec.status != "closed_out":
                self._pending_staff(site, expired_gcp=extra == 1)
                extra += 1

    # --- the coordinator's site -------------------------------------------------------------------

    def _coordinator_site(self, study, site) -> None:
        coordinator = self.loader.users["coordinator"]
        start = self._roster_start(site)
        staff = self._roster(site, coordinator.person, "study_coordinator", start=start, gcp_years=3,
                             licence="")
        self._train(study, site, [coordinator.person])
        self._delegate(staff, COORDINATOR_TASKS, start=site.actual_activated - _days(7), sign=True)

    # --- the investigator's site ------------------------------------------------------------------

    def _investigator_site(self, study, site) -> None:
        country = P.INSTITUTIONS[P.INVESTIGATOR_SITE[1]].country
        start = self._roster_start(site)
        nurse_first, nurse_last = self.names[country].pop(1)
        nurse = self._person(site, nurse_first, nurse_last, degrees="RN", job_title="Study Nurse")
        staff = self._roster(site, nurse, "study_nurse", start=start, gcp_years=2, licence="DE-PFL-40213")
        self._train(study, site, [nurse])
        self._delegate(staff, NURSE_SIGNED, start=site.actual_activated - _days(7), sign=True)
        self._delegate(staff, NURSE_PENDING, start=self.today, sign=False)
        sub_first, sub_last = self.names[country].pop(0)
        sub = self._person(site, sub_first, sub_last, title="Dr.", degrees="MD", job_title="Sub-Investigator")
        staff = self._roster(site, sub, "sub_investigator", start=self.today - _days(20), gcp_years=0,
                             gcp_expiry=self.today + _days(35), licence="DE-ARZT-118872")
        self._delegate(staff, SUB_I_PENDING, start=self.today, sign=False)

    # --- other sites -------------------------------------------------------------------------------

    def _pending_staff(self, site, *, expired_gcp: bool) -> None:
        country = P.INSTITUTIONS[next(k for (pn, k), s in self.loader.sites.items() if s.pk == site.pk)].country
        names = self.names.get(country) or self.names[P.US]
        if len(names) < 2:
            return
        (sub_first, sub_last), (nurse_first, nurse_last) = names.pop(), names.pop()
        start = self.today - _days(self.rng.randint(10, 60))
        sub = self._person(site, sub_first, sub_last, title="Dr.", degrees="MD", job_title="Sub-Investigator")
        staff = self._roster(site, sub, "sub_investigator", start=start, gcp_years=2, licence="MD-" +
                             str(self.rng.randint(100000, 999999)))
        self._delegate(staff, ["eligibility", "ae_assessment"], start=self.today, sign=False)
        nurse = self._person(site, nurse_first, nurse_last, degrees="RN", job_title="Study Nurse")
        gcp_expiry = self.today - _days(12) if expired_gcp else None
        staff = self._roster(site, nurse, "study_nurse", start=start, gcp_years=3, gcp_expiry=gcp_expiry,
                             licence="")
        self._delegate(staff, ["informed_consent", "sample_processing", "data_entry"], start=self.today, sign=False)

    # --- building blocks ------------------------------------------------------------------------

    def _roster_start(self, site) -> dt.date:
        return min(site.actual_selected or site.actual_activated - _days(150), site.actual_activated - _days(30))

    def _person(self, site, first: str, last: str, *, title: str = "", degrees: str = "", job_title: str = ""):
        key = next(k for (pn, k), s in self.loader.sites.items() if s.pk == site.pk)
        return self.loader._person(first=first, last=last, title=title, degrees=degrees, job_title=job_title,
                                   organization=site.institution, domain=f"{key.replace('_', '-')}.example")

    def _roster(self, site, person, role: str, *, start: dt.date, gcp_years: int, licence: str,
                gcp_expiry: dt.date | None = None):
        # The current GCP certificate (renewed since the person joined, for long-standing staff).
        certificate = self.today - _days(self.rng.randint(60, 300))
        expiry = gcp_expiry or (certificate.replace(year=certificate.year + gcp_years) if gcp_years else None)
        if expiry is not None and expiry < certificate:
            certificate = expiry - _days(365 * 3)
        cv = start - _days(self.rng.randint(5, 60))
        staff = site_staff_create(user=self.cpm, site=site, reason="Site staff roster set up at site initiation.",
                                  data={"person": person, "role": role, "start_date": start, "cv_date": cv,
                                        "cv_expiry": cv.replace(year=cv.year + 2), "licence_number": licence,
                                        "licence_expiry": (start.replace(year=start.year + 3) if licence else None),
                                        "gcp_certificate_date": certificate, "gcp_expiry": expiry})
        self.summary.roster += 1
        return staff

    def _delegate(self, staff, task_list: list[str], *, start: dt.date, sign: bool) -> None:
        made = delegations_create(user=self.cpm, staff=staff, task_list=task_list, start_date=start,
                                  reason="Delegation agreed with the principal investigator.")
        self.summary.delegations += len(made)
        if not sign:
            return
        signer, password = self._signer(staff.site)
        for delegation in made:
            delegation_sign(user=signer, delegation=delegation, password=password, version=delegation.version,
                            comment="Delegated at the site initiation visit.")
            self.summary.signed += 1

    def _signer(self, site):
        """The site's PI login and the password the demo signs with (training's demo keeps them: the investigator
        demo login's printed one, or one nobody is told)."""
        return demo_training(self.loader).login(site.principal_investigator, site.study, site)

    def _train(self, study, site, people) -> None:
        """Protocol training on the study's current version before the site's first subject (training's demo:
        attendance acknowledged by each attendee's own e-signature, which issues the certificate)."""
        todo = [p for p in people if protocol_training_gap(p, study) is not None]
        if todo:
            demo_training(self.loader).certify(study=study, site=site, people=todo,
                                               day=site.actual_activated - _days(14))
