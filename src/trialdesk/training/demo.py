"""Demo training records, made through the training services (validated and audited like any other).

Two entry points, both given the demo loader (`trialdesk.demo.services._Loader`):

* `demo_training(loader).certify(study=..., site=..., people=[...], day=...)` — protocol training on the study's
  current approved version for people about to be delegated (the staff demo calls it before the principal
  investigator signs their delegations: signing needs completed protocol training).
* `demo_training(loader).populate()` — after the roster and delegation log exist: a mix of states so the
  training matrix and "My work" show done / due / overdue / expired, and an open in-service training the demo's
  investigator and coordinator still have to acknowledge and pass.

Attendees acknowledge with their own e-signature. People without a login get one (`<first>.<last>.training`, a
random password nobody is told: the acknowledgement is signed in-process); demo users sign with their printed
password. Each signature costs a password hash, so the demo trains a handful of people per site, not everyone.
"""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata

from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.accounts.services import membership_grant, user_create
from trialdesk.training import services
from trialdesk.training.models import PROTOCOL_KINDS, Attendance, Certificate, Training, TrainingTemplate
from trialdesk.training.selectors import current_protocol_version

PROTOCOL_TEMPLATE = "Study nurse protocol training"
INSERVICE_TEMPLATE = "Study nurse training and inservice"
# The study whose training the demo fills in: enrolling, with the coordinator's and investigator's sites.
MATRIX_STUDY = "NVT-1150-301"

QUIZ = [
    ("Who may obtain informed consent at a site?",
     ["Any member of the site team", "Staff the PI has delegated the task to on the delegation log",
      "The monitor"], [1]),
    ("Within what time must a serious adverse event be reported to the sponsor?",
     ["Within 24 hours of awareness", "Within 7 days", "At the next monitoring visit"], [0]),
    ("Which are source documents?", ["The hospital chart", "The CRF completion guidelines",
                                     "Signed consent forms"], [0, 2]),
    ("A subject misses the Week 4 visit window. What do you do?",
     ["Nothing", "Record the visit as missed / a deviation and follow the protocol's guidance",
      "Back-date the visit"], [1]),
]


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum()).lower()


def demo_training(loader) -> DemoTraining:
    """The loader's one DemoTraining (trainings, logins and passwords are shared between calls)."""
    demo = getattr(loader, "_demo_training", None)
    if demo is None:
        demo = loader._demo_training = DemoTraining(loader)
    return demo


