"""Reads for feasibility and start-up, limited to what the user may see (startup.view; sites by scope).

A site's milestone row is its SiteMilestone when one was saved; before that it is read from the template and,
for the milestones the StudySite itself tracks (selected, qualification visit, contract, IRB/IEC approval,
initiation visit, activated), from the site's own planned/actual dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.accounts.models import User
from trialdesk.core.errors import NotFound
from trialdesk.sites.lifecycle import SITE_STATUSES
from trialdesk.sites.models import StudySite
from trialdesk.startup import charts, cycle, plan, scoring
from trialdesk.startup.defaults import ACTIVATION_KEY, LEGACY_KEYS, SELECTION_KEY
from trialdesk.startup.models import (
    RESPONSE_STATUSES,
    FeasibilityAnswer,
    FeasibilityQuestion,
    FeasibilityResponse,
    SiteMilestone,
    StartupMilestoneDefinition,
)
from trialdesk.studies.selectors import study_get

# Sites left out of the tracker: never going to start up.
NOT_TRACKED_STATUSES = frozenset({"not_selected"})
# Past participations counted for an institution's track record.
PAST_STATUSES = frozenset({"selected", "start_up", "activated", "enrolling", "closed_to_enrollment", "closed_out"})


def _require_view(user, obj) -> None:
    if not permissions.has_perm(user, "startup.view", obj):
        raise NotFound("Not found.")


def startup_study_get(user, study_id: int):
    study = study_get(user, study_id)
    _require_view(user, study)
    return study


def startup_site_get(user, site_id: int) -> StudySite:
    site = StudySite.objects.select_related("institution", "principal_investigator", "study").filter(pk=site_id) \
        .first()
    if site is None or site.study.is_deleted or not permissions.has_perm(user, "site.view", site) \
            or not permissions.has_perm(user, "startup.view", site):
        raise NotFound("Site not found.")
    return site


def startup_sites(user, study) -> QuerySet[StudySite]:
    """The study's sites the user may see start-up information of."""
    qs = StudySite.objects.filter(study=study).select_related("institution", "principal_investigator")
    for perm in ("site.view", "startup.view"):
        flt = permissions.site_filter(user, perm)
        if flt is not None:
            qs = qs.filter(flt)
    return qs.order_by("site_number")


# --- Questionnaire -----------------------------------------------------------------------------------------

def question_list(user, study) -> QuerySet[FeasibilityQuestion]:
    _require_view(user, study)
    return FeasibilityQuestion.objects.filter(study=study).order_by("order", "id")


def question_get(user, question_id: int) -> FeasibilityQuestion:
    question = FeasibilityQuestion.objects.select_related("study").filter(pk=question_id).first()
    if question is None or question.study.is_deleted or not permissions.has_perm(user, "study.view", question.study) \
            or not permissions.has_perm(user, "startup.view", question.study):
        raise NotFound("Question not found.")
    return question


def question_rule(question: FeasibilityQuestion) -> scoring.QuestionRule:
    return scoring.QuestionRule(
        id=question.pk, kind=question.kind, weight=float(question.weight or 0),
        preferred_answer=question.preferred_answer, score_min=question.score_min, score_max=question.score_max,
        choices=list(question.choices or []), required=question.required)


@dataclass
class AnswerRow:
    question: FeasibilityQuestion
    value: object
    score: float | None          # 0..1, None when not scored or not answered
    answer: FeasibilityAnswer | None

    @property
    def answered(self) -> bool:
        return not scoring.is_blank(self.value)

    @property
    def display(self) -> str:
        if not self.answered:
            return "—"
        if self.question.kind == "yes_no":
            return "Yes" if self.value == "yes" else "No"
        return str(self.value)


