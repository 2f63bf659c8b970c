"""API input/output schemas for protocol training."""

import datetime as dt
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import StringConstraints

from trialdesk.core.api_utils import NO_NUL, Id, PageQuery, Reason, RecordVersion, line
from trialdesk.core.api_utils import text as long_text
from trialdesk.training.models import (
    ATTENDANCE_STATUSES,
    REQUIREMENT_KINDS,
    REQUIREMENT_STATUSES,
    SESSION_MODES,
    TRAINING_KINDS,
    TRAINING_STATUSES,
)

TrainingKind = Literal[tuple(TRAINING_KINDS)]  # type: ignore[valid-type]
TrainingStatus = Literal[tuple(TRAINING_STATUSES)]  # type: ignore[valid-type]
SessionMode = Literal[tuple(SESSION_MODES)]  # type: ignore[valid-type]
AttendanceStatus = Literal[tuple(ATTENDANCE_STATUSES)]  # type: ignore[valid-type]
RequirementKind = Literal[tuple(REQUIREMENT_KINDS)]  # type: ignore[valid-type]
RequirementStatus = Literal[tuple(REQUIREMENT_STATUSES)]  # type: ignore[valid-type]
Item = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=NO_NUL)]
OptionIndex = Annotated[int, Field(ge=0, le=99)]
Password = Annotated[str, StringConstraints(max_length=256, pattern=NO_NUL)]


class Ref(Schema):
    id: int


class TrainingStudyRef(Schema):
    id: int
    protocol_number: str


class PersonRef(Schema):
    id: int
    full_name: str


class PvRef(Schema):
    id: int
    version_number: str
    status: str


class TrainingSiteRef(Schema):
    id: int
    site_number: str


class AgendaTopic(Schema):
    topic: Item
    items: list[Item] = Field(default_factory=list, max_length=100)


# --- Templates ---------------------------------------------------------------------------------------------

class TemplateFilterIn(PageQuery):
    study_id: Id = Field(None, description="Also list this study's own templates (shared ones are always listed)")


class TemplateFieldsIn(Schema):
    name: line(200, min_length=1) = None
    kind: TrainingKind = None
    description: long_text(5000) = None
    checklist: list[Item] = Field(None, max_length=100, description="Preparation checklist items")
    agenda: list[AgendaTopic] = Field(None, max_length=100)


class TemplateCreateIn(TemplateFieldsIn):
    study_id: Id | None = Field(None, description="Empty: shared by every study (portfolio-wide managers only)")
    name: line(200, min_length=1)
    reason: Reason = ""


