"""The demo's clinical layer, loaded through the services: consent forms, screening-log settings, enrollment
plans, subjects with their consents and randomizations, and visits.

Order of work for a study with subjects (the services refuse anything out of order):
1. site staff: each site's PI (on the site's staff roster since its selection, so delegated for consent and
   eligibility by subjects.services.delegation_check) gets a login and a PI role on the site; then the rosters
   and delegation logs (demo/staff.py: the coordinator's signed delegations come before her site's first
   consent);
2. screening-log settings and the enrollment plan (baseline 1; a re-baselined study gets baseline 2);
3. subject histories (demo/histories.py), drawn from the plan's rates;
4. a time-ordered replay: consent forms are approved on their IRB/IEC dates, the "consent sites" enter
   their subjects one by one (created, consented on the form in force, enrolled, randomised, ...), and
   when a new form is approved, the subjects on study re-consent over the following weeks. The other
   sites' screening logs are imported in bulk (CSV, screening_log_import) before any recent consent
   form is approved, so their subjects appear on its re-consent list too;
5. the sites' remaining transitions (enrolling, closed) and the study's actual key dates.
Visits are recorded last, for every study at once (`visits_record`), and the overdue ones flagged missed.
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import io
import itertools
import math
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from trialdesk.accounts.services import membership_grant, user_create
from trialdesk.demo import histories as H
from trialdesk.demo import portfolio as P
from trialdesk.demo.staff import DemoStaff
from trialdesk.enrollment.selectors import plan_get
from trialdesk.enrollment.services import (
    enrollment_plan_create,
    enrollment_plan_entry_create,
    enrollment_plan_entry_update,
    enrollment_plan_rebaseline,
)
from trialdesk.sites.services import site_transition
from trialdesk.studies.services import study_update
from trialdesk.subjects.importer import COLUMN_NAMES
from trialdesk.subjects.lifecycle import DEFAULT_SCREEN_FAIL_REASONS, ON_STUDY_STATUSES, WITHDRAWAL_REASONS
from trialdesk.subjects.selectors import ReconsentFilter, current_icf_for_site, reconsent_list, subject_get
from trialdesk.subjects.services import (
    consent_record,
    icf_version_approve,
    icf_version_create,
    screening_log_import,
    subject_create,
    subject_first_dose_record,
    subject_randomize,
    subject_settings_get_or_create,
    subject_settings_update,
    subject_transition,
)
from trialdesk.visits.selectors import VisitFilter, subject_visit_list
from trialdesk.visits.services import subject_visit_record, subject_visits_flag_missed

# A consent form approved this recently is still being rolled out: the imported screening logs come in
# before it, so their subjects must re-consent too.
RECENT_ICF_DAYS = 60
OPEN_STUDY_STATUSES = ("enrolling", "on_hold")
CLOSED_TEXT = "Enrollment closed (study target reached) before randomisation."
HOLD_TEXT = "Enrollment paused (study on hold) before randomisation."
VISIT_REASON = "Recorded from the site's visit log."
STATUS_REASONS = {
    "screened": "Screening visit started.",
    "enrolled": "Eligibility confirmed by the investigator; enrolled.",
    "active": "First dose given; on treatment.",
    "completed": "Completed the last visit of the schedule of events.",
    "lost_to_follow_up": "No contact after three documented attempts.",
}


def _days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


@dataclass
class SiteStaff:
    """Who does the work at a site: the acting user, who obtains consent, who confirms eligibility."""

    user: object
    consent_by: object      # Person
    eligibility_by: object  # Person (the PI)
    username: str           # the PI's login, as a screening log names the investigator


@dataclass
class ClinicalSummary:
    subjects: int = 0
    consents: int = 0
    reconsents: int = 0
    visits_recorded: int = 0
    visits_missed: int = 0
    site_staff: int = 0


class ClinicalLoader:
    def __init__(self, loader):
        self.loader = loader
        self.today: dt.date = loader.today
        self.cpm = loader.users["cpm"]
        self.regulatory = loader.users["regulatory"]
        self.staff: dict[int, SiteStaff] = {}              # site pk -> staff
        self.histories: dict[int, H.History] = {}          # subject pk -> history
        self.schedules: dict[str, tuple[P.VisitSpec, ...]] = {}  # protocol number -> schedule in force
        self.summary = ClinicalSummary()
        self._site_of: dict[int, int] = {}                 # subject pk -> site pk
        self._reconsented: dict[int, Callable] = {}        # id(history) -> hands a re-consented subject on
        self._seq = itertools.count()
        self.demo_staff = DemoStaff(self)

    # --- per study ------------------------------------------------------------------------------

    def study(self, spec: P.StudySpec) -> None:
        study = self.loader.studies[spec.protocol_number]
        icfs = self._icfs_create(spec, study)
        if spec.enrollment is None:
            for icf, icf_spec in icfs:
                if icf_spec.irb_days is not None:
                    self._icf_approve(icf)
            return
        self.schedules[spec.protocol_number] = self._schedule_in_force(spec)
        sites = [(s, self.loader.sites[(spec.protocol_number, s.institution)]) for s in spec.sites]
        for site_spec, site in sites:
            if site.actual_activated is not None:
                self._site_staff(spec, site_spec, site)
        self.demo_staff.study(spec, study, sites)
        self._settings(spec, study)
        rates = self._plan(spec, study, [site for _, site in sites])
        results = self._histories(spec, study, sites, rates)
        self._replay(spec, study, sites, results, icfs)
        self._close_sites(spec, sites, results)
        self._study_actual_dates(spec, study, results)

    def _schedule_in_force(self, spec: P.StudySpec) -> tuple[P.VisitSpec, ...]:
        visits = list(spec.schedule)
        for pspec in spec.protocols:
            if pspec.approve:
                visits += pspec.adds_visits
        return tuple(visits)

    # --- consent forms --------------------------------------------------------------------------

    def _icfs_create(self, spec: P.StudySpec, study) -> list[tuple[object, P.IcfSpec]]:
        out = []
        for icf_spec in spec.icfs:
            pv = self.loader.protocols[(spec.protocol_number, icf_spec.protocol)]
            irb = self.today + _days(icf_spec.irb_days) if icf_spec.irb_days is not None else None
            icf = icf_version_create(user=self.regulatory, study=study, reason="Consent form drafted with the "
                                     f"protocol version {pv.version_number}.", data={
                                         "version_number": icf_spec.version_number,
                                         "version_date": self.today + _days(icf_spec.days),
                                         "country": icf_spec.country, "protocol_version": pv,
                                         "irb_approval_date": irb})
            out.append((icf, icf_spec))
        return out

    def _icf_approve(self, icf) -> None:
        icf_version_approve(user=self.regulatory, icf_version=icf, version=icf.version)

    # --- site staff -----------------------------------------------------------------------------

    def _site_staff(self, spec: P.StudySpec, site_spec: P.SiteSpec, site) -> None:
        """The site's PI gets a login (no password until they are invited) and the PI role on the site."""
        users = self.loader.users
        pi = site.principal_investigator
        user = getattr(pi, "user", None)
        if user is None:
            base = f"{_ascii(pi.first_name)}.{_ascii(pi.last_name)}"
            username = base if base not in self.loader.usernames else f"{base}.{site.site_number}"
            user = user_create(actor=self.loader.admin, username=username, email=pi.email,
                               first_name=pi.first_name, last_name=pi.last_name, person=pi)
            self.loader.usernames.add(username)
            membership_grant(actor=self.cpm, user=user, role="principal_investigator", study=site.study,
                             sites=[site], reason="Principal investigator of the site: obtains consent and "
                                                  "confirms eligibility.")
            self.summary.site_staff += 1
        consent_by, actor = pi, user
        coordinator = users.get("coordinator")
        if coordinator is not None and (spec.protocol_number, site_spec.institution) == P.COORDINATOR_SITE:
            # The coordinator enters the subjects and obtains consent at her site; the PI confirms eligibility.
            consent_by, actor = coordinator.person, coordinator
        self.staff[site.pk] = SiteStaff(user=actor, consent_by=consent_by, eligibility_by=pi,
                                        username=user.username)

    # --- settings and plan ----------------------------------------------------------------------

    def _settings(self, spec: P.StudySpec, study) -> None:
        settings = subject_settings_get_or_create(user=self.cpm, study=study)
        reasons = [dict(r) for r in DEFAULT_SCREEN_FAIL_REASONS]
        reasons[-1:-1] = [{"code": code, "label": label} for code, label, _w in spec.enrollment.screen_fail_reasons]
        subject_settings_update(user=self.cpm, study=study, version=settings.version, data={
            "screen_fail_reasons": reasons},
            reason="Study-specific screen-failure reasons from the eligibility criteria.")

    def _plan(self, spec: P.StudySpec, study, sites: list) -> dict[int, float]:
        """Baseline 1 (and for a re-baselined study, baseline 2) with an entry per site; returns the current
        planned rate per site pk."""
        planned = [s for s in sites if s.target_enrollment and s.planned_activated]
        lsi = study.planned_last_subject_in
        weights = {s.pk: (float(s.target_enrollment), s.planned_activated) for s in planned}
        current = H.planned_rates(weights, study.planned_enrollment, lsi)
        rebase = spec.enrollment.rebaseline
        first_label = rebase.label if rebase else "Approved enrollment plan"
        first_lsi = lsi - _days(rebase.lsi_days) if rebase else lsi
        first_activation = {s.pk: s.planned_activated - _days(60 if rebase and s.country in (P.DE, P.PL) else 0)
                            for s in planned}
        first = H.planned_rates({pk: (w, first_activation[pk]) for pk, (w, _a) in weights.items()},
                                study.planned_enrollment, first_lsi) if rebase else current
        plan = enrollment_plan_create(user=self.cpm, study=study, reason="Enrollment plan approved at study "
                                      "start-up.", data={"label": first_label, "target": study.planned_enrollment,
                                                         "planned_last_subject_in": first_lsi})
        for site in planned:
            enrollment_plan_entry_create(user=self.cpm, plan=plan, reason="Feasibility estimate.", data={
                "site": site, "planned_activation": first_activation[site.pk],
                "planned_rate_per_month": first[site.pk], "planned_subjects": site.target_enrollment})
        if rebase:
            plan = enrollment_plan_rebaseline(user=self.cpm, plan=plan, version=plan.version, reason=rebase.reason,
                                              data={"label": rebase.current_label, "planned_last_subject_in": lsi})
            for entry in plan_get(self.cpm, plan.pk).entries.all():
                enrollment_plan_entry_update(user=self.cpm, entry=entry, version=entry.version, reason=rebase.reason,
                                             data={"planned_activation": entry.site.planned_activated,
                                                   "planned_rate_per_month": current[entry.site_id]})
        return current

    # --- histories -------------------------------------------------------------------------------

    def _histories(self, spec: P.StudySpec, study, sites: list, rates: dict[int, float]
                   ) -> dict[int, H.SiteResult]:
        enrollment = spec.enrollment
        pn = spec.protocol_number
        planned = self.loader.planned[pn]
        ctx = H.StudyContext(
            protocol_number=pn, today=self.today, schedule=self.schedules[pn],
            arms=tuple((a.label, a.share) for a in spec.arms), strata=enrollment.strata,
            fail_reasons=H.fail_reason_weights(enrollment.screen_fail_reasons), withdraw=enrollment.withdraw,
            lost=enrollment.lost, death=enrollment.death, econsent=enrollment.econsent)
        rng = random.Random(f"{P.SEED}:{pn}:enrollment")
        open_study = spec.status in OPEN_STUDY_STATUSES
        if enrollment.stop_days is not None:
            close_on, close_text = self.today - _days(enrollment.stop_days), HOLD_TEXT
        elif open_study:
            close_on, close_text = None, ""
        else:
            close_on = min(planned["last_subject_in"] + _days(rng.randint(-3, spec.slip_days)),
                           self.today - _days(20))
            close_text = CLOSED_TEXT
        active = [(s, site) for s, site in sites if site.actual_activated is not None]
        until = close_on or self.today
        exposure = {site.pk: rates.get(site.pk, 0.0) * H.months_between(site.actual_activated, until)
                    for s, site in active if s.rate is None}
        factors = H.site_factors([site.pk for s, site in active], exposure, f"{P.SEED}:{pn}:site-rates")
        # A closed study met its target: sites that enrolled nobody (or fewer, by the story) left their share
        # to the others.
        fixed = sum(s.enrolled for s, _ in active if s.enrolled is not None)
        shared = sum(site.target_enrollment or 0 for s, site in active if s.enrolled is None) or 1
        share_scale = max(study.planned_enrollment - fixed, 0) / shared
        results: dict[int, H.SiteResult] = {}
        for site_spec, site in active:
            sf = site_spec.screen_fail if site_spec.screen_fail is not None else enrollment.screen_fail
            window_end = (close_on or self.today) - _days(H.CLOSING_MARGIN_DAYS)
            months = max(H.months_between(site.actual_activated, window_end), 0.5)
            if site_spec.enrolled is not None or not open_study:
                # A closed study's site filled its target (or the count the story needs), then closed.
                count = site_spec.enrolled if site_spec.enrolled is not None else \
                    math.ceil((site.target_enrollment or 0) * share_scale * rng.uniform(1.0, 1.1))
                # Fast enough to reach the count before the study closes (the cap stops it there).
                rate, cap = (1.3 * count + 3) / months if count else 0.0, count
            else:
                factor = site_spec.rate if site_spec.rate is not None else factors[site.pk]
                rate, cap = rates.get(site.pk, 0.0) * enrollment.pace * factor, site.target_enrollment
            window = H.SiteWindow(key=site_spec.institution, activated=site.actual_activated, rate_per_month=rate,
                                  screen_fail=sf, close_on=close_on, close_text=close_text, cap=cap,
                                  end_by=site.actual_closed_out)
            results[site.pk] = H.site_histories(ctx, window)
        H.assign_irt_references([h for r in results.values() for h in r.histories],
                                f"IRT-{pn.replace('NVT-', '').replace('-', '')}")
        return results

    # --- the replay ------------------------------------------------------------------------------

    def _replay(self, spec: P.StudySpec, study, sites: list, results: dict[int, H.SiteResult],
                icfs: list[tuple[object, P.IcfSpec]]) -> None:
        queue: list = []

        def push(day: dt.date, priority: int, action: Callable[[], None]) -> None:
            heapq.heappush(queue, (day, priority, next(self._seq), action))

        recent = [self.today + _days(s.irb_days) for _, s in icfs
                  if s.irb_days is not None and s.irb_days >= -RECENT_ICF_DAYS]
        import_day = min(recent) if recent else self.today + _days(1)
        consent_keys = set(spec.enrollment.consent_sites)
        arms = self.loader.arms[spec.protocol_number]
        bulk = []
        for site_spec, site in sites:
            result = results.get(site.pk)
            if result is None or not result.histories:
                continue
            if site_spec.institution in consent_keys:
                for history in result.histories:
                    self._subject_steps(push, site, history, arms)
            else:
                bulk.append((site, result.histories))
        for icf, icf_spec in icfs:
            if icf_spec.irb_days is not None:
                push(icf.irb_approval_date, 0, partial(self._approve_and_reconsent, push, icf))
        push(import_day, -1, partial(self._import, spec, study, bulk))
        while queue:
            _day, _priority, _seq, action = heapq.heappop(queue)
            action()

    def _approve_and_reconsent(self, push, icf) -> None:
        """Approve a consent form on its IRB/IEC date; each subject who must re-consent does so at their
        next visit (if that comes before today and before they leave the study)."""
        self._icf_approve(icf)
        for req in reconsent_list(self.cpm, ReconsentFilter(icf_id=icf.pk, status="open")):
            history = self.histories.get(req.subject_id)
            if history is None:
                continue
            day = icf.irb_approval_date + _days(history.reconsent_lag)
            end = history.end_on
            if day <= self.today and (end is None or day < end):
                push(day, 1, partial(self._reconsent, req.subject_id, icf, day))

    def _reconsent(self, subject_id: int, icf, day: dt.date) -> None:
        staff = self.staff[self._site_of[subject_id]]
        subject = subject_get(staff.user, subject_id)
        still_open = reconsent_list(self.cpm, ReconsentFilter(subject_id=subject_id, icf_id=icf.pk,
                                                              status="open")).exists()
        if subject.status not in ON_STUDY_STATUSES or not still_open:
            return
        history = self.histories[subject_id]
        event = consent_record(user=staff.user, subject=subject, icf_version=icf, consented_on=day,
                               method=history.consent_method, obtained_by=staff.consent_by)
        if id(history) in self._reconsented:
            self._reconsented[id(history)](event.subject)  # the subject's later steps go on from here
        self.summary.reconsents += 1

    def _subject_steps(self, push, site, history: H.History, arms: dict) -> None:
        """Schedule one subject's screening-log steps, each through its service on its own date. Each service
        returns the subject as it left it (version included), which the next step goes on from."""
        staff = self.staff[site.pk]
        state: dict = {}

        def create(status: str, on: dt.date) -> None:
            subject = subject_create(user=staff.user, site=site, status=status, on=on,
                                     reason="Entered in the site's screening log.")
            state["subject"] = subject
            self.histories[subject.pk] = history
            self._site_of[subject.pk] = site.pk
            self.summary.subjects += 1

        def consent(on: dt.date) -> None:
            event = consent_record(user=staff.user, subject=state["subject"], icf_version=current_icf_for_site(site),
                                   consented_on=on, method=history.consent_method, obtained_by=staff.consent_by)
            state["subject"] = event.subject
            self.summary.consents += 1

        def transition(status: str, on: dt.date) -> None:
            subject = state["subject"]
            extra: dict = {}
            reason = STATUS_REASONS.get(status, "")
            if status == "screen_failed":
                extra = {"screen_fail_reason_code": history.screen_fail_code,
                         "screen_fail_reason_text": history.screen_fail_text}
                reason = "Screen failure recorded."
            elif status == "withdrawn":
                extra = {"withdrawal_reason": history.withdrawal_reason,
                         "withdrawal_text": history.withdrawal_text}
                reason = f"Withdrawn: {WITHDRAWAL_REASONS[history.withdrawal_reason].lower()}."
            elif status == "enrolled":
                extra = {"eligibility_confirmed_by": staff.eligibility_by}
            state["subject"] = subject_transition(user=staff.user, subject=subject, status=status,
                                                  version=subject.version, reason=reason, on=on, **extra)

        def randomize(on: dt.date) -> None:
            subject = state["subject"]
            subject = subject_randomize(user=staff.user, subject=subject, arm=arms[history.arm],
                                        version=subject.version, randomized_on=on, stratum=history.stratum,
                                        irt_reference=history.irt_reference).subject
            state["subject"] = subject_first_dose_record(user=staff.user, subject=subject,
                                                         first_dose_on=history.on("first_dose_on"),
                                                         version=subject.version,
                                                         reason="First dose of study drug given.")

        def reconsented(subject) -> None:
            state["subject"] = subject

        self._reconsented[id(history)] = reconsented
        for n, (status, on) in enumerate(history.steps()):
            if n == 0:
                push(on, 1, partial(create, status, on))
            elif status == "consented":
                push(on, 1, partial(consent, on))
            elif status == "randomized":
                push(on, 1, partial(randomize, on))
            else:
                push(on, 1, partial(transition, status, on))

    def _import(self, spec: P.StudySpec, study, bulk: list) -> None:
        """The other sites send their screening logs: one CSV file per site, imported all or nothing."""
        for site, site_histories in bulk:
            staff = self.staff[site.pk]
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(COLUMN_NAMES)
            for h in site_histories:
                writer.writerow([self._cell(h, site, staff, name) for name in COLUMN_NAMES])
            name = f"{spec.protocol_number}_site-{site.site_number}_screening-log_{self.today.isoformat()}.csv"
            report = screening_log_import(user=self.cpm, study=study, content=buffer.getvalue().encode("utf-8"),
                                          filename=name)
            for subject, h in zip(report.created, site_histories, strict=True):
                self.histories[subject.pk] = h
                self._site_of[subject.pk] = site.pk
            self.summary.subjects += len(report.created)

    @staticmethod
    def _cell(h: H.History, site, staff: SiteStaff, name: str) -> str:
        if name == "site_number":
            return site.site_number
        if name == "status":
            return h.status
        if name.endswith("_on"):
            day = h.on(name)
            return day.isoformat() if day else ""
        if name == "eligibility_confirmed_by":
            return staff.username if h.on("enrolled_on") else ""
        if name == "irt_reference":
            return h.irt_reference if h.on("randomized_on") else ""
        values = {"subject_number": "", "arm": h.arm, "stratum": h.stratum,
                  "screen_fail_reason_code": h.screen_fail_code, "screen_fail_reason_text": h.screen_fail_text,
                  "withdrawal_reason": h.withdrawal_reason, "withdrawal_text": h.withdrawal_text}
        return values[name]

    # --- after the subjects ----------------------------------------------------------------------

    def _close_sites(self, spec: P.StudySpec, sites: list, results: dict[int, H.SiteResult]) -> None:
        """The rest of each site's path: enrolling once it has enrolled someone, then closed as the story says
        (or because it reached its target)."""
        cpm = self.cpm
        for site_spec, site in sites:
            path = list(self.loader.site_paths.get((spec.protocol_number, site_spec.institution), []))
            result = results.get(site.pk)
            enrolled = sum(1 for h in result.histories if h.on("enrolled_on")) if result else 0
            reasons = dict(path)
            steps = [status for status, _ in path]
            if not enrolled:
                steps = [s for s in steps if s != "enrolling"]
            closing = {"closed_to_enrollment", "closed_out"}
            if result and result.closed_on and spec.status in OPEN_STUDY_STATUSES and not closing & set(steps):
                steps = [*steps, "closed_to_enrollment"]
                reasons["closed_to_enrollment"] = "Site enrollment target reached."
            for status in steps:
                site.refresh_from_db()
                site_transition(user=cpm, site=site, status=status, version=site.version,
                                reason=reasons.get(status) or self.loader.site_reason(status))

    def _study_actual_dates(self, spec: P.StudySpec, study, results: dict[int, H.SiteResult]) -> None:
        enrolled = [h for r in results.values() for h in r.histories if h.on("enrolled_on")]
        study.refresh_from_db()
        sites = list(study.sites.all())
        actual: dict[str, dt.date] = {}
        activated = [s.actual_activated for s in sites if s.actual_activated]
        if activated:
            actual["actual_first_site_activated"] = min(activated)
        if enrolled:
            actual["actual_first_subject_in"] = min(h.on("enrolled_on") for h in enrolled)
        late = self.loader.late_milestones(spec.status)
        planned = self.loader.planned[spec.protocol_number]
        previous = None
        rng = random.Random(f"{P.SEED}:{spec.protocol_number}:close-out")
        for key in late:
            if key == "last_subject_in":
                value = max(h.on("enrolled_on") for h in enrolled)
            elif key == "last_subject_last_visit":
                value = max(h.end_on or h.first_contact for h in enrolled)
            else:
                value = max(planned[key] + _days(rng.randint(-3, spec.slip_days)), previous + _days(30))
            actual[f"actual_{key}"] = previous = min(value, self.today - _days(1))
        study_update(user=self.cpm, study=study, data=actual, version=study.version,
                     reason="Actual milestone dates recorded from site activation and the screening logs.")

    # --- visits, for every study at once -------------------------------------------------------

    def visits_record(self) -> None:
        """Record every visit done by today (most in their window, a few outside it), leave the rest
        planned, then flag the visits whose window has passed as missed (the system job)."""
        # A visit may be done early in its window, before a planned date that is still ahead.
        horizon = self.today + _days(max((v.before for s in self.schedules.values() for v in s), default=0))
        visits = subject_visit_list(self.cpm, VisitFilter(status="planned", date_to=horizon))
        finals = {pn: H.last_visit(schedule).code for pn, schedule in self.schedules.items()}
        for visit in visits.select_related("definition", "subject", "study"):
            history = self.histories.get(visit.subject_id)
            if history is None:
                continue
            d = visit.definition
            vspec = P.VisitSpec(d.code, d.name, d.anchor, d.target_day, d.window_before, d.window_after, d.modality,
                                d.required)
            offset = H.visit_offset(history.seed, vspec, final=d.code == finals.get(visit.study.protocol_number))
            if offset is None:
                continue
            actual = visit.planned_on + _days(offset)
            end = history.end_on
            if actual > self.today or actual < history.on("consented_on") or (end is not None and actual > end):
                continue
            staff = self.staff[visit.site_id]
            subject_visit_record(user=staff.user, visit=visit, actual_on=actual,
                                 modality=H.visit_modality(history.seed, vspec), version=visit.version,
                                 reason=VISIT_REASON)
            self.summary.visits_recorded += 1
        flagged = subject_visits_flag_missed(today=self.today)
        self.summary.visits_missed = sum(flagged.values())