@dataclass
class FeasibilityView:
    site: StudySite
    response: FeasibilityResponse | None
    rows: list[AnswerRow]

    @property
    def status(self) -> str:
        return self.response.status if self.response else "not_invited"

    @property
    def status_label(self) -> str:
        return RESPONSE_STATUSES.get(self.status, "Not invited")

    @property
    def score(self) -> float | None:
        return self.response.score if self.response else None

    @property
    def submitted(self) -> bool:
        return self.status == "submitted"

    @property
    def version(self) -> int:
        return self.response.version if self.response else 0

    @property
    def answered(self) -> int:
        return sum(1 for r in self.rows if r.answered)


def response_of(site: StudySite) -> FeasibilityResponse | None:
    return FeasibilityResponse.objects.select_related("submitted_by").filter(site=site).first()


def feasibility_view(user, site: StudySite) -> FeasibilityView:
    _require_view(user, site)
    response = response_of(site)
    answers = {}
    if response is not None:
        answers = {a.question_id: a for a in FeasibilityAnswer.objects.filter(response=response)}
    rows = []
    for question in FeasibilityQuestion.objects.filter(study_id=site.study_id).order_by("order", "id"):
        answer = answers.get(question.pk)
        value = answer.value if answer else None
        rows.append(AnswerRow(question=question, value=value, score=scoring.answer_score(question_rule(question),
                                                                                        value), answer=answer))
    return FeasibilityView(site=site, response=response, rows=rows)


def response_list(user, study) -> QuerySet[FeasibilityResponse]:
    _require_view(user, study)
    return FeasibilityResponse.objects.filter(site__in=startup_sites(user, study)).select_related(
        "site", "site__institution", "submitted_by").order_by("site__site_number")


def may_answer(user, site: StudySite) -> bool:
    return permissions.has_perm(user, "startup.edit", site) or permissions.has_perm(user, "feasibility.answer", site)


# --- Candidate ranking with past performance ------------------------------------------------------------

@dataclass
class CandidateRow:
    rank: int | None
    site: StudySite
    response: FeasibilityResponse | None
    past: scoring.PastPerformance

    @property
    def score(self) -> float | None:
        return self.response.score if self.response else None

    @property
    def feasibility_status(self) -> str:
        return self.response.status if self.response else "not_invited"

    @property
    def feasibility_label(self) -> str:
        return RESPONSE_STATUSES.get(self.feasibility_status, "Not invited")

    @property
    def provisional(self) -> bool:
        return self.response is not None and self.response.status != "submitted" and self.response.score is not None


def past_performance_by_institution(institution_ids, *, exclude_study_id: int, today: dt.date
                                    ) -> dict[int, scoring.PastPerformance]:
    """The institutions' record in other studies (all of the portfolio's live studies, shown as aggregates)."""
    rows: dict[int, list[scoring.PastSite]] = {i: [] for i in institution_ids}
    qs = (StudySite.objects.filter(institution_id__in=list(rows), study__is_deleted=False, status__in=PAST_STATUSES)
          .exclude(study_id=exclude_study_id)
          .values_list("institution_id", "enrolled_count", "actual_selected", "actual_activated",
                       "actual_closed_out"))
    for institution_id, enrolled, selected, activated, closed in qs:
        rows[institution_id].append(scoring.PastSite(enrolled=enrolled or 0, selected=selected, activated=activated,
                                                     closed=closed))
    return {i: scoring.past_performance(r, today) for i, r in rows.items()}


def candidate_ranking(user, study, today: dt.date | None = None) -> list[CandidateRow]:
    """Every visible site of the study ranked by feasibility score (unscored last), with past performance."""
    _require_view(user, study)
    today = today or timezone.localdate()
    sites = list(startup_sites(user, study))
    responses = {r.site_id: r for r in FeasibilityResponse.objects.filter(site__in=sites)}
    past = past_performance_by_institution({s.institution_id for s in sites}, exclude_study_id=study.pk,
                                           today=today)
    ranked = scoring.rank(sites, lambda s: responses[s.pk].score if s.pk in responses else None)
    return [CandidateRow(rank=position, site=site, response=responses.get(site.pk), past=past[site.institution_id])
            for position, site in ranked]


