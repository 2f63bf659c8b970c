"""Reads for studies. Every list is already limited to what the user may see."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound
from trialdesk.core.replica import replica_reads
from trialdesk.sites.lifecycle import SITE_STATUSES
from trialdesk.sites.models import StudySite
from trialdesk.studies import health
from trialdesk.studies.models import KEY_DATES, Arm, Intervention, ProtocolVersion, Study


@dataclass
class StudyFilter:
    status: str | None = None
    phase: str | None = None
    nct_id: str | None = None
    text: str | None = None
    therapeutic_area: str | None = None


def study_list(user, flt: StudyFilter | None = None) -> QuerySet[Study]:
    flt = flt or StudyFilter()
    qs = permissions.visible_studies(user).select_related("sponsor")
    if flt.status:
        qs = qs.filter(status=flt.status)
    if flt.phase:
        # phases is a JSON list; match the quoted token so PHASE1 does not match EARLY_PHASE1.
        qs = qs.filter(phases__icontains=f'"{flt.phase}"')
    if flt.nct_id:
        qs = qs.filter(nct_id__iexact=flt.nct_id.strip())
    if flt.therapeutic_area:
        qs = qs.filter(therapeutic_area__iexact=flt.therapeutic_area)
    if flt.text:
        t = flt.text.strip()
        qs = qs.filter(
            Q(protocol_number__icontains=t) | Q(brief_title__icontains=t) | Q(acronym__icontains=t)
            | Q(nct_id__icontains=t) | Q(official_title__icontains=t) | Q(conditions__icontains=t)
        )
    return qs.order_by("protocol_number")


def study_get(user, study_id: int) -> Study:
    """The study if it exists and the user may see it; NotFound otherwise (no existence leak)."""
    study = Study.objects.select_related("sponsor").filter(pk=study_id).first()
    if study is None or not permissions.has_perm(user, "study.view", study):
        raise NotFound("Study not found.")
    return study


def study_detail(user, study_id: int) -> Study:
    study = study_get(user, study_id)
    return (
        Study.objects.select_related("sponsor")
        .prefetch_related(
            "collaborators",
            Prefetch("arms", queryset=Arm.objects.order_by("id")),
            Prefetch("interventions", queryset=Intervention.objects.prefetch_related("arms").order_by("id")),
            Prefetch("protocol_versions", queryset=ProtocolVersion.objects.select_related(
                "approval_signature", "study").prefetch_related("visit_definitions")
                .order_by("version_date", "id")),
        )
        .get(pk=study.pk)
    )


def protocol_version_get(user, pv_id: int) -> ProtocolVersion:
    pv = ProtocolVersion.objects.select_related("study", "approval_signature").filter(pk=pv_id).first()
    if pv is None or pv.study.is_deleted or not permissions.has_perm(user, "protocol.view", pv):
        raise NotFound("Protocol version not found.")
    return pv


def arm_get(user, arm_id: int) -> Arm:
    arm = Arm.objects.select_related("study").filter(pk=arm_id).first()
    if arm is None or arm.study.is_deleted or not permissions.has_perm(user, "study.view", arm.study):
        raise NotFound("Arm not found.")
    return arm


def intervention_get(user, intervention_id: int) -> Intervention:
    item = Intervention.objects.select_related("study").filter(pk=intervention_id).first()
    if item is None or item.study.is_deleted or not permissions.has_perm(user, "study.view", item.study):
        raise NotFound("Intervention not found.")
    return item


@dataclass
class PortfolioRow:
    study: Study
    sites_by_status: dict[str, int] = field(default_factory=dict)
    site_count: int = 0
    enrolled: int = 0
    next_milestone: dict | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def enrollment_pct(self) -> int | None:
        target = self.study.planned_enrollment
        return round(100 * self.enrolled / target) if target else None

    @property
    def flag_items(self) -> list[tuple[str, str]]:
        return [(code, health.FLAG_LABELS.get(code, code)) for code in self.flags]

    @property
    def active_sites(self) -> int:
        return sum(n for s, n in self.sites_by_status.items() if s in health.ACTIVE_SITE_STATUSES)


PORTFOLIO_FIELDS = ("id", "protocol_number", "acronym", "brief_title", "status", "phases", "planned_enrollment",
                    "sponsor__id", "sponsor__name", "is_deleted",
                    *(f"{kind}_{key}" for key, _label in KEY_DATES for kind in ("planned", "actual")))


@replica_reads()
def portfolio(user, flt: StudyFilter | None = None, *, today: dt.date | None = None) -> list[PortfolioRow]:
    """Every visible study with site counts by status, enrollment and health flags; a fixed number of queries."""
    today = today or timezone.localdate()
    # Only the columns a portfolio row shows: a study's long texts (summary, eligibility, titles from the
    # registry) are most of its bytes, and the portfolio reads every study.
    studies = list(study_list(user, flt).only(*PORTFOLIO_FIELDS))
    site_qs = StudySite.objects.filter(study_id__in=[s.pk for s in studies])
    site_flt = permissions.site_filter(user)
    if site_flt is not None:
        # Site-limited users see counts for their own sites only.
        site_qs = site_qs.filter(site_flt)
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    enrolled: dict[int, int] = defaultdict(int)
    # COUNT(*), not COUNT(id): the sites' (study, status, deleted, enrolled) index then answers it alone.
    for row in site_qs.values("study_id", "status").annotate(n=Count("*"), enrolled=Sum("enrolled_count")):
        counts[row["study_id"]][row["status"]] = row["n"]
        enrolled[row["study_id"]] += row["enrolled"] or 0
    rows = []
    for study in studies:
        by_status = {s: counts[study.pk].get(s, 0) for s in SITE_STATUSES if counts[study.pk].get(s)}
        row = PortfolioRow(study=study, sites_by_status=by_status, site_count=sum(by_status.values()),
                           enrolled=enrolled[study.pk], next_milestone=study.next_milestone())
        row.flags = health.health_flags(
            today=today, status=study.status, target=study.planned_enrollment, enrolled=row.enrolled,
            active_sites=row.active_sites,
            next_milestone_planned=row.next_milestone["planned"] if row.next_milestone else None,
            first_subject_in=study.actual_first_subject_in or study.planned_first_subject_in,
            planned_last_subject_in=study.planned_last_subject_in,
            actual_last_subject_in=study.actual_last_subject_in)
        rows.append(row)
    return rows


@dataclass
class PortfolioTotals:
    studies: int
    enrolling: int
    enrolled: int
    target: int
    sites: int


def portfolio_totals(rows: list[PortfolioRow]) -> PortfolioTotals:
    return PortfolioTotals(studies=len(rows), enrolling=sum(1 for r in rows if r.study.status == "enrolling"),
                           enrolled=sum(r.enrolled for r in rows),
                           target=sum(r.study.planned_enrollment or 0 for r in rows),
                           sites=sum(r.site_count for r in rows))
