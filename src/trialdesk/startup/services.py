"""Writes for feasibility, selection and start-up. Every change is permission-checked and audited.

* Questionnaire (startup.edit): questions with their scoring; changing the questions re-scores the responses.
* Responses: the CPM invites a site; the site (feasibility.answer on its own site) or the CPM (startup.edit)
  answers and submits; a submitted questionnaire is reopened by startup.edit only, with a reason.
* Selection decisions go through the site lifecycle (`sites.services.site_transition`).
* Template (startup.edit): milestone definitions with dependencies (no cycles), targets and owners.
* Site milestones (startup.edit): planned/actual dates, owner, not applicable. Order is enforced: an actual date
  needs every dependency done (or not applicable) and is not earlier than theirs. The StudySite's own
  planned/actual date fields follow the milestones they mirror, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.audit.services import Action, AuditDraft, audit_events_append, draft_for
from trialdesk.core.crud import editable_fields, record_create, record_soft_delete, record_update
from trialdesk.core.errors import AccessDenied, Conflict, InvalidTransition, StaleVersion, ValidationFailed
from trialdesk.core.records import (
    apply_changes,
    bump_version,
    check_version,
    require_reason,
    snapshot,
    to_jsonable,
    validate,
)
from trialdesk.sites.models import StudySite
from trialdesk.startup import plan, scoring
from trialdesk.startup.defaults import DEFAULT_TEMPLATE, LEGACY_KEYS, REACHED, STATUS_KEYS
from trialdesk.startup.models import (
    APPLIES_WHEN,
    OWNER_ROLES,
    QUESTION_KINDS,
    FeasibilityAnswer,
    FeasibilityQuestion,
    FeasibilityResponse,
    SiteMilestone,
    StartupMilestoneDefinition,
)
from trialdesk.startup.selectors import definitions_of, question_rule, site_startup_of

QUESTION_FIELDS = editable_fields(FeasibilityQuestion, exclude={"study"})
DEFINITION_FIELDS = editable_fields(StartupMilestoneDefinition, exclude={"study", "depends_on"})
MILESTONE_FIELDS = frozenset({"planned_date", "actual_date", "owner", "not_applicable", "not_applicable_reason",
                              "notes"})
EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)
CLOSED_SITE_STATUSES = frozenset({"not_selected", "closed_out"})
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")


def _question_data(data: dict[str, Any]) -> dict[str, Any]:
    """Weights as two-decimal Decimals, so an unchanged weight is not reported as a change."""
    data = dict(data)
    if data.get("weight") is not None:
        try:
            data["weight"] = Decimal(str(data["weight"])).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            raise ValidationFailed.field("weight", "Enter a number.") from None
    return data


def _created(instance) -> dict:
    return {k: [None, v] for k, v in snapshot(instance).items() if v not in (None, "", [], {})
            and k not in {"version", "is_deleted"}}


def _check_date(field: str, value: dt.date | None) -> None:
    if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValidationFailed.field(field, f"Enter a date between {EARLIEST_DATE} and {LATEST_DATE}.")


# --- Questionnaire -----------------------------------------------------------------------------------------

def _normalize_question(question: FeasibilityQuestion) -> None:
    """Clear what the kind does not use, then check what it needs."""
    kind = question.kind
    if kind not in QUESTION_KINDS:
        raise ValidationFailed.field("kind", f"Choose one of: {', '.join(QUESTION_KINDS)}.")
    if kind != "choice":
        question.choices = []
    if kind != "yes_no":
        question.preferred_answer = ""
    if kind != "number":
        question.score_min = question.score_max = None
    if kind == "text":
        question.weight = 0
    if not (question.text or "").strip():
        raise ValidationFailed.field("text", "Enter the question.")
    if kind == "choice":
        error = scoring.choices_error(question.choices)
        if error is None and len(question.choices) < 2:
            error = "Give at least two options."
        if error:
            raise ValidationFailed.field("choices", error)
    if kind == "number" and (question.score_min is None) != (question.score_max is None):
        raise ValidationFailed.field("score_max", "Give both the answer scoring 0 and the one scoring 1, or "
                                                  "neither (not scored).")
    for name in ("score_min", "score_max"):
        value = getattr(question, name)
        if value is not None and not -1e12 <= value <= 1e12:
            raise ValidationFailed.field(name, "Enter a number between -10¹² and 10¹².")


def _rescore_study(user, study_id: int, reason: str) -> None:
    """Recompute the stored score of every response of the study (after its questions changed)."""
    rules = [question_rule(q) for q in FeasibilityQuestion.objects.filter(study_id=study_id)]
    drafts = []
    for response in FeasibilityResponse.objects.filter(site__study_id=study_id).select_related("site"):
        answers = dict(FeasibilityAnswer.objects.filter(response=response).values_list("question_id", "value"))
        score = scoring.weighted_score(rules, answers, submitted=response.status == "submitted")
        if score != response.score:
            drafts.append(draft_for(response, Action.UPDATE, changes={"score": [response.score, score]},
                                    reason=reason))
            response.score = score
            bump_version(response)
            response.save(update_fields=["score", "version", "updated_at"])
    audit_events_append(actor=user, drafts=drafts)


@transaction.atomic
def feasibility_question_create(*, user, study, data: dict[str, Any], reason: str = "") -> FeasibilityQuestion:
    permissions.require(user, "startup.edit", study)
    question = FeasibilityQuestion(study=study)
    data = _question_data(data)
    if "order" not in data:
        last = FeasibilityQuestion.objects.filter(study=study).order_by("-order").values_list("order", flat=True)
        data["order"] = (last.first() or 0) + 10
    apply_changes(question, data, allowed=QUESTION_FIELDS)
    _normalize_question(question)
    question = record_create(actor=user, instance=question, data={}, allowed=QUESTION_FIELDS, reason=reason)
    _rescore_study(user, study.pk, reason or "A feasibility question was added.")
    return question


@transaction.atomic
def feasibility_question_update(*, user, question: FeasibilityQuestion, data: dict[str, Any], version: int | None,
                                reason: str) -> FeasibilityQuestion:
    permissions.require(user, "startup.edit", question.study)
    data = _question_data(data)
    if "kind" in data and data["kind"] != question.kind and question.answers.exists():
        raise ValidationFailed.field("kind", "This question has answers, so its kind cannot change. Add a new "
                                             "question instead.")
    probe = FeasibilityQuestion(pk=question.pk, study_id=question.study_id,
                                **{name: getattr(question, name) for name in QUESTION_FIELDS})
    apply_changes(probe, data, allowed=QUESTION_FIELDS)
    _normalize_question(probe)
    normalized = {name: getattr(probe, name) for name in QUESTION_FIELDS}
    question, changes = record_update(actor=user, instance=question, data=normalized, allowed=QUESTION_FIELDS,
                                      version=version, reason=reason)
    if changes:
        _rescore_study(user, question.study_id, reason)
    return question


@transaction.atomic
def feasibility_question_delete(*, user, question: FeasibilityQuestion, version: int | None,
                                reason: str) -> FeasibilityQuestion:
    permissions.require(user, "startup.edit", question.study)
    question = record_soft_delete(actor=user, instance=question, version=version, reason=reason)
    _rescore_study(user, question.study_id, reason)
    return question


# --- Responses ---------------------------------------------------------------------------------------------

def _require_answer(user, site: StudySite) -> None:
    if not (permissions.has_perm(user, "startup.edit", site) or permissions.has_perm(user, "feasibility.answer",
                                                                                      site)):
        raise AccessDenied("You do not have permission to do this (feasibility.answer).")


def _lock_response(site: StudySite) -> FeasibilityResponse | None:
    return FeasibilityResponse.objects.select_for_update().filter(site=site).first()


@transaction.atomic
def feasibility_invite(*, user, site: StudySite, reason: str = "") -> FeasibilityResponse:
    """Send the questionnaire to a site: its response starts as Invited."""
    permissions.require(user, "startup.edit", site)
    if site.status in CLOSED_SITE_STATUSES:
        raise InvalidTransition(f"Site {site.site_number} is {site.get_status_display().lower()}; it is not invited.")
    if not FeasibilityQuestion.objects.filter(study_id=site.study_id).exists():
        raise ValidationFailed.field("questions", "The study has no feasibility questions yet; write the "
                                                  "questionnaire first.")
    if _lock_response(site) is not None:
        raise Conflict(f"Site {site.site_number} has a feasibility questionnaire already.")
    response = FeasibilityResponse(site=site, status="invited", invited_at=timezone.now())
    return record_create(actor=user, instance=response, data={}, allowed=frozenset(), reason=reason)


def _answer_errors(questions: dict[int, FeasibilityQuestion], answers: dict[int, Any]) -> tuple[dict, dict]:
    """(normalized values by question id, errors by "q_<id>")."""
    values: dict[int, Any] = {}
    errors: dict[str, list[str]] = {}
    for qid, value in answers.items():
        question = questions.get(qid)
        if question is None:
            errors[f"q_{qid}"] = ["This question is not part of the study's questionnaire."]
            continue
        normalized, error = scoring.normalize_answer(question_rule(question), value)
        if error:
            errors[f"q_{qid}"] = [error]
        else:
            values[qid] = normalized
    return values, errors


@transaction.atomic
def feasibility_answers_save(*, user, site: StudySite, answers: dict[int, Any], version: int | None,
                             reason: str = "") -> FeasibilityResponse:
    """Save answers (question id -> value; blank clears). Changing a saved answer needs a reason.

    version: the response's version as read (0 or None when the site has no questionnaire yet).
    """
    _require_answer(user, site)
    if site.status in CLOSED_SITE_STATUSES:
        raise InvalidTransition(f"Site {site.site_number} is {site.get_status_display().lower()}; its "
                                "questionnaire is closed.")
    questions = {q.pk: q for q in FeasibilityQuestion.objects.filter(study_id=site.study_id)}
    values, errors = _answer_errors(questions, {int(k): v for k, v in answers.items()})
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    response = _lock_response(site)
    created = response is None
    if created:
        if version:
            raise StaleVersion("This questionnaire was changed by someone else. Reload it and apply your change "
                               "again.")
        response = FeasibilityResponse(site=site, status="in_progress")
        validate(response)
        response.save()
        existing: dict[int, FeasibilityAnswer] = {}
    else:
        check_version(response, version or 0)
        if response.status == "submitted":
            raise InvalidTransition("The questionnaire is submitted; it must be reopened before answers change.")
        existing = {a.question_id: a for a in FeasibilityAnswer.all_objects.filter(response=response)}
    updates: list[tuple[FeasibilityAnswer, Any]] = []
    creates: list[FeasibilityAnswer] = []
    for qid, value in values.items():
        answer = existing.get(qid)
        if answer is None:
            if value is not None:
                creates.append(FeasibilityAnswer(response=response, question=questions[qid], value=value))
        elif to_jsonable(answer.value) != to_jsonable(value):
            updates.append((answer, value))
    if not (created or creates or updates):
        return response
    if updates:
        reason = require_reason(reason)
    drafts: list[AuditDraft] = []
    for answer in creates:
        answer.save()
        drafts.append(draft_for(answer, Action.CREATE, changes={"question": [None, answer.question_id],
                                                                "value": [None, answer.value]}, reason=reason))
    for answer, value in updates:
        drafts.append(draft_for(answer, Action.UPDATE, changes={"value": [answer.value, value]}, reason=reason))
        answer.value = value
        bump_version(answer)
        answer.save(update_fields=["value", "version", "updated_at"])
    changes: dict[str, list] = {}
    if response.status == "invited":
        changes["status"] = ["invited", "in_progress"]
        response.status = "in_progress"
    all_values = dict(FeasibilityAnswer.objects.filter(response=response).values_list("question_id", "value"))
    score = scoring.weighted_score([question_rule(q) for q in questions.values()], all_values, submitted=False)
    if score != response.score:
        changes["score"] = [response.score, score]
        response.score = score
    if not created:
        bump_version(response)
    response.save()
    if created:
        drafts.insert(0, draft_for(response, Action.CREATE, changes=_created(response), reason=reason))
    elif changes:
        # The questionnaire's status and score follow its answers; say so when no reason was needed.
        drafts.append(draft_for(response, Action.UPDATE, changes=changes,
                                reason=reason or "Answers saved; the status and score follow the answers."))
    audit_events_append(actor=user, drafts=drafts)
    return response


@transaction.atomic
def feasibility_submit(*, user, site: StudySite, version: int | None, reason: str = "") -> FeasibilityResponse:
    """Submit the site's questionnaire: every required question answered; the final score counts unanswered
    scored questions as 0."""
    _require_answer(user, site)
    response = _lock_response(site)
    if response is None:
        raise InvalidTransition("There are no answers to submit yet.")
    check_version(response, version)
    if response.status == "submitted":
        raise InvalidTransition("The questionnaire is submitted already.")
    questions = list(FeasibilityQuestion.objects.filter(study_id=site.study_id))
    rules = [question_rule(q) for q in questions]
    values = dict(FeasibilityAnswer.objects.filter(response=response).values_list("question_id", "value"))
    missing = scoring.missing_required(rules, values)
    if missing:
        errors = {f"q_{qid}": ["This question must be answered before the questionnaire is submitted."]
                  for qid in missing}
        raise ValidationFailed(f"{len(missing)} required question{'s' if len(missing) != 1 else ''} "
                               "still without an answer.", errors=errors)
    score = scoring.weighted_score(rules, values, submitted=True)
    changes = {"status": [response.status, "submitted"], "score": [response.score, score],
               "submitted_by": [response.submitted_by_id, user.pk]}
    now = timezone.now()
    changes["submitted_at"] = [to_jsonable(response.submitted_at), to_jsonable(now)]
    response.status, response.score, response.submitted_by, response.submitted_at = "submitted", score, user, now
    bump_version(response)
    response.save()
    audit_events_append(actor=user, drafts=[draft_for(response, Action.TRANSITION, changes=changes,
                                                      reason=reason or "Questionnaire submitted.")])
    return response


@transaction.atomic
def feasibility_reopen(*, user, site: StudySite, version: int | None, reason: str) -> FeasibilityResponse:
    permissions.require(user, "startup.edit", site)
    response = _lock_response(site)
    if response is None or response.status != "submitted":
        raise InvalidTransition("Only a submitted questionnaire can be reopened.")
    check_version(response, version)
    reason = require_reason(reason)
    rules = [question_rule(q) for q in FeasibilityQuestion.objects.filter(study_id=site.study_id)]
    values = dict(FeasibilityAnswer.objects.filter(response=response).values_list("question_id", "value"))
    score = scoring.weighted_score(rules, values, submitted=False)
    changes = {"status": ["submitted", "in_progress"], "score": [response.score, score]}
    response.status, response.score = "in_progress", score
    bump_version(response)
    response.save()
    audit_events_append(actor=user, drafts=[draft_for(response, Action.TRANSITION, changes=changes, reason=reason)])
    return response


# --- Selection -------------------------------------------------------------------------------------------

SELECTION_DECISIONS = {"selected": "Selected", "not_selected": "Not selected"}


@transaction.atomic
def site_selection_decide(*, user, site: StudySite, decision: str, reason: str, version: int | None) -> StudySite:
    """Record the selection decision (selected / not selected, with a reason) through the site lifecycle."""
    from trialdesk.sites.services import site_transition

    permissions.require(user, "startup.edit", site)
    if decision not in SELECTION_DECISIONS:
        raise ValidationFailed.field("decision", "Choose selected or not selected.")
    reason = require_reason(reason)
    return site_transition(user=user, site=site, status=decision, version=version, reason=reason)


# --- Template --------------------------------------------------------------------------------------------

def _check_definition(definition: StartupMilestoneDefinition, depends_on: list[StartupMilestoneDefinition]
                      ) -> None:
    if not definition.key:
        raise ValidationFailed.field("key", "Give the milestone a key (letters, digits, - or _).")
    if not KEY_PATTERN.fullmatch(definition.key) or len(definition.key) > 40:
        raise ValidationFailed.field("key", "Use lower-case letters, digits, - or _ (up to 40), starting with a "
                                            "letter or digit.")
    if not (definition.label or "").strip():
        raise ValidationFailed.field("label", "Give the milestone a label.")
    if definition.applies_when not in APPLIES_WHEN:
        raise ValidationFailed.field("applies_when", "Choose always or where needed.")
    if definition.owner_role and definition.owner_role not in OWNER_ROLES:
        raise ValidationFailed.field("owner_role", "Choose a role.")
    siblings = {d.pk: d for d in StartupMilestoneDefinition.objects.filter(study_id=definition.study_id)
                .prefetch_related("depends_on")}
    if any(d.key == definition.key and d.pk != definition.pk for d in siblings.values()):
        raise ValidationFailed.field("key", f"The template has a milestone with the key '{definition.key}' already.")
    for dep in depends_on:
        if dep.pk == definition.pk and definition.pk is not None:
            raise ValidationFailed.field("depends_on", "A milestone cannot depend on itself.")
        if dep.study_id != definition.study_id or dep.pk not in siblings:
            raise ValidationFailed.field("depends_on", "Dependencies must be milestones of the same template.")
    graph = {d.key: [x.key for x in d.depends_on.all()] for d in siblings.values() if d.pk != definition.pk}
    graph[definition.key] = [d.key for d in depends_on]
    cycle = plan.find_cycle(graph)
    if cycle:
        raise ValidationFailed.field("depends_on", "These dependencies would form a loop: " + " → ".join(
            next((d.label for d in [*siblings.values(), definition] if d.key == k), k) for k in cycle) + ".")


@transaction.atomic
def startup_template_ensure(*, user, study, reason: str = "") -> list[StartupMilestoneDefinition]:
    """The study's template; the default milestones are created when it has none."""
    permissions.require(user, "startup.edit", study)
    from trialdesk.studies.models import Study

    Study.objects.select_for_update().filter(pk=study.pk).first()  # two first uses at once make one template
    existing = definitions_of(study.pk)
    if existing:
        return existing
    made: dict[str, StartupMilestoneDefinition] = {}
    drafts = []
    for order, spec in enumerate(DEFAULT_TEMPLATE, start=1):
        definition = StartupMilestoneDefinition(
            study=study, key=spec.key, label=spec.label, order=order * 10, mandatory=spec.mandatory,
            target_days=spec.target_days, owner_role=spec.owner_role, applies_when=spec.applies_when)
        validate(definition)
        definition.save()
        deps = [made[k] for k in spec.depends_on]
        definition.depends_on.set(deps)
        made[spec.key] = definition
        drafts.append(draft_for(definition, Action.CREATE, changes={
            **_created(definition), "depends_on": [None, sorted(d.pk for d in deps)]},
            reason=reason or "Default start-up template."))
    audit_events_append(actor=user, drafts=drafts)
    return definitions_of(study.pk)