# --- Milestone template ---------------------------------------------------------------------------------

def template_list(user, study) -> list[StartupMilestoneDefinition]:
    _require_view(user, study)
    return definitions_of(study.pk)


def definitions_of(study_id: int) -> list[StartupMilestoneDefinition]:
    return list(StartupMilestoneDefinition.objects.filter(study_id=study_id).order_by("order", "id")
                .prefetch_related(Prefetch("depends_on", queryset=StartupMilestoneDefinition.objects
                                           .order_by("order", "id"))))


def definition_get(user, definition_id: int) -> StartupMilestoneDefinition:
    definition = StartupMilestoneDefinition.objects.select_related("study").filter(pk=definition_id).first()
    if definition is None or definition.study.is_deleted \
            or not permissions.has_perm(user, "study.view", definition.study) \
            or not permissions.has_perm(user, "startup.view", definition.study):
        raise NotFound("Milestone not found.")
    return definition


def dependency_graph(definitions) -> dict[str, list[str]]:
    return {d.key: [dep.key for dep in d.depends_on.all()] for d in definitions}


# --- One site's milestones ------------------------------------------------------------------------------

@dataclass
class MilestoneRow:
    definition: StartupMilestoneDefinition
    record: SiteMilestone | None
    planned_stored: dt.date | None
    actual: dt.date | None
    not_applicable: bool
    not_applicable_reason: str
    owner: User | None
    notes: str
    plan: plan.MilestonePlan | None = None
    dependencies: list[str] = field(default_factory=list)  # labels of the milestones it depends on

    @property
    def key(self) -> str:
        return self.definition.key

    @property
    def label(self) -> str:
        return self.definition.label

    @property
    def closed(self) -> bool:
        return self.actual is not None or self.not_applicable

    @property
    def version(self) -> int:
        return self.record.version if self.record else 0

    @property
    def state(self) -> str:
        return self.plan.state if self.plan else "unplanned"

    @property
    def state_label(self) -> str:
        return plan.STATES[self.state]

    @property
    def planned(self) -> dt.date | None:
        return self.plan.planned if self.plan else self.planned_stored

    @property
    def projected(self) -> dt.date | None:
        return self.plan.projected if self.plan else None

    def as_milestone(self, depends_on: tuple[str, ...]) -> plan.Milestone:
        return plan.Milestone(key=self.key, label=self.label, depends_on=depends_on,
                              target_days=self.definition.target_days, planned=self.planned_stored,
                              actual=self.actual, not_applicable=self.not_applicable,
                              mandatory=self.definition.mandatory)


@dataclass
class SiteStartup:
    site: StudySite
    rows: list[MilestoneRow]
    anchor: dt.date | None
    graph: dict[str, list[str]]
    today: dt.date
    blockers: list[str] = field(default_factory=list)

    @property
    def by_key(self) -> dict[str, MilestoneRow]:
        return {r.key: r for r in self.rows}

    @property
    def projected_activation(self) -> dt.date | None:
        row = self.by_key.get(ACTIVATION_KEY)
        return row.projected if row else None

    @property
    def planned_activation(self) -> dt.date | None:
        row = self.by_key.get(ACTIVATION_KEY)
        return row.planned if row else None

    @property
    def activated_on(self) -> dt.date | None:
        row = self.by_key.get(ACTIVATION_KEY)
        return row.actual if row else self.site.actual_activated

    @property
    def done(self) -> int:
        return sum(1 for r in self.rows if r.actual is not None)

    @property
    def applicable(self) -> int:
        return sum(1 for r in self.rows if not r.not_applicable)

    @property
    def overdue(self) -> list[MilestoneRow]:
        return [r for r in self.rows if r.state == "overdue"]

    @property
    def at_risk(self) -> list[MilestoneRow]:
        return [r for r in self.rows if r.state == "at_risk"]

    def cycle_times(self) -> dict[str, int | None]:
        return cycle.site_cycle_times({r.key: r.actual for r in self.rows})

    def milestones(self) -> dict[str, plan.Milestone]:
        return {r.key: r.as_milestone(tuple(self.graph.get(r.key, ()))) for r in self.rows}

    def labels(self) -> dict[str, str]:
        return {r.key: r.label for r in self.rows}