class DemoTraining:
    def __init__(self, loader):
        self.loader = loader
        self.today: dt.date = loader.today
        self.cpm = loader.users["cpm"]
        self.passwords: dict[int, str] = {}     # user pk -> the password to sign with in-process
        self.certificates = 0

    # --- building blocks --------------------------------------------------------------------------------

    def _moment(self, day: dt.date, hour: int = 9):
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)), dt.UTC)

    def login(self, person, study, site=None):
        """(user, password) the person signs with; a login is made when they have none."""
        user = getattr(person, "user", None)
        if user is None:
            base = f"{_ascii(person.first_name)}.{_ascii(person.last_name)}.training"
            username = base
            n = 1
            while username in self.loader.usernames:
                n += 1
                username = f"{base}{n}"
            password = secrets.token_urlsafe(18)
            user = user_create(actor=self.loader.admin, username=username, email=person.email,
                               first_name=person.first_name, last_name=person.last_name, person=person,
                               password=password, validate=False)
            self.loader.usernames.add(username)
            self.passwords[user.pk] = password
        elif user.pk not in self.passwords:
            printed = self.loader.logins.get(user.username)
            if printed is not None:
                self.passwords[user.pk] = printed.password
            else:
                # A demo login made without a password (e.g. a PI invited later): give it one nobody is told.
                password = secrets.token_urlsafe(18)
                user.set_password(password)
                user.save(update_fields=["password"])
                self.passwords[user.pk] = password
        if not permissions.has_perm(user, "training.attend", study):
            membership_grant(actor=self.cpm, user=user, role="site_coordinator", study=study,
                             sites=[site] if site is not None else (),
                             reason="Site staff: acknowledges their own training and keeps site records.")
            permissions.forget(user)
        return user, self.passwords[user.pk]

    def _training(self, study, *, title: str, kind: str, template: str, pv=None, validity_months=None,
                  quiz: bool = False, pass_mark: int = 75, objectives: str = "") -> Training:
        existing = Training.objects.filter(study=study, title=title).first()
        if existing is not None:
            return existing
        tpl = TrainingTemplate.objects.get(builtin=True, name=template)
        t = services.training_create(user=self.cpm, study=study, template=tpl, data={
            "title": title, "kind": kind, "protocol_version": pv, "validity_months": validity_months,
            "quiz_required": quiz, "pass_mark": pass_mark, "objectives": objectives})
        for index in range(len(t.checklist)):
            t = services.training_checklist_tick(user=self.cpm, training=t, index=index, done=True, version=t.version)
        if quiz:
            for text, options, correct in QUIZ:
                services.quiz_question_create(user=self.cpm, training=t, data={"text": text, "options": options,
                                                                               "correct": correct})
            t.refresh_from_db()
        return services.training_transition(user=self.cpm, training=t, status="open", version=t.version,
                                            reason="Preparation complete; sessions scheduled.")

    def _session(self, training: Training, *, day: dt.date, sites, mode: str = "in_person", hours: int = 3):
        return services.training_session_create(user=self.cpm, training=training, sites=list(sites), data={
            "mode": mode, "trainer": self.cpm.person, "starts_at": self._moment(day),
            "duration_minutes": hours * 60, "location": "Site initiation visit" if mode == "in_person" else
            "Video conference", "materials": "Protocol, informed consent forms, pharmacy and laboratory manuals, "
                                             "training slides"})

    def _attend(self, session, people, *, acknowledge=(), quiz_pass=(), absent=()):
        """Invite `people`; record attendance; the ones in `acknowledge` sign; the trainer enters passed paper
        quizzes for `quiz_pass`."""
        training = session.training
        rows = {a.person_id: a for a in services.attendance_invite(user=self.cpm, session=session, people=people)}
        for person in people:
            att = rows.get(person.pk) or Attendance.objects.get(session=session, person=person)
            status = "absent" if person in absent else "attended"
            att = services.attendance_record(user=self.cpm, attendance=att, status=status, version=att.version)
            if person in quiz_pass and training.questions.exists():
                services.quiz_attempt_submit(user=self.cpm, training=training, person=person,
                                             answers={q.pk: list(q.correct) for q in training.questions.all()})
            if person in acknowledge and status == "attended":
                site = next(iter(session.sites.all()), None)
                user, password = self.login(person, training.study, site)
                services.attendance_acknowledge(user=user, attendance=att, password=password,
                                                comment="Attended the session.")

    # --- for the staff demo ----------------------------------------------------------------------------

    def certify(self, *, study, site, people, day: dt.date) -> list[Certificate]:
        """Protocol training on the current approved version for `people` at `site`, session on `day`."""
        pv = current_protocol_version(study)
        label = f"version {pv.version_number}" if pv else study.protocol_number
        training = self._training(study, title=f"{study.acronym or study.protocol_number} protocol training, {label}",
                                  kind="protocol", template=PROTOCOL_TEMPLATE, pv=pv,
                                  objectives="Staff can run the protocol's procedures before they are delegated.")
        todo = [p for p in people if not Certificate.objects.filter(
            training__study=study, person=p, training_kind__in=PROTOCOL_KINDS, revoked_at__isnull=True,
            protocol_version=pv).exists()]
        if not todo:
            return []
        session = self._session(training, day=min(day, self.today - dt.timedelta(days=1)), sites=[site])
        self._attend(session, todo, acknowledge=todo)
        certs = list(Certificate.objects.filter(training=training, person__in=todo))
        self.certificates += len(certs)
        return certs

    # --- the mix the matrix shows ----------------------------------------------------------------------

    def populate(self) -> None:
        from trialdesk.staff.selectors import active_roster

        study = self.loader.studies.get(MATRIX_STUDY)
        if study is None:
            return
        roster = sorted(active_roster(study), key=lambda e: (e.site.site_number, e.role != "principal_investigator",
                                                             e.person.last_name))
        if not roster:
            return
        pv = current_protocol_version(study)
        today = self.today
        users = self.loader.users
        investigator = users.get("investigator")
        coordinator = users.get("coordinator")
        pis = [e for e in roster if e.role == "principal_investigator"]
        # 1. Protocol training done by the investigator and two more sites' PIs (sessions before activation).
        chosen = [e for e in pis if investigator is not None and e.person_id == investigator.person_id]
        chosen += [e for e in pis if e not in chosen][:2]
        for entry in chosen:
            activated = entry.site.actual_activated or today
            self.certify(study=study, site=entry.site, people=[entry.person], day=activated - dt.timedelta(days=10))
        # 2. Everyone delegated but not trained on the current version: retraining due 30 days after the
        #    version's approval (dated 60 days back at most in the demo), overdue by now.
        if pv is not None:
            services.retraining_requirements_create(user=self.cpm, protocol_version=pv,
                                                    approved_on=max(pv.version_date, today - dt.timedelta(days=60)))
        # 3. A safety-reporting refresher valid 12 months: expired for one PI (its refresher now overdue), about
        #    to expire for the coordinator (renewal due).
        refresher = self._training(study, title="Safety reporting refresher", kind="refresher",
                                   template=INSERVICE_TEMPLATE, validity_months=12, quiz=True, pass_mark=75,
                                   objectives="Recognise, grade and report adverse events on time.")
        others = [e for e in chosen if investigator is None or e.person_id != investigator.person_id]
        if others:
            session = self._session(refresher, day=today - dt.timedelta(days=400), sites=[others[0].site],
                                    mode="virtual", hours=1)
            self._attend(session, [others[0].person], acknowledge=[others[0].person], quiz_pass=[others[0].person])
        mine = [e for e in roster if coordinator is not None and e.person_id == coordinator.person_id]
        if mine:
            session = self._session(refresher, day=today - dt.timedelta(days=320), sites=[mine[0].site],
                                    mode="virtual", hours=1)
            self._attend(session, [mine[0].person], acknowledge=[mine[0].person], quiz_pass=[mine[0].person])
        # 4. An open in-service on the upcoming home-dosing module: the demo's investigator and coordinator
        #    attended and still have to acknowledge and pass its quiz ("My work" shows both).
        inservice = self._training(study, title="Home-dosing module inservice", kind="inservice",
                                   template=INSERVICE_TEMPLATE, quiz=True, pass_mark=75,
                                   objectives="Hands-on: home-dosing kits, the diary app and telephone visits.")
        attendees = [e for e in roster if e.person_id in {u.person_id for u in (investigator, coordinator) if u}]
        if attendees:
            session = self._session(inservice, day=today - dt.timedelta(days=3), mode="virtual", hours=2,
                                    sites=list({e.site_id: e.site for e in attendees}.values()))
            self._attend(session, list({e.person_id: e.person for e in attendees}.values()))
        # 5. Untrained PIs: one new to the study (training due in two weeks), one who missed the session (overdue).
        untrained = [e for e in pis if e not in chosen and not e.person.training_requirements.filter(
            study=study, status="open").exists()]
        for n, entry in enumerate(untrained[:2]):
            due = today + dt.timedelta(days=14) if n == 0 else today - dt.timedelta(days=9)
            services.training_requirement_create(
                user=self.cpm, study=study, person=entry.person, site=entry.site, kind="protocol",
                protocol_version=pv, due_date=due,
                reason="Took over as principal investigator: protocol training before signing the delegation log."
                if n == 0 else "Missed the site's protocol training session; make-up session needed.")
