"""API input/output schemas for subjects, consent, randomization, settings and the screening-log import.

Blinding: for blinded users (User.is_blinded) `randomization.arm` is always null and `arm_blinded` is true.
"""

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from trialdesk.core.api_utils import Id, PageQuery, Reason, RecordVersion, text
from trialdesk.sites.schemas import PersonRef, SiteStudyRef
from trialdesk.subjects import rules
from trialdesk.subjects.lifecycle import SUBJECT_STATUSES, WITHDRAWAL_REASONS
from trialdesk.subjects.selectors import arm_visible

SubjectStatus = Literal[tuple(SUBJECT_STATUSES)]  # type: ignore[valid-type]
EntryStatus = Literal[tuple(rules.ENTRY_STATUSES)]  # type: ignore[valid-type]
WithdrawalReason = Literal[tuple(WITHDRAWAL_REASONS)]  # type: ignore[valid-type]
ConsentMethod = Literal["paper", "econsent"]
IcfStatus = Literal["draft", "approved", "superseded"]
ReconsentStatus = Literal["open", "done", "not_required"]
RECONSENT_LABELS = {"open": "Open", "done": "Re-consented", "not_required": "No longer required"}


def _user(context) -> object | None:
    request = (context or {}).get("request")
    return getattr(request, "auth", None) or getattr(request, "user", None)


# --- References ------------------------------------------------------------------------------------------------

class SiteNumberRef(Schema):
    id: int
    site_number: str


class ArmRef(Schema):
    id: int
    label: str


class ProtocolRef(Schema):
    id: int
    version_number: str


class IcfRef(Schema):
    id: int
    version_number: str


class SubjectRef(Schema):
    id: int
    subject_number: str
    site_number: str
    status: str

    @staticmethod
    def resolve_site_number(obj) -> str:
        return obj.site.site_number


# --- Subjects ------------------------------------------------------------------------------------------------

class SubjectFilterIn(PageQuery):
    study_id: Id = None
    site_id: Id = None
    status: SubjectStatus = None
    since: dt.date = Field(None, description="Current status dated on or after this day")
    until: dt.date = Field(None, description="Current status dated on or before this day")
    q: text(200) = Field(None, description="Text search: subject number, site number, screen-failure text")
    cursor: text(500) = Field(None, description="Keyset paging: a page's `next_cursor` or `previous_cursor` "
                                                "(`offset` is then ignored). Deep pages cost the same as the first.")


class SubjectCreateIn(Schema):
    site_id: Id = Field(description="The study site whose screening log gets the subject")
    status: EntryStatus = Field("pre_screened", description="A new subject is pre-screened or screened")
    on: dt.date | None = Field(None, description="Date of that status (default today; never in the future)")
    subject_number: text(60) = Field("", description="Empty: generated from the study's pattern")
    reason: Reason = ""


class SubjectTransitionIn(Schema):
    status: SubjectStatus = Field(description="Consented and Randomized are recorded with /consents and "
                                              "/randomize instead")
    on: dt.date | None = Field(None, description="Date of the new status (default today; not in the future, not "
                                                 "before the previous status date)")
    reason: Reason = Field("", description="Why (required)")
    version: RecordVersion
    screen_fail_reason_code: text(40) = Field("", description="Required for screen_failed: a code from settings")
    screen_fail_reason_text: text(5000) = ""
    withdrawal_reason: WithdrawalReason | None = Field(None, description="Required for withdrawn")
    withdrawal_text: text(5000) = ""
    eligibility_confirmed_by_id: Id | None = Field(None, description="Required for enrolled: the person (a PI or "
                                                                     "site coordinator of the site) who confirmed "
                                                                     "eligibility")


class SubjectRandomizeIn(Schema):
    arm_id: Id = Field(description="One of the study's arms")
    randomized_on: dt.date | None = Field(None, description="Default today")
    stratum: text(120) = ""
    irt_reference: text(80) = Field("", description="IRT/EDC reference")
    reason: Reason = ""
    version: RecordVersion


class SubjectUpdateIn(Schema):
    first_dose_on: dt.date | None = Field(description="Date of first dose (null clears it)")
    version: RecordVersion
    reason: Reason = Field("", description="Why the record changes (required when anything changes)")


class RandomizationOut(Schema):
    id: int
    version: int
    arm: ArmRef | None = Field(description="Null for blinded users")
    arm_blinded: bool = Field(description="True when the arm is hidden from the caller (blinded user)")
    stratum: str
    randomized_on: dt.date
    irt_reference: str

    @staticmethod
    def resolve_arm(obj, context):
        return obj.arm if arm_visible(_user(context)) else None

    @staticmethod
    def resolve_arm_blinded(obj, context) -> bool:
        return not arm_visible(_user(context))


class SubjectOut(Schema):
    id: int
    version: int
    study: SiteStudyRef
    site: SiteNumberRef
    subject_number: str
    site_sequence: int
    status: str
    status_label: str
    allowed_transitions: list[str] = Field(description="Statuses the subject may move to next")
    prescreened_on: dt.date | None
    screened_on: dt.date | None
    screen_failed_on: dt.date | None
    consented_on: dt.date | None
    enrolled_on: dt.date | None
    randomized_on: dt.date | None
    first_dose_on: dt.date | None
    active_on: dt.date | None
    completed_on: dt.date | None
    withdrawn_on: dt.date | None
    lost_on: dt.date | None
    screen_fail_reason_code: str
    screen_fail_reason_text: str
    withdrawal_reason: str
    withdrawal_text: str
    eligibility_confirmed_by: PersonRef | None
    protocol_version: ProtocolRef | None = Field(description="Protocol version whose schedule of events applies")
    randomization: RandomizationOut | None
    is_deleted: bool
    deleted_reason: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_status_label(obj) -> str:
        return SUBJECT_STATUSES.get(obj.status, obj.status)

    @staticmethod
    def resolve_allowed_transitions(obj) -> list[str]:
        return sorted(rules.allowed_next(obj.status))

    @staticmethod
    def resolve_randomization(obj):
        return getattr(obj, "randomization", None) if obj.randomized_on else None