def site_anchor(site: StudySite) -> dt.date | None:
    """Milestones without dependencies are planned from the site's selection (actual, else planned)."""
    return site.actual_selected or site.planned_selected


def _virtual(definition, site: StudySite) -> tuple[dt.date | None, dt.date | None]:
    if definition.key in LEGACY_KEYS:
        return getattr(site, f"planned_{definition.key}"), getattr(site, f"actual_{definition.key}")
    return None, None


def build_site_startups(sites, definitions, today: dt.date) -> list[SiteStartup]:
    """Milestone rows, plans and activation blockers for several sites at once (two queries)."""
    sites = list(sites)
    graph = dependency_graph(definitions)
    records: dict[tuple[int, int], SiteMilestone] = {}
    if sites and definitions:
        for record in SiteMilestone.objects.filter(site__in=sites, definition__in=definitions) \
                .select_related("owner", "owner__person"):
            records[(record.site_id, record.definition_id)] = record
    out = []
    for site in sites:
        rows = []
        for definition in definitions:
            record = records.get((site.pk, definition.pk))
            if record is not None:
                rows.append(MilestoneRow(definition, record, record.planned_date, record.actual_date,
                                         record.not_applicable, record.not_applicable_reason, record.owner,
                                         record.notes))
            else:
                planned, actual = _virtual(definition, site)
                rows.append(MilestoneRow(definition, None, planned, actual, False, "", None, ""))
        startup = SiteStartup(site=site, rows=rows, anchor=site_anchor(site), graph=graph, today=today)
        labels = {d.key: d.label for d in definitions}
        for row in rows:
            row.dependencies = [labels[k] for k in graph.get(row.key, []) if k in labels]
        try:
            plans = plan.plan_site(list(startup.milestones().values()), anchor=startup.anchor, today=today)
        except plan.CycleError:  # the services refuse cycles; never fail a read on one
            plans = {}
        for row in rows:
            row.plan = plans.get(row.key)
        startup.blockers = _activation_blockers(startup)
        out.append(startup)
    return out


def site_startup(user, site: StudySite, today: dt.date | None = None) -> SiteStartup:
    _require_view(user, site)
    return site_startup_of(site, today)


def site_startup_of(site: StudySite, today: dt.date | None = None) -> SiteStartup:
    """No permission check: for services and the site lifecycle."""
    return build_site_startups([site], definitions_of(site.study_id), today or timezone.localdate())[0]


def _activation_blockers(startup: SiteStartup) -> list[str]:
    if not startup.rows:
        return []
    needed = plan.ancestors(startup.graph, ACTIVATION_KEY) if ACTIVATION_KEY in startup.graph else set()
    out = []
    for row in startup.rows:
        if row.key == ACTIVATION_KEY or row.closed:
            continue
        if row.definition.mandatory:
            out.append(row.label)
        elif row.key in needed:
            out.append(f"{row.label} (activation depends on it)")
    return out


def activation_blockers(site: StudySite) -> list[str]:
    """Labels of the start-up milestones that keep the site from activation (empty: it may be activated).

    Mandatory milestones not done (nor marked not applicable), and any milestone the activation milestone
    depends on. A study without a template has no blockers.
    """
    return site_startup_of(site).blockers


def selection_blockers(site: StudySite) -> list[str]:
    """Milestones the "selected" milestone depends on that are still open (the template's order)."""
    startup = site_startup_of(site)
    if SELECTION_KEY not in startup.graph:
        return []
    needed = plan.ancestors(startup.graph, SELECTION_KEY)
    return [r.label for r in startup.rows if r.key in needed and not r.closed]