@transaction.atomic
def milestone_definition_create(*, user, study, data: dict[str, Any], depends_on=(), reason: str = ""
                                ) -> StartupMilestoneDefinition:
    permissions.require(user, "startup.edit", study)
    definition = StartupMilestoneDefinition(study=study)
    data = dict(data)
    if "order" not in data:
        last = StartupMilestoneDefinition.objects.filter(study=study).order_by("-order") \
            .values_list("order", flat=True).first()
        data["order"] = (last or 0) + 10
    if isinstance(data.get("key"), str):
        data["key"] = data["key"].strip()
    apply_changes(definition, data, allowed=DEFINITION_FIELDS)
    _check_definition(definition, list(depends_on))
    return record_create(actor=user, instance=definition, data={}, allowed=DEFINITION_FIELDS, reason=reason,
                         m2m={"depends_on": list(depends_on)})


@transaction.atomic
def milestone_definition_update(*, user, definition: StartupMilestoneDefinition, data: dict[str, Any],
                                depends_on=None, version: int | None, reason: str) -> StartupMilestoneDefinition:
    permissions.require(user, "startup.edit", definition.study)
    if "key" in data and (data["key"] or "").strip() != definition.key:
        raise ValidationFailed.field("key", "The key of a milestone cannot change (sites' records and the site "
                                            "lifecycle refer to it).")
    data = {k: v for k, v in data.items() if k != "key"}
    probe = StartupMilestoneDefinition(pk=definition.pk, study_id=definition.study_id,
                                       **{name: getattr(definition, name) for name in DEFINITION_FIELDS})
    apply_changes(probe, data, allowed=DEFINITION_FIELDS)
    deps = list(depends_on) if depends_on is not None else list(definition.depends_on.all())
    _check_definition(probe, deps)
    m2m = {"depends_on": deps} if depends_on is not None else None
    return record_update(actor=user, instance=definition, data=data, allowed=DEFINITION_FIELDS, version=version,
                         reason=reason, m2m=m2m)[0]


