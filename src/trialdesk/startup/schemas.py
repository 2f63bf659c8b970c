"""API input/output schemas for feasibility, selection and start-up."""

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Field, Schema

from trialdesk.core.api_utils import MAX_INT, Id, Reason, RecordVersion, line
from trialdesk.core.api_utils import text as multiline
from trialdesk.startup.models import APPLIES_WHEN, OWNER_ROLES, QUESTION_KINDS, YES_NO
from trialdesk.startup.plan import STATES

QuestionKind = Literal[tuple(QUESTION_KINDS)]  # type: ignore[valid-type]
AppliesWhen = Literal[tuple(APPLIES_WHEN)]  # type: ignore[valid-type]
OwnerRole = Literal[("", *OWNER_ROLES)]  # type: ignore[valid-type]
PreferredAnswer = Literal[("", *YES_NO)]  # type: ignore[valid-type]
Number = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]
# A milestone's version as read; 0 (or omitted) for one a site has not saved yet.
MilestoneVersion = Annotated[int, Field(ge=0, le=MAX_INT, description="The milestone's `version` as read; 0 or "
                                                                      "omitted when it has not been saved yet")]


class StartupSiteRef(Schema):
    id: int
    site_number: str
    institution: str
    country: str
    status: str


def site_ref(site) -> dict:
    return {"id": site.pk, "site_number": site.site_number, "institution": site.institution.name,
            "country": site.country, "status": site.status}


# --- Questionnaire ---------------------------------------------------------------------------------------------

class ChoiceIn(Schema):
    label: line(200, min_length=1)
    score: float = Field(0, ge=0, le=1, allow_inf_nan=False)


class FeasibilityQuestionFieldsIn(Schema):
    order: Annotated[int, Field(ge=0, le=100_000)] = None
    text: multiline(2000, min_length=1) = None
    kind: QuestionKind = None
    choices: list[ChoiceIn] = Field(None, max_length=50, description="Options of a choice question (score 0..1)")
    preferred_answer: PreferredAnswer = Field(None, description="yes/no questions: the answer scoring 1")
    score_min: Number | None = Field(None, description="Number questions: the answer scoring 0")
    score_max: Number | None = Field(None, description="Number questions: the answer scoring 1 (may be below "
                                                       "score_min: lower is better)")
    weight: float = Field(None, ge=0, le=1000, allow_inf_nan=False, description="0 = not scored")
    required: bool = None
    help_text: line(500) = None


class FeasibilityQuestionCreateIn(FeasibilityQuestionFieldsIn):
    text: multiline(2000, min_length=1)
    kind: QuestionKind
    reason: Reason = ""


class FeasibilityQuestionUpdateIn(FeasibilityQuestionFieldsIn):
    version: RecordVersion
    reason: Reason = ""


class FeasibilityQuestionOut(Schema):
    id: int
    version: int
    study_id: int
    order: int
    text: str
    kind: str
    choices: list[dict[str, Any]]
    preferred_answer: str
    score_min: float | None
    score_max: float | None
    weight: float
    required: bool
    help_text: str
    is_deleted: bool

    @staticmethod
    def resolve_weight(obj) -> float:
        return float(obj.weight)


# --- Responses -------------------------------------------------------------------------------------------------

class AnswerIn(Schema):
    question_id: Id
    value: multiline(5000) | float | bool | None = Field(
        description="yes/no: \"yes\" or \"no\"; number; the chosen option's label; text. Empty or null clears it.")


class AnswersIn(Schema):
    answers: list[AnswerIn] = Field(max_length=500)
    version: MilestoneVersion = Field(0, description="The questionnaire's `version` as read (0 when none yet)")
    reason: Reason = Field("", description="Required when a saved answer changes")


class SubmitIn(Schema):
    version: RecordVersion
    reason: Reason = ""


class ReopenIn(Schema):
    version: RecordVersion
    reason: Reason = Field(description="Why the submitted questionnaire is reopened (required)")


class FeasibilityInviteIn(Schema):
    reason: Reason = ""


class AnswerOut(Schema):
    question_id: int
    question: str
    kind: str
    required: bool
    value: Any = None
    score: float | None = Field(description="The answer's score 0..1 (null: not scored or not answered)")


class FeasibilityOut(Schema):
    site: StartupSiteRef
    status: str = Field(description="not_invited, invited, in_progress or submitted")
    version: int = Field(description="0 while the site has no questionnaire")
    score: float | None = Field(description="Weighted score 0..100; provisional until submitted")
    invited_at: dt.datetime | None
    submitted_at: dt.datetime | None
    submitted_by: str | None
    answers: list[AnswerOut]


