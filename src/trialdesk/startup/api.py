"""Start-up API: the feasibility questionnaire and its answers, candidate ranking and selection decisions, the
milestone template, each site's milestones, and the study's start-up tracker."""

from __future__ import annotations

from django.utils import timezone
from ninja import Router, Status

from trialdesk.accounts.models import User
from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, DeleteIn, PathId
from trialdesk.core.errors import ValidationFailed
from trialdesk.sites.schemas import SiteOut
from trialdesk.startup import selectors, services
from trialdesk.startup.cycle import CYCLE_LABELS
from trialdesk.startup.schemas import (
    AnswersIn,
    CandidateOut,
    DecisionIn,
    DefinitionCreateIn,
    DefinitionOut,
    DefinitionUpdateIn,
    FeasibilityInviteIn,
    FeasibilityOut,
    FeasibilityQuestionCreateIn,
    FeasibilityQuestionOut,
    FeasibilityQuestionUpdateIn,
    MilestoneUpdateIn,
    ReopenIn,
    ResponseOut,
    SiteMilestonesOut,
    SubmitIn,
    TemplateEnsureIn,
    TrackerOut,
    site_ref,
)

router = Router()


def _study(request, study_id: int):
    return selectors.startup_study_get(request.auth, study_id)


def _site(request, site_id: int):
    return selectors.startup_site_get(request.auth, site_id)


# --- Questionnaire -----------------------------------------------------------------------------------------

@router.get("/studies/{study_id}/questions", response={200: list[FeasibilityQuestionOut], **READ_ERRORS},
            summary="The study's feasibility questionnaire")
def question_list(request, study_id: PathId):
    return list(selectors.question_list(request.auth, _study(request, study_id)))


@router.post("/studies/{study_id}/questions", response={201: FeasibilityQuestionOut, **WRITE_ERRORS},
             summary="Add a feasibility question (yes/no, number, choice or text; optional weight)")
def question_create(request, study_id: PathId, payload: FeasibilityQuestionCreateIn):
    data = payload.dict(exclude_unset=True, exclude={"reason"})
    if "choices" in data:
        data["choices"] = [dict(c) for c in data["choices"]]
    question = services.feasibility_question_create(user=request.auth, study=_study(request, study_id), data=data,
                                                    reason=payload.reason)
    return Status(201, question)


@router.get("/questions/{question_id}", response={200: FeasibilityQuestionOut, **READ_ERRORS}, summary="Get a question")
def question_get(request, question_id: PathId):
    return selectors.question_get(request.auth, question_id)


@router.patch("/questions/{question_id}", response={200: FeasibilityQuestionOut, **WRITE_ERRORS},
              summary="Change a question (responses are re-scored)")
def question_update(request, question_id: PathId, payload: FeasibilityQuestionUpdateIn):
    question = selectors.question_get(request.auth, question_id)
    data = payload.dict(exclude_unset=True, exclude={"version", "reason"})
    if "choices" in data:
        data["choices"] = [dict(c) for c in (data["choices"] or [])]
    return services.feasibility_question_update(user=request.auth, question=question, data=data,
                                                version=payload.version, reason=payload.reason)


@router.delete("/questions/{question_id}", response={200: FeasibilityQuestionOut, **WRITE_ERRORS},
               summary="Delete a question (soft; responses are re-scored)")
def question_delete(request, question_id: PathId, payload: DeleteIn):
    question = selectors.question_get(request.auth, question_id)
    return services.feasibility_question_delete(user=request.auth, question=question, version=payload.version,
                                                reason=payload.reason)


# --- Responses -------------------------------------------------------------------------------------------

def _feasibility_out(view: selectors.FeasibilityView) -> dict:
    response = view.response
    submitted_by = response.submitted_by if response and response.submitted_by_id else None
    return {
        "site": site_ref(view.site), "status": view.status, "version": view.version, "score": view.score,
        "invited_at": response.invited_at if response else None,
        "submitted_at": response.submitted_at if response else None,
        "submitted_by": submitted_by.display_name if submitted_by else None,
        "answers": [{"question_id": r.question.pk, "question": r.question.text, "kind": r.question.kind,
                     "required": r.question.required, "value": r.value, "score": r.score} for r in view.rows],
    }


@router.get("/studies/{study_id}/responses", response={200: list[ResponseOut], **READ_ERRORS},
            summary="The feasibility questionnaires of the study's sites (those you may see)")
def response_list(request, study_id: PathId):
    return [{"site": site_ref(r.site), "status": r.status, "version": r.version, "score": r.score,
             "invited_at": r.invited_at, "submitted_at": r.submitted_at}
            for r in selectors.response_list(request.auth, _study(request, study_id))]


@router.get("/sites/{site_id}/feasibility", response={200: FeasibilityOut, **READ_ERRORS},
            summary="A site's feasibility questionnaire: status, score and answers")
def feasibility_get(request, site_id: PathId):
    return _feasibility_out(selectors.feasibility_view(request.auth, _site(request, site_id)))