@transaction.atomic
def milestone_definition_delete(*, user, definition: StartupMilestoneDefinition, version: int | None,
                                reason: str) -> StartupMilestoneDefinition:
    permissions.require(user, "startup.edit", definition.study)
    dependents = list(definition.dependents.all())
    if dependents:
        raise InvalidTransition(f"Other milestones depend on {definition.label}: "
                                f"{', '.join(d.label for d in dependents)}. Remove those dependencies first.")
    recorded = list(SiteMilestone.objects.filter(definition=definition, actual_date__isnull=False)
                    .select_related("site").order_by("site__site_number")[:10])
    if recorded:
        raise InvalidTransition(f"Sites have recorded {definition.label} "
                                f"({', '.join(r.site.site_number for r in recorded)}); it stays in the template.")
    return record_soft_delete(actor=user, instance=definition, version=version, reason=reason)


# --- Site milestones ---------------------------------------------------------------------------------------

def _legacy_sync(site: StudySite, startup, reason: str) -> AuditDraft | None:
    """Set the StudySite's planned_/actual_ fields from the milestones they mirror; a draft when any changed."""
    changes = {}
    for row in startup.rows:
        if row.key not in LEGACY_KEYS or row.record is None:
            continue  # an unsaved milestone is read from the site's own dates: nothing to keep in step
        for kind, value in (("planned", row.planned), ("actual", row.actual)):
            name = f"{kind}_{row.key}"
            if getattr(site, name) != value:
                changes[name] = [to_jsonable(getattr(site, name)), to_jsonable(value)]
                setattr(site, name, value)
    if not changes:
        return None
    bump_version(site)
    site.save(update_fields=[*changes, "version", "updated_at"])
    return draft_for(site, Action.UPDATE, changes=changes, reason=reason)


