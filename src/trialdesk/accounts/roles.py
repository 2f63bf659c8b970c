"""Roles and what each may do: the single table behind every access decision.

Pure data, no Django import. A permission is "<area>.<verb>". `view` permissions
are read-only; the Auditor and Viewer roles hold nothing else.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CPM = "cpm"
    CRA = "cra"
    SITE_COORDINATOR = "site_coordinator"
    PRINCIPAL_INVESTIGATOR = "principal_investigator"
    REGULATORY = "regulatory"
    FINANCE = "finance"
    VIEWER = "viewer"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "Admin",
    Role.CPM: "Clinical Project Manager",
    Role.CRA: "CRA / Monitor",
    Role.SITE_COORDINATOR: "Site Coordinator",
    Role.PRINCIPAL_INVESTIGATOR: "Principal Investigator",
    Role.REGULATORY: "Regulatory / TMF Specialist",
    Role.FINANCE: "Finance",
    Role.VIEWER: "Viewer",
    Role.AUDITOR: "Auditor / Inspector",
}

# Roles whose membership is normally limited to named sites.
SITE_SCOPED_ROLES = frozenset({Role.CRA, Role.SITE_COORDINATOR, Role.PRINCIPAL_INVESTIGATOR})

VIEW = frozenset({"study.view", "site.view", "org.view", "person.view", "protocol.view", "subject.view",
                  "visit.view", "enrollment.view", "startup.view", "staff.view", "training.view"})

ALL_PERMISSIONS = frozenset(
    VIEW
    | {
        "study.create",        # portfolio-level: create or import studies
        "study.edit",          # edit study data, arms, eligibility, dates
        "study.transition",    # lifecycle status changes
        "study.delete",
        "protocol.edit",       # draft protocol versions and amendments
        "protocol.approve",    # sign a protocol version as approved
        "site.create",
        "site.edit",
        "site.transition",
        "site.delete",
        "org.edit",
        "person.edit",
        "membership.view",
        "membership.manage",
        "audit.view",
        "audit.export",
        "ctgov.import",
        "user.manage",
        "subject.edit",        # screening log: add subjects, record status changes
        "subject.import",      # bulk screening-log import
        "consent.record",      # consent and re-consent events, randomization records
        "icf.edit",            # consent form versions and their IRB/IEC approval
        "visit.edit",          # record actual visits
        "schedule.edit",       # schedule of events per protocol version
        "enrollment.plan",     # enrollment plans and re-baselines
        "startup.edit",        # feasibility questionnaires, selection, start-up milestones and their template
        "feasibility.answer",  # answer the feasibility questionnaire for one's own site
        "staff.edit",          # site staff roster (roles, dates, CV, licence, GCP certificate)
        "delegation.edit",     # propose, end delegation-log entries
        "delegation.sign",     # sign delegation-log entries (the site's principal investigator only)
        "training.manage",     # trainings, sessions, quizzes, requirements, refreshers
        "training.attend",     # acknowledge one's own attendance, take one's own quiz
    }
)

# What site staff enter themselves (the screening log, consent, visits).
SITE_DATA_ENTRY = frozenset({"subject.edit", "subject.import", "consent.record", "visit.edit"})

# What site staff keep themselves: feasibility answers, their roster and delegation log, their training.
SITE_STAFF_RECORDS = frozenset({"feasibility.answer", "staff.edit", "delegation.edit", "training.attend"})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: ALL_PERMISSIONS,
    Role.CPM: ALL_PERMISSIONS - {"user.manage"},
    Role.CRA: VIEW | {"site.edit", "audit.view", "membership.view", "startup.edit", "staff.edit", "delegation.edit",
                      "training.manage", "training.attend"},
    Role.SITE_COORDINATOR: VIEW | SITE_DATA_ENTRY | SITE_STAFF_RECORDS | {"audit.view"},
    Role.PRINCIPAL_INVESTIGATOR: VIEW | SITE_DATA_ENTRY | SITE_STAFF_RECORDS | {"audit.view", "delegation.sign"},
    Role.REGULATORY: VIEW | {"protocol.edit", "icf.edit", "schedule.edit", "audit.view", "audit.export",
                             "membership.view", "org.edit", "person.edit", "startup.edit", "staff.edit"},
    Role.FINANCE: VIEW,
    Role.VIEWER: VIEW,
    Role.AUDITOR: VIEW | {"audit.view", "audit.export", "membership.view"},
}

# Permissions that make sense only portfolio-wide (a membership with no study).
PORTFOLIO_PERMISSIONS = frozenset({"study.create", "ctgov.import", "org.edit", "person.edit", "user.manage"})


def permissions_for(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(Role(role), frozenset())


def roles_with(permission: str) -> frozenset[Role]:
    return frozenset(role for role, perms in ROLE_PERMISSIONS.items() if permission in perms)