@router.post("/sites/{site_id}/feasibility/invite", response={201: FeasibilityOut, **WRITE_ERRORS},
             summary="Send the questionnaire to a site")
def feasibility_invite(request, site_id: PathId, payload: FeasibilityInviteIn):
    site = _site(request, site_id)
    services.feasibility_invite(user=request.auth, site=site, reason=payload.reason)
    return Status(201, _feasibility_out(selectors.feasibility_view(request.auth, site)))


@router.post("/sites/{site_id}/feasibility/answers", response={200: FeasibilityOut, **WRITE_ERRORS},
             summary="Save answers (the site for itself, or the CPM); errors are keyed q_<question id>")
def feasibility_answers(request, site_id: PathId, payload: AnswersIn):
    site = _site(request, site_id)
    answers = {}
    for item in payload.answers:
        if item.question_id in answers:
            raise ValidationFailed.field(f"q_{item.question_id}", "The question is answered twice.")
        answers[item.question_id] = item.value
    services.feasibility_answers_save(user=request.auth, site=site, answers=answers, version=payload.version,
                                      reason=payload.reason)
    return _feasibility_out(selectors.feasibility_view(request.auth, site))


@router.post("/sites/{site_id}/feasibility/submit", response={200: FeasibilityOut, **WRITE_ERRORS},
             summary="Submit the questionnaire (required questions answered; the score becomes final)")
def feasibility_submit(request, site_id: PathId, payload: SubmitIn):
    site = _site(request, site_id)
    services.feasibility_submit(user=request.auth, site=site, version=payload.version, reason=payload.reason)
    return _feasibility_out(selectors.feasibility_view(request.auth, site))


@router.post("/sites/{site_id}/feasibility/reopen", response={200: FeasibilityOut, **WRITE_ERRORS},
             summary="Reopen a submitted questionnaire for changes (with a reason)")
def feasibility_reopen(request, site_id: PathId, payload: ReopenIn):
    site = _site(request, site_id)
    services.feasibility_reopen(user=request.auth, site=site, version=payload.version, reason=payload.reason)
    return _feasibility_out(selectors.feasibility_view(request.auth, site))


# --- Ranking and selection -------------------------------------------------------------------------------

@router.get("/studies/{study_id}/ranking", response={200: list[CandidateOut], **READ_ERRORS},
            summary="Sites ranked by feasibility score, with the institution's past performance in other studies")
def ranking(request, study_id: PathId):
    rows = selectors.candidate_ranking(request.auth, _study(request, study_id))
    return [{"rank": r.rank, "site": site_ref(r.site), "feasibility_status": r.feasibility_status,
             "score": r.score, "provisional": r.provisional, "past_performance": r.past.__dict__} for r in rows]


@router.post("/sites/{site_id}/decision", response={200: SiteOut, **WRITE_ERRORS},
             summary="Selection decision: selected or not selected, with a reason (through the site lifecycle)")
def decide(request, site_id: PathId, payload: DecisionIn):
    site = _site(request, site_id)
    return services.site_selection_decide(user=request.auth, site=site, decision=payload.decision,
                                          reason=payload.reason, version=payload.version)


# --- Template ------------------------------------------------------------------------------------------------