def _owner_check(owner, site: StudySite) -> None:
    if owner is None:
        return
    if not owner.is_active or not permissions.has_perm(owner, "startup.view", site):
        raise ValidationFailed.field("owner", "The owner must be an active user with access to this site's "
                                              "start-up.")


def _milestone_rules(startup, row, new: dict[str, Any], today: dt.date) -> None:
    """The order and applicability rules for changing `row` to `new`."""
    definition = row.definition
    actual, na = new["actual_date"], new["not_applicable"]
    _check_date("planned_date", new["planned_date"])
    _check_date("actual_date", actual)
    if actual is not None and actual > today:
        raise ValidationFailed.field("actual_date", "An actual date cannot be in the future.")
    if na:
        if actual is not None:
            raise ValidationFailed.field("not_applicable", "A milestone with an actual date is not 'not applicable'. "
                                                           "Clear the date first.")
        if definition.mandatory and definition.applies_when == "always":
            raise ValidationFailed.field("not_applicable", f"{definition.label} is mandatory at every site; it "
                                                           "cannot be marked not applicable.")
        if definition.key in STATUS_KEYS.values():
            raise ValidationFailed.field("not_applicable", f"{definition.label} is part of the site lifecycle; it "
                                                           "cannot be marked not applicable.")
        if not (new["not_applicable_reason"] or "").strip():
            raise ValidationFailed.field("not_applicable_reason", "Say why the milestone does not apply here.")
    site = startup.site
    if definition.key in REACHED and actual != row.actual:
        reached = site.status in REACHED[definition.key]
        if not reached:
            how = ("Record the selection decision" if definition.key == "selected"
                   else "Activate the site (change its status)")
            raise ValidationFailed.field("actual_date", f"{definition.label} is recorded by the site's status: "
                                                        f"{how}; its date can be corrected afterwards.")
        if actual is None:
            raise ValidationFailed.field("actual_date", f"The site is {site.get_status_display().lower()}; "
                                                        f"{definition.label} keeps its date.")
    milestones = startup.milestones()
    labels = startup.labels()
    if actual is not None and actual != row.actual:
        error = plan.order_error(milestones, definition.key, actual, labels)
        if error:
            raise ValidationFailed.field("actual_date", error)
    if (actual, na) != (row.actual, row.not_applicable):
        error = plan.dependents_error(milestones, definition.key, new_actual=actual, new_not_applicable=na,
                                      labels=labels)
        if error:
            raise ValidationFailed.field("actual_date" if not na else "not_applicable", error)


