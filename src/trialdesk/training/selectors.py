"""Reads for training. Lists are limited to what the user may see; `protocol_training_gap` is a rule read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound
from trialdesk.studies.models import ProtocolVersion
from trialdesk.training import certnum
from trialdesk.training import matrix as M
from trialdesk.training.models import (
    PROTOCOL_KINDS,
    REQUIREMENT_KINDS,
    Attendance,
    Certificate,
    QuizAttempt,
    QuizQuestion,
    Training,
    TrainingRequirement,
    TrainingSession,
    TrainingTemplate,
)

# --- Rules other areas read -----------------------------------------------------------------------


def current_protocol_version(study) -> ProtocolVersion | None:
    """The study's approved protocol version (the latest approved one, should there be several)."""
    return (ProtocolVersion.objects.filter(study_id=study.pk, status="approved")
            .order_by("-approved_at", "-version_date", "-id").first())


def _valid_on(on: dt.date) -> Q:
    return Q(revoked_at__isnull=True) & (Q(valid_until__isnull=True) | Q(valid_until__gte=on))


def protocol_training_gap(person, study, on: dt.date | None = None) -> str | None:
    """None when `person` holds a certificate, valid on `on`, for protocol training (or retraining) on the
    study's current approved protocol version; otherwise a message naming exactly what is missing.

    A study without an approved protocol version: any valid protocol-training certificate of the study counts.
    The certificate's date is not compared with `on` (a delegation may be recorded after the fact); its expiry is.
    """
    on = on or timezone.localdate()
    pv = current_protocol_version(study)
    label = f"Protocol training for {study.protocol_number}"
    if pv is not None:
        label += f" protocol version {pv.version_number}"
    if person is None:
        return f"{label} is not complete: no person is recorded."
    certs = Certificate.objects.filter(person_id=person.pk, study_id=study.pk, training_kind__in=PROTOCOL_KINDS)
    if pv is not None:
        certs = certs.filter(protocol_version_id=pv.pk)
    if certs.filter(_valid_on(on)).exists():
        return None
    expired = certs.filter(revoked_at__isnull=True, valid_until__lt=on).order_by("-valid_until").first()
    if expired is not None:
        return f"{label} expired on {expired.valid_until.isoformat()} (certificate {expired.number})."
    if pv is not None:
        older = (Certificate.objects.filter(person_id=person.pk, study_id=study.pk, training_kind__in=PROTOCOL_KINDS,
                                            revoked_at__isnull=True)
                 .exclude(protocol_version_id=pv.pk).exclude(protocol_version_label="")
                 .order_by("-training_date").first())
        if older is not None:
            return (f"{label} is not complete (last completed: protocol version "
                    f"{older.protocol_version_label}).")
    return f"{label} is not complete."


# --- User-facing reads ------------------------------------------------------------------------------------------

def _visible_study_ids(user, perm: str = "training.view"):
    return permissions.visible_studies(user, perm).values("pk")


def template_list(user, *, study=None) -> QuerySet[TrainingTemplate]:
    """Shared templates (built-ins first) and, for a study, its own; without a study, those of visible studies."""
    qs = TrainingTemplate.objects.select_related("study")
    if study is not None:
        if not permissions.has_perm(user, "training.view", study):
            return qs.none()
        return qs.filter(Q(study__isnull=True) | Q(study=study))
    return qs.filter(Q(study__isnull=True) | Q(study__in=_visible_study_ids(user)))


def template_get(user, template_id: int) -> TrainingTemplate:
    template = TrainingTemplate.objects.select_related("study").filter(pk=template_id).first()
    if template is None or (template.study_id is not None and (
            template.study.is_deleted or not permissions.has_perm(user, "training.view", template.study))) \
            or (template.study_id is None and not permissions.has_perm(user, "training.view")):
        raise NotFound("Training template not found.")
    return template


@dataclass
class TrainingFilter:
    study_id: int | None = None
    kind: str | None = None
    status: str | None = None
    protocol_version_id: int | None = None


