"""API schemas for "My work"."""

import datetime as dt
from typing import Literal

from ninja import Field, Schema

from trialdesk.core.api_utils import Id, PageQuery, line
from trialdesk.workqueue.items import SEVERITIES

Severity = Literal[SEVERITIES]  # type: ignore[valid-type]


class WorkFilterIn(PageQuery):
    study_id: Id = Field(None, description="Only items about this study")
    kind: line(100) = Field(None, description='Only items of this kind ("startup.milestone_overdue") or area '
                                              '("startup", "staff", "training", "enrollment")')
    severity: Severity = Field(None, description="Only items of this severity")


class WorkItemOut(Schema):
    kind: str = Field(description='Stable machine key, e.g. "startup.milestone_overdue"')
    title: str
    severity: Severity
    due_date: dt.date | None
    study_id: int | None
    study_label: str
    site_id: int | None
    site_label: str
    url: str = Field(description="Where in the web UI to act on it (a path)")
    detail: str
    key: str = Field(description='The underlying record, e.g. "sitemilestone:42"')


class StudyCountOut(Schema):
    study_id: int | None
    study_label: str
    count: int


class WorkCountsOut(Schema):
    by_severity: dict[str, int] = Field(description="Items per severity (overdue, due, upcoming, info)")
    by_kind: dict[str, int]
    by_study: list[StudyCountOut]


class WorkListOut(Schema):
    as_of: dt.date
    count: int = Field(description="Items matching the filters")
    total: int = Field(description="All of the user's items, without filters")
    counts: WorkCountsOut = Field(description="Counts of the items matching the filters")
    notices: list[str] = Field(description="Areas whose items could not be loaded (the list is incomplete)")
    items: list[WorkItemOut]