@transaction.atomic
def site_milestone_update(*, user, site: StudySite, definition: StartupMilestoneDefinition, data: dict[str, Any],
                          version: int | None, reason: str = "") -> SiteMilestone:
    """Record a site's milestone: planned/actual date, owner, not applicable (with why), notes.

    version: the milestone's version as read; 0 or None for one never saved. A reason is required when a saved
    milestone changes, or when a date the site had already recorded changes.
    """
    permissions.require(user, "startup.edit", site)
    if definition.study_id != site.study_id or definition.is_deleted:
        raise ValidationFailed.field("definition", "The milestone is not part of this study's template.")
    site = StudySite.objects.select_for_update(of=("self",)).select_related("study", "institution").get(pk=site.pk)
    unknown = sorted(set(data) - MILESTONE_FIELDS)
    if unknown:
        raise ValidationFailed("Some fields cannot be changed here.",
                               errors={name: ["This field cannot be changed."] for name in unknown})
    today = timezone.localdate()
    startup = site_startup_of(site, today)
    row = startup.by_key[definition.key]
    record = SiteMilestone.all_objects.select_for_update().filter(site=site, definition=definition).first()
    if record is None and version:
        raise StaleVersion("This milestone was changed by someone else. Reload it and apply your change again.")
    if record is not None:
        check_version(record, version or 0)
    current = {"planned_date": row.planned_stored, "actual_date": row.actual, "owner": row.owner,
               "not_applicable": row.not_applicable, "not_applicable_reason": row.not_applicable_reason,
               "notes": row.notes}
    new = {**current, **data}
    if isinstance(new.get("owner"), int):
        from trialdesk.accounts.models import User

        new["owner"] = User.objects.filter(pk=new["owner"]).first()
    if not new["not_applicable"]:
        new["not_applicable_reason"] = ""
    _owner_check(new["owner"], site)
    _milestone_rules(startup, row, new, today)

    if record is None:
        # What a reader saw before (a site's own recorded dates) counts as existing data.
        changed_existing = {k: [current[k], new[k]] for k in ("planned_date", "actual_date")
                            if current[k] is not None and current[k] != new[k]}
        reason = require_reason(reason, changed_existing)
        record = SiteMilestone(site=site, definition=definition)
        apply_changes(record, new, allowed=MILESTONE_FIELDS)
        validate(record)
        record.save()
        drafts = [draft_for(record, Action.CREATE, changes=_created(record), reason=reason)]
    else:
        changes = apply_changes(record, new, allowed=MILESTONE_FIELDS)
        if not changes:
            return record
        reason = require_reason(reason, changes)
        validate(record)
        bump_version(record)
        record.save()
        drafts = [draft_for(record, Action.UPDATE, changes=changes, reason=reason)]
    after = site_startup_of(site, today)
    site_draft = _legacy_sync(site, after, reason or f"Kept in step with the start-up milestone {definition.label}.")
    if site_draft is not None:
        drafts.append(site_draft)
    audit_events_append(actor=user, drafts=drafts)
    return record


