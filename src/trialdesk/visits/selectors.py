"""Reads for schedules of events and subjects' visits, limited to what the user may see.

Site-limited users (CRA, site staff) see the visits of their own sites only: SubjectVisit is site-scoped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core import signing
from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound
from trialdesk.studies.models import ProtocolVersion
from trialdesk.visits import ics
from trialdesk.visits.models import SubjectVisit, VisitDefinition
from trialdesk.visits.schedule import month_weeks, visit_flag

# --- Schedule of events ------------------------------------------------------------------


def visit_definition_list(user, protocol_version: ProtocolVersion) -> QuerySet[VisitDefinition]:
    if not permissions.has_perm(user, "protocol.view", protocol_version):
        raise NotFound("Protocol version not found.")
    return VisitDefinition.objects.filter(protocol_version=protocol_version).order_by("order", "target_day", "id")


def visit_definition_get(user, definition_id: int) -> VisitDefinition:
    d = (VisitDefinition.objects.select_related("protocol_version", "study").filter(pk=definition_id).first())
    if d is None or not permissions.has_perm(user, "protocol.view", d):
        raise NotFound("Visit definition not found.")
    return d


def schedule_sources(user, protocol_version: ProtocolVersion) -> list[ProtocolVersion]:
    """Other versions of the study that have a schedule to copy from."""
    if not permissions.has_perm(user, "protocol.view", protocol_version):
        raise NotFound("Protocol version not found.")
    with_schedule = VisitDefinition.objects.filter(study_id=protocol_version.study_id) \
        .values_list("protocol_version_id", flat=True)
    return list(ProtocolVersion.objects.filter(study_id=protocol_version.study_id, pk__in=with_schedule)
                .exclude(pk=protocol_version.pk).order_by("-version_date", "-id"))


# --- Subjects' visits -----------------------------------------------------------------------

@dataclass
class VisitFilter:
    study_id: int | None = None
    site_id: int | None = None
    subject_id: int | None = None
    status: str | None = None
    modality: str | None = None
    date_from: dt.date | None = None   # on the visit's date: the actual date when recorded, else the planned date
    date_to: dt.date | None = None
    out_of_window: bool | None = None


def _visible_visits(user) -> QuerySet[SubjectVisit]:
    qs = SubjectVisit.objects.select_related("definition", "subject", "site", "study")
    flt = permissions.site_filter(user, "visit.view", prefix="site__")
    return qs if flt is None else qs.filter(flt)


def _on_or_after(day: dt.date) -> Q:
    return Q(actual_on__gte=day) | Q(actual_on__isnull=True, planned_on__gte=day)


def _on_or_before(day: dt.date) -> Q:
    return Q(actual_on__lte=day) | Q(actual_on__isnull=True, planned_on__lte=day)


def subject_visit_list(user, flt: VisitFilter | None = None) -> QuerySet[SubjectVisit]:
    flt = flt or VisitFilter()
    qs = _visible_visits(user)
    if flt.study_id is not None:
        qs = qs.filter(study_id=flt.study_id)
    if flt.site_id is not None:
        qs = qs.filter(site_id=flt.site_id)
    if flt.subject_id is not None:
        qs = qs.filter(subject_id=flt.subject_id)
    if flt.status:
        qs = qs.filter(status=flt.status)
    if flt.modality:
        qs = qs.filter(modality=flt.modality)
    if flt.date_from is not None:
        qs = qs.filter(_on_or_after(flt.date_from))
    if flt.date_to is not None:
        qs = qs.filter(_on_or_before(flt.date_to))
    if flt.out_of_window is not None:
        qs = qs.filter(out_of_window=flt.out_of_window)
    return qs.order_by("planned_on", "site__site_number", "subject__subject_number", "definition__order", "id")


def subject_visit_get(user, visit_id: int) -> SubjectVisit:
    visit = SubjectVisit.objects.select_related("definition", "subject", "site", "study").filter(pk=visit_id).first()
    if visit is None or not permissions.has_perm(user, "visit.view", visit):
        raise NotFound("Visit not found.")
    return visit


def subject_visits_of(user, subject) -> list[SubjectVisit]:
    """One subject's visits in schedule order, each with `flag` set for display."""
    if not permissions.has_perm(user, "visit.view", subject):
        raise NotFound("Subject not found.")
    today = timezone.localdate()
    visits = list(SubjectVisit.objects.select_related("definition", "definition__protocol_version")
                  .filter(subject=subject).order_by("planned_on", "definition__order", "id"))
    for v in visits:
        v.flag = visit_flag(v.status, v.planned_on, v.window_end, v.out_of_window, today)
    return visits


def visit_deviations(user, study_id: int | None = None, site_id: int | None = None) -> QuerySet[SubjectVisit]:
    """Visits that are protocol deviations: done outside their window, or required and missed.

    Each row carries `deviation` ("out_of_window" or "missed").
    """
    qs = subject_visit_list(user, VisitFilter(study_id=study_id, site_id=site_id))
    qs = qs.filter(Q(status="completed", out_of_window=True) | Q(status="missed", definition__required=True))
    return qs.annotate(deviation=Case(When(status="missed", then=Value("missed")), default=Value("out_of_window"),
                                      output_field=CharField())).order_by("-planned_on", "id")


# --- Calendar --------------------------------------------------------------------------------