def training_list(user, flt: TrainingFilter | None = None) -> QuerySet[Training]:
    flt = flt or TrainingFilter()
    qs = (Training.objects.filter(study__in=_visible_study_ids(user))
          .select_related("study", "protocol_version", "template")
          .annotate(session_count=Count("sessions", filter=Q(sessions__is_deleted=False), distinct=True),
                    certificate_count=Count("certificates", filter=Q(certificates__revoked_at__isnull=True),
                                            distinct=True)))
    if flt.study_id is not None:
        qs = qs.filter(study_id=flt.study_id)
    if flt.kind:
        qs = qs.filter(kind=flt.kind)
    if flt.status:
        qs = qs.filter(status=flt.status)
    if flt.protocol_version_id is not None:
        qs = qs.filter(protocol_version_id=flt.protocol_version_id)
    return qs.order_by("study_id", "-created_at", "-id")


def training_get(user, training_id: int) -> Training:
    training = Training.objects.select_related("study", "protocol_version", "template").filter(pk=training_id).first()
    if training is None or training.study.is_deleted or not permissions.has_perm(user, "training.view", training):
        raise NotFound("Training not found.")
    return training


def session_get(user, session_id: int) -> TrainingSession:
    session = (TrainingSession.objects.select_related("training__study", "training__protocol_version", "trainer")
               .filter(pk=session_id, training__is_deleted=False).first())
    if session is None or session.training.study.is_deleted or \
            not permissions.has_perm(user, "training.view", session.training):
        raise NotFound("Training session not found.")
    return session


def sessions_of(training: Training) -> QuerySet[TrainingSession]:
    return (training.sessions.select_related("trainer").prefetch_related("sites")
            .order_by("starts_at", "id"))


def attendance_get(user, attendance_id: int) -> Attendance:
    attendance = (Attendance.objects.select_related("person", "session__training__study", "acknowledgement",
                                                    "session__training__protocol_version", "session__trainer")
                  .filter(pk=attendance_id, session__is_deleted=False, session__training__is_deleted=False).first())
    if attendance is None or attendance.session.training.study.is_deleted or \
            not permissions.has_perm(user, "training.view", attendance.session.training):
        raise NotFound("Attendance record not found.")
    return attendance


def attendance_of(session: TrainingSession) -> QuerySet[Attendance]:
    return session.attendance.select_related("person", "acknowledgement").order_by("person__last_name",
                                                                                   "person__first_name", "id")


def question_get(user, question_id: int) -> QuizQuestion:
    question = (QuizQuestion.objects.select_related("training__study")
                .filter(pk=question_id, training__is_deleted=False).first())
    if question is None or question.training.study.is_deleted or \
            not permissions.has_perm(user, "training.view", question.training):
        raise NotFound("Quiz question not found.")
    return question


def questions_of(training: Training) -> QuerySet[QuizQuestion]:
    return training.questions.order_by("order", "id")


def attempts_of(user, training: Training, person_id: int | None = None) -> QuerySet[QuizAttempt]:
    """Quiz attempts: all of them for whoever may see the training's records, else only one's own."""
    qs = QuizAttempt.objects.filter(training=training).select_related("person", "entered_by")
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    return qs.order_by("person__last_name", "person__first_name", "attempt_no")


# --- Certificates -------------------------------------------------------------------------------------------------

@dataclass
class CertificateFilter:
    study_id: int | None = None
    person_id: int | None = None
    training_id: int | None = None
    include_revoked: bool = True


def certificate_list(user, flt: CertificateFilter | None = None) -> QuerySet[Certificate]:
    """Certificates of studies the user may see, plus the user's own wherever they were issued."""
    flt = flt or CertificateFilter()
    own = Q(person_id=user.person_id) if getattr(user, "person_id", None) else Q(pk__in=[])
    qs = Certificate.objects.filter(Q(study__in=_visible_study_ids(user)) | own).filter(study__is_deleted=False) \
        .select_related("training", "person", "study")
    if flt.study_id is not None:
        qs = qs.filter(study_id=flt.study_id)
    if flt.person_id is not None:
        qs = qs.filter(person_id=flt.person_id)
    if flt.training_id is not None:
        qs = qs.filter(training_id=flt.training_id)
    if not flt.include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs.order_by("-issued_at", "-id")


def certificate_get(user, certificate_id: int) -> Certificate:
    cert = Certificate.objects.select_related("training", "person", "study", "session").filter(
        pk=certificate_id).first()
    if cert is None or cert.study.is_deleted:
        raise NotFound("Certificate not found.")
    own = getattr(user, "person_id", None) and cert.person_id == user.person_id
    if not own and not permissions.has_perm(user, "training.view", cert):
        raise NotFound("Certificate not found.")
    return cert