class TemplateUpdateIn(TemplateFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the template changes (required when anything changes)")


class TemplateCopyIn(Schema):
    study_id: Id | None = Field(None, description="The study the copy belongs to (empty: shared)")
    name: line(200) = ""


class TemplateOut(Schema):
    id: int
    version: int
    study_id: int | None
    name: str
    kind: str
    description: str
    checklist: list[str]
    agenda: list[dict]
    builtin: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class TemplateListOut(Schema):
    items: list[TemplateOut]
    count: int


# --- Trainings ----------------------------------------------------------------------------------------------

class TrainingFilterIn(PageQuery):
    study_id: Id = None
    kind: TrainingKind = None
    status: TrainingStatus = None
    protocol_version_id: Id = None


class TrainingFieldsIn(Schema):
    title: line(200, min_length=1) = None
    kind: TrainingKind = None
    protocol_version_id: Id | None = Field(None, description="The approved protocol version it covers")
    objectives: long_text(5000) = None
    agenda: list[AgendaTopic] = Field(None, max_length=100)
    checklist: list[Item] = Field(None, max_length=100, description="Preparation checklist item texts (ticks of "
                                                                    "unchanged items are kept)")
    pass_mark: int = Field(None, ge=0, le=100, description="Quiz pass mark, percent")
    quiz_required: bool = None
    validity_months: int | None = Field(None, ge=1, le=120, description="Certificates expire after this many months")


class TrainingCreateIn(TrainingFieldsIn):
    study_id: Id
    template_id: Id | None = Field(None, description="Copy the checklist and agenda of this template")
    reason: Reason = ""


class TrainingUpdateIn(TrainingFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the training changes (required when anything changes)")


class TrainingTransitionIn(Schema):
    status: TrainingStatus
    version: RecordVersion
    reason: Reason = ""


class ChecklistTickIn(Schema):
    index: int = Field(ge=0, le=99, description="Position of the item (0 = first)")
    done: bool
    version: RecordVersion
    reason: Reason = ""


class ChecklistItemOut(Schema):
    item: str
    done: bool
    done_by: str = ""
    done_at: str | None = None


class TrainingOut(Schema):
    id: int
    version: int
    study: TrainingStudyRef
    protocol_version: PvRef | None
    template_id: int | None
    title: str
    kind: str
    objectives: str
    checklist: list[ChecklistItemOut]
    agenda: list[dict]
    pass_mark: int
    quiz_required: bool
    validity_months: int | None
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime


class TrainingListOut(Schema):
    items: list[TrainingOut]
    count: int


class ProgressOut(Schema):
    person: PersonRef
    attended: bool
    acknowledged: bool
    attempts: int
    best_score_percent: float | None
    passed: bool
    certificate_number: str | None


# --- Sessions and attendance ------------------------------------------------------------------------------------

class SessionFieldsIn(Schema):
    mode: SessionMode = None
    site_ids: list[Id] = Field(None, max_length=500, description="Sites the session is for")
    trainer_id: Id | None = Field(None, description="Person id of the trainer")
    trainer_name: line(200) = None
    starts_at: dt.datetime = None
    duration_minutes: int = Field(None, ge=1, le=1440)
    location: line(300) = None
    materials: long_text(5000) = None


class SessionCreateIn(SessionFieldsIn):
    starts_at: dt.datetime
    reason: Reason = ""


class SessionUpdateIn(SessionFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the session changes (required when anything changes)")


class SessionOut(Schema):
    id: int
    version: int
    training_id: int
    mode: str
    sites: list[TrainingSiteRef]
    trainer: PersonRef | None
    trainer_name: str
    starts_at: dt.datetime
    duration_minutes: int
    location: str
    materials: str

    @staticmethod
    def resolve_sites(obj) -> list:
        return list(obj.sites.all())

    @staticmethod
    def resolve_trainer_name(obj) -> str:
        return obj.trainer_display


class SessionListOut(Schema):
    items: list[SessionOut]
    count: int


class AttendanceInviteIn(Schema):
    person_ids: list[Id] = Field(min_length=1, max_length=500)
    reason: Reason = ""


class AttendanceRecordIn(Schema):
    status: AttendanceStatus
    version: RecordVersion
    reason: Reason = ""


class AcknowledgeIn(Schema):
    password: Password = Field(description="Your password: the acknowledgement is your electronic signature")
    comment: long_text(2000) = ""


class TrainingSignatureOut(Schema):
    id: int
    printed_name: str
    meaning: str
    signed_at: dt.datetime


class AttendanceOut(Schema):
    id: int
    version: int
    session_id: int
    person: PersonRef
    status: str
    acknowledgement: TrainingSignatureOut | None
    acknowledged_at: dt.datetime | None


class AttendanceListOut(Schema):
    items: list[AttendanceOut]
    count: int


# --- Quiz ---------------------------------------------------------------------------------------------------

class QuizQuestionFieldsIn(Schema):
    order: int = Field(None, ge=0, le=10000)
    text: long_text(2000, min_length=1) = None
    options: list[Item] = Field(None, min_length=2, max_length=20)
    correct: list[OptionIndex] = Field(None, min_length=1, max_length=20, description="Indexes of correct options")


class QuizQuestionCreateIn(QuizQuestionFieldsIn):
    text: long_text(2000, min_length=1)
    options: list[Item] = Field(min_length=2, max_length=20)
    correct: list[OptionIndex] = Field(min_length=1, max_length=20)
    reason: Reason = ""


class QuizQuestionUpdateIn(QuizQuestionFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the question changes (required when anything changes)")


class QuizQuestionOut(Schema):
    id: int
    version: int
    training_id: int
    order: int
    text: str
    options: list[str]
    correct: list[int] | None = Field(None, description="Shown to training managers only")


class QuestionListOut(Schema):
    items: list[QuizQuestionOut]
    count: int


class AttemptIn(Schema):
    person_id: Id | None = Field(None, description="Whose attempt (default: yours). Entering another person's "
                                                   "paper quiz needs training.manage.")
    answers: dict[Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")],
                  Annotated[list[OptionIndex], Field(max_length=20)]] = Field(
        max_length=200, description="Question id -> chosen option indexes")


class AttemptOut(Schema):
    id: int
    training_id: int
    person: PersonRef
    attempt_no: int
    score_percent: float
    passed: bool
    pass_mark: int
    attempted_at: dt.datetime
    answers: dict
    certificate_number: str | None = Field(None, description="The certificate issued with this attempt, if any")


class AttemptListOut(Schema):
    items: list[AttemptOut]
    count: int


# --- Certificates --------------------------------------------------------------------------------------------

class CertificateFilterIn(PageQuery):
    study_id: Id = None
    person_id: Id = None
    training_id: Id = None
    mine: bool = Field(False, description="Only your own certificates")


class CertificateOut(Schema):
    id: int
    number: str
    training_id: int
    session_id: int | None
    person: PersonRef
    study: TrainingStudyRef
    person_name: str
    training_title: str
    training_kind: str
    study_label: str
    protocol_version_label: str
    topics: list[str]
    trainer_name: str
    training_date: dt.date
    score_percent: float | None
    issued_at: dt.datetime
    valid_until: dt.date | None
    state: str = Field(description="valid, expired or revoked")
    revoked_at: dt.datetime | None
    revoked_reason: str

    @staticmethod
    def resolve_state(obj) -> str:
        from trialdesk.training.selectors import certificate_state

        return certificate_state(obj)


class CertificateListOut(Schema):
    items: list[CertificateOut]
    count: int


class RevokeIn(Schema):
    reason: Reason = Field("", description="Why the certificate is withdrawn (required)")


class VerifyQuery(Schema):
    number: line(64) = Field(description="The certificate number as printed, e.g. TC-7K3M-9QX2-41")


class VerificationOut(Schema):
    number: str | None
    status: str = Field(description="valid, expired, revoked, not_found or malformed")
    intact: bool
    message: str
    person_name: str | None = None
    training_title: str | None = None
    study_label: str | None = None
    protocol_version_label: str | None = None
    training_date: dt.date | None = None
    valid_until: dt.date | None = None


# --- Requirements --------------------------------------------------------------------------------------------

class RequirementFilterIn(PageQuery):
    study_id: Id = None
    site_id: Id = None
    person_id: Id = None
    status: RequirementStatus = None
    kind: RequirementKind = None


class RequirementCreateIn(Schema):
    study_id: Id
    person_id: Id
    kind: RequirementKind
    due_date: dt.date
    training_id: Id | None = None
    protocol_version_id: Id | None = None
    site_id: Id | None = Field(None, description="Default: the person's site on the study's roster")
    reason: Reason = Field("", description="Why it is required")


class RequirementUpdateIn(Schema):
    due_date: dt.date
    version: RecordVersion
    reason: Reason = Field("", description="Why the due date changes (required)")


class RequirementWaiveIn(Schema):
    version: RecordVersion
    reason: Reason = Field("", description="Why the requirement is waived (required)")


class RequirementOut(Schema):
    id: int
    version: int
    study: TrainingStudyRef
    site: TrainingSiteRef | None
    person: PersonRef
    kind: str
    training_id: int | None
    protocol_version: PvRef | None
    reason: str
    due_date: dt.date
    status: str
    fulfilled_by_id: int | None
    closed_at: dt.datetime | None
    created_at: dt.datetime


class RequirementListOut(Schema):
    items: list[RequirementOut]
    count: int


# --- Matrix and one's own training ----------------------------------------------------------------------------

class MatrixQuery(Schema):
    site_id: Id = Field(None, description="One site's matrix (default: the whole study, within your scope)")


class MatrixColumnOut(Schema):
    key: str
    label: str


class MatrixCellOut(Schema):
    state: str = Field(description="done, due, overdue, expired, waived or none")
    date: dt.date | None
    note: str


class MatrixRowOut(Schema):
    person: PersonRef
    sites: str
    roles: str
    cells: list[MatrixCellOut]


class MatrixOut(Schema):
    study: TrainingStudyRef
    site: TrainingSiteRef | None
    today: dt.date
    protocol_version: PvRef | None
    columns: list[MatrixColumnOut]
    rows: list[MatrixRowOut]
    totals: dict[str, int]


class MyTrainingOut(Schema):
    training: TrainingOut
    attendance: list[AttendanceOut]
    acknowledge_attendance_ids: list[int]
    quiz_open: bool
    passed: bool
    certificate_number: str | None


class MyTrainingListOut(Schema):
    items: list[MyTrainingOut]
    count: int