MAX_PER_DAY = 6  # the month grid lists this many visits per day, then "+N more"


@dataclass
class CalendarDay:
    date: dt.date
    in_month: bool
    is_today: bool
    visits: list[SubjectVisit] = field(default_factory=list)

    @property
    def shown(self) -> list[SubjectVisit]:
        return self.visits[:MAX_PER_DAY]

    @property
    def more(self) -> int:
        return max(0, len(self.visits) - MAX_PER_DAY)


@dataclass
class CalendarMonth:
    year: int
    month: int
    today: dt.date
    weeks: list[list[CalendarDay]]
    agenda: list[tuple[dt.date, list[SubjectVisit]]]
    overdue: list[SubjectVisit]
    count: int

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)


def visit_calendar(user, *, study_id: int, year: int, month: int, site_id: int | None = None,
                   modality: str | None = None, status: str | None = None,
                   today: dt.date | None = None) -> CalendarMonth:
    """A month of visits (actual date when recorded, else planned) and every overdue planned visit.

    Cancelled visits show only when asked for by status.
    """
    today = today or timezone.localdate()
    weeks = month_weeks(year, month)
    start, end = weeks[0][0], weeks[-1][-1]
    base = VisitFilter(study_id=study_id, site_id=site_id, modality=modality, status=status)
    qs = subject_visit_list(user, VisitFilter(**{**base.__dict__, "date_from": start, "date_to": end}))
    if not status:
        qs = qs.exclude(status="cancelled")
    by_day: dict[dt.date, list[SubjectVisit]] = {}
    visits = list(qs)
    for v in visits:
        v.flag = visit_flag(v.status, v.planned_on, v.window_end, v.out_of_window, today)
        by_day.setdefault(v.actual_on or v.planned_on, []).append(v)
    grid = [[CalendarDay(date=d, in_month=d.month == month, is_today=d == today, visits=by_day.get(d, []))
             for d in week] for week in weeks]
    agenda = sorted((d, vs) for d, vs in by_day.items() if d.month == month)
    overdue = []
    if status in (None, "", "planned"):
        overdue = list(subject_visit_list(user, VisitFilter(**{**base.__dict__, "status": "planned"}))
                       .filter(planned_on__lt=today)[:200])
        for v in overdue:
            v.flag = "overdue"
    return CalendarMonth(year=year, month=month, today=today, weeks=grid, agenda=agenda, overdue=overdue,
                         count=sum(len(vs) for _, vs in agenda))


# --- iCalendar feed ----------------------------------------------------------------------------

FEED_SALT = "visits-ics"
FEED_DAYS_AHEAD = 365
FEED_MAX_EVENTS = 5000
FEED_NOTE = ("Anyone with this link can see the planned visits (dates and pseudonymised subject numbers) of the "
             "sites you may see. Keep it private. It stops working when your account is deactivated.")


def feed_upcoming_visits(user, *, study_id: int | None = None, today: dt.date | None = None) -> list[SubjectVisit]:
    """Planned visits that can still take place (window not over), up to a year ahead, on visible sites."""
    today = today or timezone.localdate()
    qs = subject_visit_list(user, VisitFilter(study_id=study_id, status="planned")).filter(
        window_end__gte=today, planned_on__lte=today + dt.timedelta(days=FEED_DAYS_AHEAD))
    return list(qs[:FEED_MAX_EVENTS])


def feed_token(user) -> str:
    """The secret part of the user's calendar feed URL: a signature over the user id.

    Calendar apps cannot log in, so the URL itself is the credential. It stops working when the user is
    deactivated (or SECRET_KEY is rotated); what it shows follows the user's current memberships.
    """
    return signing.Signer(salt=FEED_SALT).sign_object({"u": user.pk}, compress=False)


def feed_user(token: str):
    """The active user a feed token belongs to; NotFound for a forged, altered or dead token."""
    from trialdesk.accounts.models import User

    try:
        payload = signing.Signer(salt=FEED_SALT).unsign_object(token)
        user_id = int(payload["u"])
    except (signing.BadSignature, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise NotFound("Calendar feed not found.") from None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise NotFound("Calendar feed not found.")
    return user


def visits_ics(visits: list[SubjectVisit], *, name: str) -> str:
    """The visits as an iCalendar document: one all-day event per visit on its planned date."""
    events = []
    for v in visits:
        d = v.definition
        description = "\n".join([
            f"Window: {v.window_start.isoformat()} to {v.window_end.isoformat()} "
            f"(planned {v.planned_on.isoformat()})",
            f"Modality: {v.get_modality_display() or d.get_modality_display()}",
            f"Study: {v.study.protocol_number}",
            f"Day {d.target_day} after {d.get_anchor_display().lower()}"
            + ("" if d.required else " (optional visit)"),
        ])
        events.append(ics.Event(
            uid=f"trialdesk-subject-visit-{v.pk}@trialdesk",
            dtstamp=v.updated_at,
            start=v.planned_on,
            summary=f"{d.code} {d.name} — subject {v.subject.subject_number} (site {v.site.site_number})",
            description=description,
            categories=(v.get_modality_display() or d.get_modality_display(),),
            sequence=max(0, v.version - 1),
            status="CONFIRMED",
        ))
    return ics.calendar(events, prodid="-//Trialdesk//Visit calendar//EN", name=name)