class SubjectListOut(Schema):
    items: list[SubjectOut]
    count: int
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page (null on the last page)")
    previous_cursor: str | None = Field(None, description="Pass as `cursor` for the previous page (null on the "
                                                          "first page)")


# --- Consent ------------------------------------------------------------------------------------------------

class ConsentCreateIn(Schema):
    icf_version_id: Id = Field(description="The approved consent form version that applies at the subject's site")
    consented_on: dt.date
    method: ConsentMethod
    obtained_by_id: Id = Field(description="Person who obtained consent: a PI or site coordinator of the site")
    reason: Reason = ""


class ConsentOut(Schema):
    id: int
    version: int
    subject_id: int
    icf_version: IcfRef
    consented_on: dt.date
    method: str
    obtained_by: PersonRef
    is_reconsent: bool
    created_at: dt.datetime


class ConsentListOut(Schema):
    items: list[ConsentOut]
    count: int


class IcfFilterIn(PageQuery):
    study_id: Id = None
    status: IcfStatus = None


class IcfFieldsIn(Schema):
    version_number: text(40, min_length=1) = None
    version_date: dt.date = None
    country: text(100) = Field(None, description="Empty: all countries")
    site_id: Id | None = Field(None, description="Set for a site-specific form")
    protocol_version_id: Id | None = Field(None, description="The protocol version this form goes with")
    irb_approval_date: dt.date | None = Field(None, description="IRB/IEC approval date (required to approve)")


class IcfCreateIn(IcfFieldsIn):
    study_id: Id
    version_number: text(40, min_length=1)
    version_date: dt.date
    reason: Reason = ""


class IcfUpdateIn(IcfFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the record changes (required when anything changes)")


class IcfApproveIn(Schema):
    version: RecordVersion
    reason: Reason = Field("", description="Optional comment (default: the IRB/IEC approval date)")


class IcfVersionOut(Schema):
    id: int
    version: int
    study: SiteStudyRef
    protocol_version: ProtocolRef | None
    version_number: str
    version_date: dt.date
    country: str
    site: SiteNumberRef | None
    scope: str = Field(description='"all sites", a country, or "site N"')
    irb_approval_date: dt.date | None
    status: str
    open_reconsents: int = Field(description="Subjects (visible to you) who still have to re-consent to this form")
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_scope(obj) -> str:
        return rules.icf_scope_label(obj)

    @staticmethod
    def resolve_open_reconsents(obj) -> int:
        return getattr(obj, "open_reconsents", 0) or 0


class IcfVersionListOut(Schema):
    items: list[IcfVersionOut]
    count: int


class ReconsentFilterIn(PageQuery):
    study_id: Id = None
    site_id: Id = None
    subject_id: Id = None
    icf_version_id: Id = None
    status: ReconsentStatus = None


class ReconsentOut(Schema):
    id: int
    version: int
    subject: SubjectRef
    icf_version: IcfRef
    status: str
    status_label: str
    fulfilled_by_id: int | None = Field(description="The consent event that fulfilled it")
    closed_on: dt.date | None
    created_at: dt.datetime

    @staticmethod
    def resolve_status_label(obj) -> str:
        return RECONSENT_LABELS.get(obj.status, obj.status)


class ReconsentListOut(Schema):
    items: list[ReconsentOut]
    count: int


# --- Settings ------------------------------------------------------------------------------------------------

class ReasonItem(Schema):
    code: text(40, min_length=1)
    label: text(200, min_length=1)


class SettingsOut(Schema):
    study_id: int
    version: int
    id_pattern: str = Field(description="Placeholders {site}, {seq} (format spec allowed, e.g. {seq:03d}), {study}")
    screen_fail_reasons: list[ReasonItem]
    no_enrollment_alert_days: int
    on_time_probability_threshold: float
    screen_fail_alert_ratio: float


class SettingsUpdateIn(Schema):
    id_pattern: text(60) = None
    screen_fail_reasons: list[ReasonItem] = Field(None, max_length=100)
    no_enrollment_alert_days: int = Field(None, ge=0, le=730)
    on_time_probability_threshold: float = Field(None, ge=0, le=1, allow_inf_nan=False)
    screen_fail_alert_ratio: float = Field(None, ge=1, le=10, allow_inf_nan=False)
    version: RecordVersion
    reason: Reason = Field("", description="Why the settings change (required when anything changes)")


# --- Import -------------------------------------------------------------------------------------------------

class ImportQuery(Schema):
    study_id: Id
    dry_run: bool = Field(False, description="Check only: report every problem, write nothing")


class TemplateQuery(Schema):
    study_id: Id
    format: Literal["csv", "xlsx"] = "xlsx"


class ImportProblemOut(Schema):
    row: int | None = Field(description="Spreadsheet row (header = 1); null for the file as a whole")
    column: str
    value: str
    message: str


class ImportPlannedOut(Schema):
    row: int
    site_number: str
    subject_number: str = Field(description="Empty when the number will be generated")
    status: str


class ImportReportOut(Schema):
    filename: str
    sha256: str
    dry_run: bool
    ok: bool
    rows: int
    problems: list[ImportProblemOut]
    warnings: list[str]
    planned: list[ImportPlannedOut]
    by_status: dict[str, int]
    created: list[SubjectRef] = Field(description="Subjects created (empty for a dry run)")

    @staticmethod
    def resolve_sha256(obj) -> str:
        return obj.digest