def my_certificates(user) -> QuerySet[Certificate]:
    if not getattr(user, "person_id", None):
        return Certificate.objects.none()
    return (Certificate.objects.filter(person_id=user.person_id, study__is_deleted=False)
            .select_related("training", "study").order_by("-issued_at", "-id"))


def certificate_state(cert: Certificate, today: dt.date | None = None) -> str:
    """valid / expired / revoked."""
    today = today or timezone.localdate()
    if cert.revoked_at is not None:
        return "revoked"
    if cert.valid_until is not None and cert.valid_until < today:
        return "expired"
    return "valid"


@dataclass
class Verification:
    typed: str
    number: str | None            # the canonical number, when well-formed
    status: str                   # valid | expired | revoked | not_found | malformed
    certificate: Certificate | None = None
    intact: bool = False          # the stored facts still match the hash taken at issue

    @property
    def message(self) -> str:
        c = self.certificate
        if self.status == "malformed":
            return ("This is not a valid certificate number: check it again (the last two digits are check "
                    "digits that catch typing mistakes).")
        if self.status == "not_found":
            return f"No certificate with the number {self.number} was issued by this Trialdesk."
        if not self.intact:
            return f"Certificate {c.number} exists, but its stored facts do not match their record at issue."
        if self.status == "revoked":
            return f"Certificate {c.number} was revoked on {c.revoked_at:%Y-%m-%d}."
        if self.status == "expired":
            return f"Certificate {c.number} was genuine but expired on {c.valid_until.isoformat()}."
        return f"Certificate {c.number} is genuine and valid."


def certificate_verify(number: str, today: dt.date | None = None) -> Verification:
    """Check a certificate number: its check digits, whether it was issued here, and whether it is still valid.

    Not user-scoped: whoever holds a certificate may have its number checked by any signed-in user; the result
    shows only what the certificate itself shows.
    """
    from trialdesk.training.services import certificate_content_hash

    typed = (number or "").strip()[:64]
    canonical = certnum.normalize(typed)
    if canonical is None:
        return Verification(typed=typed, number=None, status="malformed")
    cert = Certificate.objects.filter(number=canonical, study__is_deleted=False).first()
    if cert is None:
        return Verification(typed=typed, number=canonical, status="not_found")
    return Verification(typed=typed, number=canonical, status=certificate_state(cert, today), certificate=cert,
                        intact=certificate_content_hash(cert) == cert.content_hash)


# --- Requirements ----------------------------------------------------------------------------------------------------

def _visible_requirements(user) -> QuerySet[TrainingRequirement]:
    """Study-wide requirements for whoever sees the study's training; site ones by site scope."""
    qs = TrainingRequirement.objects.filter(study__in=_visible_study_ids(user), study__is_deleted=False)
    flt = permissions.site_filter(user, "training.view", prefix="site__")
    if flt is None:
        return qs
    return qs.filter(Q(site__isnull=True) | flt)


@dataclass
class RequirementFilter:
    study_id: int | None = None
    site_id: int | None = None
    person_id: int | None = None
    status: str | None = None
    kind: str | None = None


def requirement_list(user, flt: RequirementFilter | None = None) -> QuerySet[TrainingRequirement]:
    flt = flt or RequirementFilter()
    qs = _visible_requirements(user).select_related("person", "study", "site", "training", "protocol_version",
                                                    "fulfilled_by")
    if getattr(user, "person_id", None):
        qs = qs | TrainingRequirement.objects.filter(person_id=user.person_id, study__is_deleted=False) \
            .select_related("person", "study", "site", "training", "protocol_version", "fulfilled_by")
    if flt.study_id is not None:
        qs = qs.filter(study_id=flt.study_id)
    if flt.site_id is not None:
        qs = qs.filter(site_id=flt.site_id)
    if flt.person_id is not None:
        qs = qs.filter(person_id=flt.person_id)
    if flt.status:
        qs = qs.filter(status=flt.status)
    if flt.kind:
        qs = qs.filter(kind=flt.kind)
    return qs.distinct().order_by("study_id", "due_date", "person__last_name", "id")


def requirement_get(user, requirement_id: int) -> TrainingRequirement:
    req = requirement_list(user).filter(pk=requirement_id).first()
    if req is None:
        raise NotFound("Training requirement not found.")
    return req


# --- Progress per attendee, and one's own training -------------------------------------------------------------