def _dependencies(request, study, ids):
    if ids is None:
        return None
    found = {d.pk: d for d in selectors.definitions_of(study.pk) if d.pk in set(ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed.field("depends_on_ids", f"Unknown milestone id(s) in this template: "
                                                       f"{', '.join(map(str, missing))}.")
    return [found[i] for i in dict.fromkeys(ids)]


@router.get("/studies/{study_id}/template", response={200: list[DefinitionOut], **READ_ERRORS},
            summary="The study's start-up milestone template")
def template_list(request, study_id: PathId):
    return selectors.template_list(request.auth, _study(request, study_id))


@router.post("/studies/{study_id}/template/ensure", response={200: list[DefinitionOut], **WRITE_ERRORS},
             summary="Create the default template when the study has none (returns the template)")
def template_ensure(request, study_id: PathId, payload: TemplateEnsureIn):
    services.startup_template_ensure(user=request.auth, study=_study(request, study_id), reason=payload.reason)
    return selectors.definitions_of(study_id)


@router.post("/studies/{study_id}/template", response={201: DefinitionOut, **WRITE_ERRORS},
             summary="Add a milestone to the template")
def definition_create(request, study_id: PathId, payload: DefinitionCreateIn):
    study = _study(request, study_id)
    data = payload.dict(exclude_unset=True, exclude={"reason", "depends_on_ids"})
    depends_on = _dependencies(request, study, payload.depends_on_ids) or []
    definition = services.milestone_definition_create(user=request.auth, study=study, data=data,
                                                      depends_on=depends_on, reason=payload.reason)
    return Status(201, selectors.definition_get(request.auth, definition.pk))


@router.get("/milestone-definitions/{definition_id}", response={200: DefinitionOut, **READ_ERRORS},
            summary="Get a template milestone")
def definition_get(request, definition_id: PathId):
    return selectors.definition_get(request.auth, definition_id)


@router.patch("/milestone-definitions/{definition_id}", response={200: DefinitionOut, **WRITE_ERRORS},
              summary="Change a template milestone (label, order, mandatory, target, dependencies, owner role)")
def definition_update(request, definition_id: PathId, payload: DefinitionUpdateIn):
    definition = selectors.definition_get(request.auth, definition_id)
    data = payload.dict(exclude_unset=True, exclude={"version", "reason", "depends_on_ids"})
    unset = "depends_on_ids" not in payload.model_fields_set
    depends_on = None if unset else _dependencies(request, definition.study, payload.depends_on_ids or [])
    services.milestone_definition_update(user=request.auth, definition=definition, data=data, depends_on=depends_on,
                                         version=payload.version, reason=payload.reason)
    return selectors.definition_get(request.auth, definition_id)


@router.delete("/milestone-definitions/{definition_id}", response={200: DefinitionOut, **WRITE_ERRORS},
               summary="Remove a milestone from the template (soft; refused while sites recorded it)")
def definition_delete(request, definition_id: PathId, payload: DeleteIn):
    definition = selectors.definition_get(request.auth, definition_id)
    return services.milestone_definition_delete(user=request.auth, definition=definition, version=payload.version,
                                                reason=payload.reason)


# --- Site milestones ------------------------------------------------------------------------------------------

def _milestone_out(row: selectors.MilestoneRow, graph: dict) -> dict:
    return {
        "definition_id": row.definition.pk, "key": row.key, "label": row.label,
        "mandatory": row.definition.mandatory, "depends_on": graph.get(row.key, []), "version": row.version,
        "planned_date": row.planned, "planned_derived": bool(row.plan and row.plan.planned_derived),
        "actual_date": row.actual, "projected_date": row.projected, "state": row.state,
        "not_applicable": row.not_applicable, "not_applicable_reason": row.not_applicable_reason,
        "owner_id": row.owner.pk if row.owner else None, "owner": row.owner.display_name if row.owner else None,
        "notes": row.notes,
    }


def _site_milestones_out(startup: selectors.SiteStartup) -> dict:
    return {"site": site_ref(startup.site), "planned_activation": startup.planned_activation,
            "projected_activation": startup.projected_activation, "activation_blockers": startup.blockers,
            "milestones": [_milestone_out(r, startup.graph) for r in startup.rows]}


@router.get("/sites/{site_id}/milestones", response={200: SiteMilestonesOut, **READ_ERRORS},
            summary="A site's start-up milestones: planned, actual, projected, state, and what blocks activation")
def site_milestones(request, site_id: PathId):
    return _site_milestones_out(selectors.site_startup(request.auth, _site(request, site_id)))


@router.patch("/sites/{site_id}/milestones/{definition_id}", response={200: SiteMilestonesOut, **WRITE_ERRORS},
              summary="Record a site's milestone (dates, owner, not applicable, notes); order is enforced")
def site_milestone_update(request, site_id: PathId, definition_id: PathId, payload: MilestoneUpdateIn):
    site = _site(request, site_id)
    definition = selectors.definition_get(request.auth, definition_id)
    if definition.study_id != site.study_id:
        raise ValidationFailed.field("definition", "The milestone is not part of this site's study template.")
    data = payload.dict(exclude_unset=True, exclude={"version", "reason"})
    if "owner_id" in data:
        owner_id = data.pop("owner_id")
        owner = User.objects.filter(pk=owner_id).first() if owner_id is not None else None
        if owner_id is not None and owner is None:
            raise ValidationFailed.field("owner_id", f"Unknown user (id {owner_id}).")
        data["owner"] = owner
    for name in ("not_applicable_reason", "notes"):
        if name in data and data[name] is None:
            data[name] = ""
    if data.get("not_applicable") is None:
        data.pop("not_applicable", None)
    services.site_milestone_update(user=request.auth, site=site, definition=definition, data=data,
                                   version=payload.version, reason=payload.reason)
    return _site_milestones_out(selectors.site_startup(request.auth, selectors.startup_site_get(request.auth,
                                                                                               site_id)))


# --- Tracker ----------------------------------------------------------------------------------------------------

def _group_out(group) -> dict:
    return {"label": group.label, "sites": group.sites,
            "cycles": {k: (s.as_dict() if s else None) for k, s in group.summaries.items()}}


@router.get("/studies/{study_id}/tracker", response={200: TrackerOut, **READ_ERRORS},
            summary="Start-up tracker: every site against its milestones, cycle times per site, country and study")
def tracker(request, study_id: PathId):
    t = selectors.tracker(request.auth, _study(request, study_id), timezone.localdate())
    return {"study_id": study_id, "today": t.today, "milestones": t.definitions, "cycle_labels": CYCLE_LABELS,
            "sites": [{**_site_milestones_out(s), "cycle_times": s.cycle_times()} for s in t.sites],
            "countries": [_group_out(g) for g in t.countries], "study": _group_out(t.overall)}