def site_legacy_fields_check(site: StudySite, data: dict[str, Any]) -> None:
    """Refuse direct changes to a site's milestone dates that its study's start-up template records (used by
    sites.services.site_update): those change on the Start-up tab, where their order is enforced."""
    touched = {name.split("_", 1)[1] for name in data if name.startswith(("planned_", "actual_"))
               and name.split("_", 1)[1] in LEGACY_KEYS}
    if not touched:
        return
    keys = {d.key: d.label for d in StartupMilestoneDefinition.objects.filter(study_id=site.study_id,
                                                                             key__in=touched)}
    changed = {name: value for name, value in data.items() if name.split("_", 1)[-1] in keys
               and name.startswith(("planned_", "actual_")) and getattr(site, name) != value}
    if changed:
        errors = {name: [f"{keys[name.split('_', 1)[1]]} is a start-up milestone of this study; change it on the "
                         "site's Start-up tab."] for name in changed}
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)


def site_milestones_follow_status(*, user, site: StudySite, reason: str) -> None:
    """After a site status change (sites.services.site_transition): the lifecycle's own milestones (selected,
    activated) take the site's actual dates, and the site's mirrored dates follow the plan."""
    definitions = definitions_of(site.study_id)
    if not definitions:
        return
    startup = site_startup_of(site)
    drafts = []
    for definition in definitions:
        if definition.key not in STATUS_KEYS.values():
            continue
        actual = getattr(site, f"actual_{definition.key}")
        row = startup.by_key[definition.key]
        if actual is None or row.record is None or row.record.actual_date == actual:
            continue
        record = row.record
        drafts.append(draft_for(record, Action.UPDATE, changes={"actual_date": [to_jsonable(record.actual_date),
                                                                                to_jsonable(actual)]},
                                reason=reason))
        record.actual_date = actual
        bump_version(record)
        record.save(update_fields=["actual_date", "version", "updated_at"])
    site_draft = _legacy_sync(site, site_startup_of(site), reason)
    if site_draft is not None:
        drafts.append(site_draft)
    audit_events_append(actor=user, drafts=drafts)