class ResponseOut(Schema):
    site: StartupSiteRef
    status: str
    version: int
    score: float | None
    invited_at: dt.datetime | None
    submitted_at: dt.datetime | None


# --- Ranking and decision ---------------------------------------------------------------------------------------

class PastPerformanceOut(Schema):
    studies: int = Field(description="The institution's participations in other studies")
    enrollment_rate: float | None = Field(description="Subjects per site-month active (pooled)")
    activation_days: float | None = Field(description="Median days from selection to activation")
    activated_sites: int
    deviation_rate: float | None = Field(description="Not recorded yet: always null")


class CandidateOut(Schema):
    rank: int | None
    site: StartupSiteRef
    feasibility_status: str
    score: float | None
    provisional: bool
    past_performance: PastPerformanceOut


class DecisionIn(Schema):
    decision: Literal["selected", "not_selected"]
    reason: Reason = Field(description="Why (required)")
    version: RecordVersion = Field(description="The site's `version` as read")


# --- Template ---------------------------------------------------------------------------------------------------

class DefinitionFieldsIn(Schema):
    label: line(200, min_length=1) = None
    order: Annotated[int, Field(ge=0, le=100_000)] = None
    mandatory: bool = None
    target_days: Annotated[int, Field(ge=0, le=3650)] | None = None
    depends_on_ids: list[Id] = Field(None, max_length=100, description="Ids of the milestones it depends on")
    owner_role: OwnerRole = None
    applies_when: AppliesWhen = None


class DefinitionCreateIn(DefinitionFieldsIn):
    key: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    label: line(200, min_length=1)
    reason: Reason = ""


class DefinitionUpdateIn(DefinitionFieldsIn):
    version: RecordVersion
    reason: Reason = ""


class DefinitionOut(Schema):
    id: int
    version: int
    study_id: int
    key: str
    label: str
    order: int
    mandatory: bool
    target_days: int | None
    depends_on: list[str] = Field(description="Keys of the milestones it depends on")
    depends_on_ids: list[int]
    owner_role: str
    applies_when: str
    is_deleted: bool

    @staticmethod
    def resolve_depends_on(obj) -> list[str]:
        return [d.key for d in obj.depends_on.all()]

    @staticmethod
    def resolve_depends_on_ids(obj) -> list[int]:
        return [d.pk for d in obj.depends_on.all()]


class TemplateEnsureIn(Schema):
    reason: Reason = ""


# --- Site milestones ------------------------------------------------------------------------------------------------

class MilestoneUpdateIn(Schema):
    planned_date: dt.date | None = None
    actual_date: dt.date | None = None
    owner_id: Id | None = Field(None, description="User id of the owner (null: nobody in particular)")
    not_applicable: bool = None
    not_applicable_reason: multiline(2000) = None
    notes: multiline(5000) = None
    version: MilestoneVersion = 0
    reason: Reason = Field("", description="Required when a saved milestone (or a date the site had) changes")


class StartupMilestoneOut(Schema):
    definition_id: int
    key: str
    label: str
    mandatory: bool
    depends_on: list[str]
    version: int = Field(description="0 while not saved")
    planned_date: dt.date | None = Field(description="The plan: stored, else derived from targets")
    planned_derived: bool
    actual_date: dt.date | None
    projected_date: dt.date | None
    state: str = Field(description=", ".join(STATES))
    not_applicable: bool
    not_applicable_reason: str
    owner_id: int | None
    owner: str | None
    notes: str


class SiteMilestonesOut(Schema):
    site: StartupSiteRef
    planned_activation: dt.date | None
    projected_activation: dt.date | None
    activation_blockers: list[str]
    milestones: list[StartupMilestoneOut]


# --- Tracker ------------------------------------------------------------------------------------------------------

class CycleSummaryOut(Schema):
    n: int
    median: float
    q1: float
    q3: float
    min: float
    max: float


class CycleGroupOut(Schema):
    label: str
    sites: int
    cycles: dict[str, CycleSummaryOut | None]


class TrackerSiteOut(SiteMilestonesOut):
    cycle_times: dict[str, int | None]


class TrackerOut(Schema):
    study_id: int
    today: dt.date
    milestones: list[DefinitionOut]
    cycle_labels: dict[str, str]
    sites: list[TrackerSiteOut]
    countries: list[CycleGroupOut]
    study: CycleGroupOut