def transition_blocked_message(site: StudySite, status: str) -> str | None:
    """Why the site may not move to `status` given its start-up milestones, or None."""
    if status == "activated":
        blockers = activation_blockers(site)
        if blockers:
            return (f"Site {site.site_number} cannot be activated: open mandatory start-up milestones: "
                    f"{', '.join(blockers)}.")
    if status == "selected":
        blockers = selection_blockers(site)
        if blockers:
            return (f"Site {site.site_number} cannot be selected: the start-up milestones before selection are "
                    f"open (record them or mark them not applicable): {', '.join(blockers)}.")
    return None


def milestone_row(user, site: StudySite, definition: StartupMilestoneDefinition,
                  today: dt.date | None = None) -> tuple[SiteStartup, MilestoneRow]:
    if definition.study_id != site.study_id or definition.is_deleted:
        raise NotFound("Milestone not found.")
    startup = site_startup(user, site, today)
    return startup, startup.by_key[definition.key]


def owner_candidates(user, study) -> QuerySet[User]:
    """Active users who may see the study's start-up (members of the study or portfolio-wide)."""
    from django.db.models import Q

    return (User.objects.filter(is_active=True).filter(
        Q(memberships__study=study, memberships__revoked_at__isnull=True)
        | Q(memberships__study__isnull=True, memberships__revoked_at__isnull=True))
        .select_related("person").distinct().order_by("last_name", "first_name", "username"))


# --- The tracker ----------------------------------------------------------------------------------------

@dataclass
class Tracker:
    study: object
    definitions: list[StartupMilestoneDefinition]
    sites: list[SiteStartup]
    today: dt.date
    countries: list[cycle.GroupCycles]
    overall: cycle.GroupCycles

    @property
    def cycles(self):
        return cycle.CYCLES

    def gantt_svg(self) -> str:
        rows = []
        for startup in self.sites:
            marks = []
            for row in startup.rows:
                if row.actual is not None:
                    marks.append(charts.GanttMark(row.key, row.label, row.actual, "done"))
                elif row.plan is not None and row.planned is not None and row.state in ("overdue", "at_risk",
                                                                                        "on_track"):
                    marks.append(charts.GanttMark(row.key, row.label, row.planned, row.state))
            projected = startup.projected_activation
            if projected is not None and startup.activated_on is None:
                marks.append(charts.GanttMark("projected_activation", "Projected activation", projected,
                                              "projected"))
            if marks:
                site = startup.site
                rows.append(charts.GanttRow(key=str(site.pk), label=f"{site.site_number} {site.institution.name}",
                                            marks=marks, detail=SITE_STATUSES.get(site.status, site.status)))
        study = self.study
        return charts.gantt_svg(
            chart_id="startup-gantt", title=f"Start-up timeline: {study.protocol_number}",
            desc=("One row per site: recorded milestones as filled circles, open ones at their planned dates "
                  "(triangles at risk, diamonds overdue), the projected activation as a flag, and today as a "
                  "dotted line. The table above lists the same dates."),
            rows=rows, today=self.today)


def tracker(user, study, today: dt.date | None = None, *, country: str | None = None) -> Tracker:
    _require_view(user, study)
    today = today or timezone.localdate()
    definitions = definitions_of(study.pk)
    sites = startup_sites(user, study).exclude(status__in=NOT_TRACKED_STATUSES)
    if country:
        sites = sites.filter(country__iexact=country)
    startups = build_site_startups(sites, definitions, today)
    per_country, overall = cycle.group_cycle_times((s.site.country, s.cycle_times()) for s in startups)
    return Tracker(study=study, definitions=definitions, sites=startups, today=today, countries=per_country,
                   overall=overall)


def tracker_countries(user, study) -> list[str]:
    return sorted({c for c in startup_sites(user, study).exclude(status__in=NOT_TRACKED_STATUSES)
                   .values_list("country", flat=True) if c})


def study_has_template(study_id: int) -> bool:
    return StartupMilestoneDefinition.objects.filter(study_id=study_id).exists()
