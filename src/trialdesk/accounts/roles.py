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
                  "visit.view", "enrollment.view"})

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
    }
)

# What site staff enter themselves (the screening log, consent, visits).
SITE_DATA_ENTRY = frozenset({"subject.edit", "subject.import", "consent.record", "visit.edit"})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: ALL_PERMISSIONS,
    Role.CPM: ALL_PERMISSIONS - {"user.manage"},
    Role.CRA: VIEW | {"site.edit", "audit.view", "membership.view"},
    Role.SITE_COORDINATOR: VIEW | SITE_DATA_ENTRY | {"audit.view"},
    Role.PRINCIPAL_INVESTIGATOR: VIEW | SITE_DATA_ENTRY | {"audit.view"},
    Role.REGULATORY: VIEW | {"protocol.edit", "icf.edit", "schedule.edit", "audit.view", "audit.export",
                             "membership.view", "org.edit", "person.edit"},
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