@dataclass
class Progress:
    person: object
    attendance: list            # the person's attendance rows in this training's sessions
    attempts: list
    certificate: Certificate | None

    @property
    def attended(self) -> bool:
        return any(a.status == "attended" for a in self.attendance)

    @property
    def acknowledged(self) -> bool:
        return any(a.acknowledgement_id for a in self.attendance)

    @property
    def best_attempt(self):
        return max(self.attempts, key=lambda a: (a.passed, a.score_percent), default=None)

    @property
    def passed(self) -> bool:
        return any(a.passed for a in self.attempts)


def training_progress(training: Training, person_id: int | None = None) -> list[Progress]:
    """Where each person on the training's attendance lists stands: attended, acknowledged, quiz, certificate."""
    att = (Attendance.objects.filter(session__training=training, session__is_deleted=False)
           .select_related("person", "session", "acknowledgement").order_by("session__starts_at", "id"))
    attempts = QuizAttempt.objects.filter(training=training).order_by("attempt_no")
    certs = Certificate.objects.filter(training=training, revoked_at__isnull=True).order_by("issued_at")
    if person_id is not None:
        att, attempts, certs = (att.filter(person_id=person_id), attempts.filter(person_id=person_id),
                                certs.filter(person_id=person_id))
    rows: dict[int, Progress] = {}
    for a in att:
        rows.setdefault(a.person_id, Progress(person=a.person, attendance=[], attempts=[], certificate=None)
                        ).attendance.append(a)
    for attempt in attempts:
        if attempt.person_id in rows:
            rows[attempt.person_id].attempts.append(attempt)
    for cert in certs:
        if cert.person_id in rows:
            rows[cert.person_id].certificate = cert   # the latest, by ordering
    return sorted(rows.values(), key=lambda p: (p.person.last_name, p.person.first_name, p.person.pk))


@dataclass
class MyTraining:
    training: Training
    attendance: list
    progress: Progress
    can_acknowledge: list         # attendance rows the person can acknowledge now
    quiz_open: bool               # the person may take (or retake) the quiz now


def my_trainings(user) -> list[MyTraining]:
    """The trainings whose attendance lists name the user's person, with what they can do next."""
    if not getattr(user, "person_id", None):
        return []
    trainings = (Training.objects.filter(sessions__attendance__person_id=user.person_id,
                                         sessions__attendance__is_deleted=False, sessions__is_deleted=False,
                                         study__is_deleted=False)
                 .select_related("study", "protocol_version").distinct().order_by("-created_at", "-id"))
    out = []
    for training in trainings:
        progress = training_progress(training, user.person_id)
        if not progress:
            continue
        p = progress[0]
        can_ack = [a for a in p.attendance if training.status == "open" and a.status == "attended"
                   and not a.acknowledgement_id]
        quiz_open = (training.status == "open" and training.questions.exists() and not p.passed
                     and any(a.status != "absent" for a in p.attendance))
        out.append(MyTraining(training=training, attendance=p.attendance, progress=p, can_acknowledge=can_ack,
                              quiz_open=quiz_open))
    return out


# --- Training matrix ------------------------------------------------------------------------------------------

@dataclass
class MatrixColumn:
    key: str
    label: str


@dataclass
class MatrixRow:
    person: object
    roster: list                  # the person's roster entries (site, role) in scope
    cells: list                   # one matrix.Cell per column

    @property
    def sites(self) -> str:
        return ", ".join(sorted({e.site.site_number for e in self.roster}))

    @property
    def roles(self) -> str:
        return ", ".join(dict.fromkeys(e.role_label for e in self.roster))


@dataclass
class TrainingMatrix:
    study: object
    site: object | None
    today: dt.date
    protocol_version: ProtocolVersion | None
    columns: list = field(default_factory=list)
    rows: list = field(default_factory=list)

    def counts(self) -> list[dict[str, int]]:
        return [M.tally([row.cells[i] for row in self.rows]) for i in range(len(self.columns))]

    @property
    def totals(self) -> dict[str, int]:
        return M.tally([cell for row in self.rows for cell in row.cells])


def _completion(certs: list[Certificate], today: dt.date) -> tuple[Certificate | None, Certificate | None]:
    """(latest valid certificate, latest lapsed one) from a person's certificates for one column."""
    valid = [c for c in certs if c.valid_until is None or c.valid_until >= today]
    lapsed = [c for c in certs if c.valid_until is not None and c.valid_until < today]
    best = max(valid, key=lambda c: (c.valid_until or dt.date.max, c.training_date), default=None)
    last_lapsed = max(lapsed, key=lambda c: c.valid_until, default=None)
    return best, last_lapsed


def _cell(certs: list[Certificate], open_due: list[dt.date], *, required: bool, today: dt.date) -> M.Cell:
    best, lapsed = _completion(certs, today)
    return M.completion_cell(completed_on=best.training_date if best else None,
                             valid_until=best.valid_until if best else None,
                             due_date=min(open_due) if open_due else None, required=required, today=today,
                             expired_before=lapsed.valid_until if lapsed and not best else None)


def training_matrix(user, study, site=None, *, today: dt.date | None = None) -> TrainingMatrix:
    """Person x required training for the study (or one site): active roster people in the user's scope;
    columns: protocol training on the current approved version, GCP (from the roster), then one column per
    other training (or kind) that someone is required to complete."""
    from trialdesk.staff.selectors import active_roster

    today = today or timezone.localdate()
    if not permissions.has_perm(user, "training.view", site if site is not None else study):
        raise NotFound("Study not found." if site is None else "Site not found.")
    pv = current_protocol_version(study)
    roster = active_roster(study, site, on=today)
    flt = permissions.site_filter(user, "training.view", prefix="site__")
    if flt is not None:
        roster = roster.filter(flt)
    people: dict[int, list] = {}
    persons: dict[int, object] = {}
    for entry in roster:
        people.setdefault(entry.person_id, []).append(entry)
        persons[entry.person_id] = entry.person
    certs: dict[int, list[Certificate]] = {}
    for cert in Certificate.objects.filter(study=study, person_id__in=people, revoked_at__isnull=True):
        certs.setdefault(cert.person_id, []).append(cert)
    reqs: dict[int, list[TrainingRequirement]] = {}
    extra: dict[str, str] = {}
    for req in (TrainingRequirement.objects.filter(study=study, person_id__in=people)
                .select_related("training").order_by("due_date", "id")):
        reqs.setdefault(req.person_id, []).append(req)
        if req.kind in ("refresher", "other"):
            if req.training_id:
                label = req.training.title + (" (refresher)" if req.kind == "refresher" else "")
                extra.setdefault(f"training:{req.training_id}", label)
            else:
                extra.setdefault(f"kind:{req.kind}", REQUIREMENT_KINDS[req.kind])
    protocol_label = f"Protocol training, version {pv.version_number}" if pv else "Protocol training"
    matrix = TrainingMatrix(study=study, site=site, today=today, protocol_version=pv,
                            columns=[MatrixColumn("protocol", protocol_label), MatrixColumn("gcp", "GCP certificate")]
                            + [MatrixColumn(k, v) for k, v in sorted(extra.items(), key=lambda kv: kv[1])])
    for pid, entries in people.items():
        mine = certs.get(pid, [])
        my_reqs = reqs.get(pid, [])
        protocol_certs = [c for c in mine if c.training_kind in PROTOCOL_KINDS
                          and (pv is None or c.protocol_version_id == pv.pk)]
        protocol_due = [r.due_date for r in my_reqs if r.status == "open" and r.kind in ("protocol", "retraining")
                        and (pv is None or r.protocol_version_id in (None, pv.pk))]
        cells = [_cell(protocol_certs, protocol_due, required=True, today=today)]
        gcp = max(entries, key=lambda e: (e.gcp_expiry or dt.date.min, e.gcp_certificate_date or dt.date.min))
        cells.append(M.gcp_cell(certificate_date=gcp.gcp_certificate_date, expiry=gcp.gcp_expiry, today=today))
        for column in matrix.columns[2:]:
            kind_key, _, ident = column.key.partition(":")
            if kind_key == "training":
                col_reqs = [r for r in my_reqs if r.training_id == int(ident) and r.kind in ("refresher", "other")]
                col_certs = [c for c in mine if c.training_id == int(ident)]
            else:
                col_reqs = [r for r in my_reqs if r.training_id is None and r.kind == ident]
                col_certs = [c for c in mine if c.training_kind == ident]
            open_due = [r.due_date for r in col_reqs if r.status == "open"]
            if col_reqs and not open_due and all(r.status == "waived" for r in col_reqs):
                cells.append(M.Cell("waived"))
                continue
            cells.append(_cell(col_certs, open_due, required=bool(open_due), today=today))
        matrix.rows.append(MatrixRow(person=persons[pid], roster=entries, cells=cells))
    matrix.rows.sort(key=lambda r: (r.person.last_name, r.person.first_name, r.person.pk))
    return matrix
