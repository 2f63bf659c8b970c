"""Every API operation x every role x scope, against the access rules in accounts/roles.py.

The expected outcome is computed here from ROLE_PERMISSIONS, PORTFOLIO_PERMISSIONS and the caller's scope
(an independent statement of the rules in docs/architecture.md), never from permissions.has_perm. Each call
runs in a savepoint that is rolled back, so every role meets the same fixture records.

A new endpoint makes `test_every_operation_has_an_entry` fail until it is added to OPERATIONS.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from conftest import PASSWORD
from trialdesk.accounts.roles import PORTFOLIO_PERMISSIONS, ROLE_PERMISSIONS, SITE_SCOPED_ROLES, Role

V1 = "/api/v1"
SCOPES = ("member", "other", "portfolio")


def can(role: Role, scope: str, perm: str, target: str) -> bool:
    """Does `role` held at `scope` give `perm` over `target`?

    scope: member (of study A; site-scoped roles: of site A1 only), other (study B / site B1), portfolio.
    target: global (no record: organizations, people, lists), portfolio (needs a portfolio-wide grant),
    study (study A or a record in it), site (site A1), whole_study (all of study A).
    """
    if perm not in ROLE_PERMISSIONS[role]:
        return False
    if scope == "portfolio":
        return True
    if perm in PORTFOLIO_PERMISSIONS or target == "portfolio":
        return False
    if target == "global":
        return True
    if scope == "other":
        return False
    return not (role in SITE_SCOPED_ROLES and target == "whole_study")


@dataclass
class World:
    study: Any
    site: Any
    other_study: Any
    other_site: Any
    org: Any
    person: Any
    pv: Any
    arm: Any
    intervention: Any
    membership: Any
    newcomer: Any
    users: dict = field(default_factory=dict)    # (role, scope) -> (user, token, secret)


# A rule: (permission or tuple of alternatives, target, status when the caller lacks it). Rules are checked in
# the order the route checks them; the first one failing gives the status.
Rule = tuple[str | tuple[str, ...], str, int]


@dataclass
class Op:
    request: Callable[[World, Any], tuple[str, dict | None, Any]]   # -> path, query, JSON body
    rules: list[Rule] = field(default_factory=list)
    ok: int = 200
    # Lists: (permission, target) deciding whether the fixture record is in the result, and how to find it.
    listed: tuple[str, str] | None = None
    contains: Callable[[World, Any, dict], bool] | None = None


def _ids(body: dict) -> set[int]:
    return {item["id"] for item in body["items"]}


def _edit(version_of: Callable[[World], Any], **fields) -> Callable:
    def request(w: World, caller, path: str) -> tuple[str, None, dict]:
        return path, None, {**fields, "version": version_of(w).version, "reason": "permission matrix"}
    return request


def _delete(obj: Callable[[World], Any]) -> Callable:
    return lambda w, caller, path: (path, None, {"version": obj(w).version, "reason": "permission matrix"})


def _get(w, caller, path):
    return path, None, None


def _spare_token(w: World, caller, path: str):
    from trialdesk.accounts.services import api_token_create

    token, _ = api_token_create(actor=None, user=caller, name="spare")
    return path.format(token_id=token.pk), None, {"reason": "matrix"}


VIEW_STUDY: Rule = ("study.view", "study", 404)
VIEW_SITE: Rule = ("site.view", "site", 404)

CTGOV_RECORD = {"protocolSection": {"identificationModule": {"nctId": "NCT09990001",
                                                              "briefTitle": "Permission matrix import"}}}

def _admin(w: World):
    return w.users[(Role.ADMIN, "portfolio")][0]


def _definition(w: World):
    """A visit definition on the draft protocol version (made inside the caller's rolled-back savepoint)."""
    from trialdesk.visits.services import visit_definition_create

    return visit_definition_create(user=_admin(w), protocol_version=w.pv, data={
        "code": "MX", "name": "Matrix visit", "anchor": "enrollment", "target_day": 7, "window_after": 3})


def _visit(w: World, *, missed: bool = False):
    """A planned (or missed) visit of a subject at site A1, remembered on the world for `contains`."""
    import datetime as dt

    from trialdesk.subjects.models import Subject
    from trialdesk.visits.services import subject_visit_mark_missed, subject_visits_generate

    _definition(w)
    subject = Subject(study=w.study, site=w.site, subject_number="A1-MATRIX", site_sequence=9000, status="enrolled",
                      consented_on=dt.date(2026, 1, 5), enrolled_on=dt.date(2026, 1, 6), protocol_version=w.pv)
    subject.save()
    visit = subject_visits_generate(user=_admin(w), subject=subject)[0]
    if missed:
        visit = subject_visit_mark_missed(user=_admin(w), visit=visit, version=visit.version, reason="matrix")
    w.visit_id = visit.pk
    return visit


def _on_visit(body: Callable[[Any], dict | None], *, missed: bool = False) -> Callable:
    def request(w: World, caller, path: str):
        visit = _visit(w, missed=missed)
        return path.format(visit_id=visit.pk), None, body(visit)
    return request


def _on_definition(body: Callable[[Any], dict] | None) -> Callable:
    def request(w: World, caller, path: str):
        d = _definition(w)
        return path.format(definition_id=d.pk), None, body(d) if body else None
    return request


def _schedule_copy(w: World, caller, path: str):
    from trialdesk.studies.services import protocol_version_create

    _definition(w)
    target = protocol_version_create(user=_admin(w), study=w.study, data={"version_number": "9.9",
                                                                          "version_date": "2026-06-01"})
    return path, None, {"source_protocol_version_id": w.pv.pk, "target_protocol_version_id": target.pk}


def _listing_visit(missed: bool = False) -> Callable:
    def request(w: World, caller, path: str):
        _visit(w, missed=missed)
        return path, None, None
    return request


VIEW_VISIT: Rule = ("visit.view", "site", 404)
VIEW_PROTOCOL: Rule = ("protocol.view", "study", 404)

def _plan(w: World):
    """The study's enrollment plan with one entry for site A1 (made inside the caller's rolled-back savepoint)."""
    import datetime as dt

    from trialdesk.enrollment.services import enrollment_plan_create, enrollment_plan_entry_create

    plan = enrollment_plan_create(user=_admin(w), study=w.study)
    entry = enrollment_plan_entry_create(user=_admin(w), plan=plan, data={
        "site": w.site, "planned_activation": dt.date(2026, 3, 1), "planned_rate_per_month": 1.5})
    return plan, entry


def _on_plan(body: Callable[[Any], dict] | None = None) -> Callable:
    def request(w: World, caller, path: str):
        plan, _ = _plan(w)
        return path.format(plan_id=plan.pk), None, body(plan) if body else None
    return request


def _on_entry(body: Callable[[Any], dict]) -> Callable:
    def request(w: World, caller, path: str):
        _, entry = _plan(w)
        return path.format(entry_id=entry.pk), None, body(entry)
    return request


VIEW_ENROLLMENT: Rule = ("enrollment.view", "study", 404)
PLAN_ENROLLMENT: Rule = ("enrollment.plan", "study", 403)


@dataclass
class Upload:
    """A multipart/form-data request body (file uploads), sent instead of JSON."""

    files: dict


def _subject(w: World, *, enrolled: bool = False):
    """A screened (or enrolled) subject at site A1 (made inside the caller's rolled-back savepoint)."""
    import datetime as dt

    from trialdesk.subjects.models import Subject
    from trialdesk.subjects.services import subject_create

    subject = subject_create(user=_admin(w), site=w.site, status="screened", on=dt.date(2025, 2, 1))
    if enrolled:  # set directly: enrolling needs an activated site and delegated staff, beside the point here
        Subject.objects.filter(pk=subject.pk).update(status="enrolled", consented_on=dt.date(2025, 2, 2),
                                                     enrolled_on=dt.date(2025, 2, 3))
        subject.refresh_from_db()
    w.subject_id = subject.pk
    return subject


def _icf(w: World, *, approve: bool = False):
    """A consent form of study A, draft or approved (made inside the caller's rolled-back savepoint)."""
    import datetime as dt

    from trialdesk.subjects.services import icf_version_approve, icf_version_create

    icf = icf_version_create(user=_admin(w), study=w.study, data={
        "version_number": "1.0", "version_date": dt.date(2025, 1, 1), "irb_approval_date": dt.date(2025, 1, 5)})
    if approve:
        icf = icf_version_approve(user=_admin(w), icf_version=icf, version=icf.version)
    w.icf_id = icf.pk
    return icf


def _on_subject(body: Callable[[World, Any], dict] | None, *, enrolled: bool = False) -> Callable:
    def request(w: World, caller, path: str):
        subject = _subject(w, enrolled=enrolled)
        return path.format(subject_id=subject.pk), None, body(w, subject) if body else None
    return request


def _on_icf(body: Callable[[Any], dict] | None) -> Callable:
    def request(w: World, caller, path: str):
        icf = _icf(w)
        return path.format(icf_id=icf.pk), None, body(icf) if body else None
    return request


def _listing_subject(w: World, caller, path: str):
    _subject(w)
    return path, None, None


def _listing_icf(w: World, caller, path: str):
    _icf(w)
    return path, None, None


def _listing_reconsent(w: World, caller, path: str):
    from trialdesk.subjects.models import ReconsentRequirement

    w.reconsent_id = ReconsentRequirement.objects.create(subject=_subject(w), icf_version=_icf(w)).pk
    return path, None, None


def _consent_body(w: World, subject) -> dict:
    # The site A1 principal investigator, on its staff roster as such, may obtain consent there.
    import datetime as dt

    from trialdesk.staff.tests.helpers import make_site_pi

    investigator = w.users[(Role.PRINCIPAL_INVESTIGATOR, "member")][0]
    make_site_pi(_admin(w), w.site, investigator, start=dt.date(2025, 1, 1))
    w.site.refresh_from_db()
    return {"icf_version_id": _icf(w, approve=True).pk, "consented_on": "2025-02-03", "method": "paper",
            "obtained_by_id": investigator.person_id}


VIEW_SUBJECT: Rule = ("subject.view", "site", 404)
EDIT_SUBJECT: Rule = ("subject.edit", "site", 403)
RECORD_CONSENT: Rule = ("consent.record", "site", 403)
EDIT_ICF: Rule = ("icf.edit", "study", 403)
SCREENING_LOG = b"site_number,status,screened_on\n001,screened,2025-02-01\n"

OPERATIONS: dict[tuple[str, str], Op] = {
    # --- studies
    ("GET", "/studies"): Op(_get, listed=("study.view", "study"),
                            contains=lambda w, c, body: w.study.pk in _ids(body)),
    ("GET", "/studies/portfolio"): Op(_get, listed=("study.view", "study"),
                                      contains=lambda w, c, body: w.study.pk in [i["study"]["id"]
                                                                                 for i in body["items"]]),
    ("POST", "/studies"): Op(lambda w, c, p: (p, None, {"protocol_number": "NEW-1", "brief_title": "New",
                                                        "sponsor_id": w.org.pk}),
                             [("study.create", "portfolio", 403)], ok=201),
    ("GET", "/studies/{study_id}"): Op(_get, [VIEW_STUDY]),
    ("PATCH", "/studies/{study_id}"): Op(_edit(lambda w: w.study, acronym="CHANGED"),
                                         [VIEW_STUDY, ("study.edit", "study", 403)]),
    ("DELETE", "/studies/{study_id}"): Op(_delete(lambda w: w.study), [VIEW_STUDY, ("study.delete", "study", 403)]),
    ("POST", "/studies/{study_id}/transition"): Op(_edit(lambda w: w.study, status="start_up"),
                                                   [VIEW_STUDY, ("study.transition", "study", 403)]),
    ("GET", "/studies/{study_id}/protocol-versions"): Op(_get, [VIEW_STUDY, ("protocol.view", "study", 404)]),
    ("POST", "/studies/{study_id}/protocol-versions"): Op(
        lambda w, c, p: (p, None, {"version_number": "9.0", "version_date": "2026-06-01"}),
        [VIEW_STUDY, ("protocol.edit", "study", 403)], ok=201),
    ("GET", "/studies/protocol-versions/{pv_id}"): Op(_get, [("protocol.view", "study", 404)]),
    ("PATCH", "/studies/protocol-versions/{pv_id}"): Op(_edit(lambda w: w.pv, summary_of_changes="Edited"),
                                                        [("protocol.view", "study", 404),
                                                         ("protocol.edit", "study", 403)]),
    ("DELETE", "/studies/protocol-versions/{pv_id}"): Op(_delete(lambda w: w.pv), [("protocol.view", "study", 404),
                                                                                   ("protocol.edit", "study", 403)]),
    ("POST", "/studies/protocol-versions/{pv_id}/approve"): Op(
        lambda w, c, p: (p, None, {"password": PASSWORD, "version": w.pv.version}),
        [("protocol.view", "study", 404), ("protocol.approve", "study", 403)]),
    ("GET", "/studies/{study_id}/arms"): Op(_get, [VIEW_STUDY]),
    ("POST", "/studies/{study_id}/arms"): Op(lambda w, c, p: (p, None, {"label": "New arm"}),
                                             [VIEW_STUDY, ("study.edit", "study", 403)], ok=201),
    ("GET", "/studies/arms/{arm_id}"): Op(_get, [VIEW_STUDY]),
    ("PATCH", "/studies/arms/{arm_id}"): Op(_edit(lambda w: w.arm, label="Renamed"),
                                            [VIEW_STUDY, ("study.edit", "study", 403)]),
    ("DELETE", "/studies/arms/{arm_id}"): Op(_delete(lambda w: w.arm), [VIEW_STUDY, ("study.edit", "study", 403)]),
    ("GET", "/studies/{study_id}/interventions"): Op(_get, [VIEW_STUDY]),
    ("POST", "/studies/{study_id}/interventions"): Op(
        lambda w, c, p: (p, None, {"name": "Rescue inhaler", "arm_ids": [w.arm.pk]}),
        [VIEW_STUDY, ("study.edit", "study", 403)], ok=201),
    ("GET", "/studies/interventions/{intervention_id}"): Op(_get, [VIEW_STUDY]),
    ("PATCH", "/studies/interventions/{intervention_id}"): Op(_edit(lambda w: w.intervention, kind="DRUG"),
                                                              [VIEW_STUDY, ("study.edit", "study", 403)]),
    ("DELETE", "/studies/interventions/{intervention_id}"): Op(_delete(lambda w: w.intervention),
                                                               [VIEW_STUDY, ("study.edit", "study", 403)]),
    # --- sites
    ("GET", "/sites"): Op(_get, listed=("site.view", "site"), contains=lambda w, c, body: w.site.pk in _ids(body)),
    ("POST", "/sites"): Op(lambda w, c, p: (p, None, {"study_id": w.study.pk, "institution_id": w.org.pk,
                                                      "site_number": "777"}),
                           # an invisible study in the body is an unknown id: a field error, not a leak
                           [("study.view", "study", 422), ("site.create", "study", 403)], ok=201),
    ("GET", "/sites/{site_id}"): Op(_get, [VIEW_SITE]),
    ("PATCH", "/sites/{site_id}"): Op(_edit(lambda w: w.site, city="Potsdam"), [VIEW_SITE, ("site.edit", "site", 403)]),
    ("DELETE", "/sites/{site_id}"): Op(_delete(lambda w: w.site), [VIEW_SITE, ("site.delete", "site", 403)]),
    ("POST", "/sites/{site_id}/transition"): Op(_edit(lambda w: w.site, status="selected"),
                                                [VIEW_SITE, ("site.transition", "site", 403)]),
    # --- organizations and people
    ("GET", "/organizations"): Op(_get, listed=("org.view", "global"),
                                  contains=lambda w, c, body: w.org.pk in _ids(body)),
    ("POST", "/organizations"): Op(lambda w, c, p: (p, None, {"name": "New CRO", "kind": "cro"}),
                                   [("org.edit", "global", 403)], ok=201),
    ("GET", "/organizations/{org_id}"): Op(_get, [("org.view", "global", 404)]),
    ("PATCH", "/organizations/{org_id}"): Op(_edit(lambda w: w.org, city="Boston"),
                                             [("org.view", "global", 404), ("org.edit", "global", 403)]),
    ("DELETE", "/organizations/{org_id}"): Op(_delete(lambda w: w.org),
                                              [("org.view", "global", 404), ("org.edit", "global", 403)]),
    ("GET", "/people"): Op(_get, listed=("person.view", "global"),
                           contains=lambda w, c, body: w.person.pk in _ids(body)),
    ("POST", "/people"): Op(lambda w, c, p: (p, None, {"first_name": "Ada", "last_name": "Byron"}),
                            [("person.edit", "global", 403)], ok=201),
    ("GET", "/people/{person_id}"): Op(_get, [("person.view", "global", 404)]),
    ("PATCH", "/people/{person_id}"): Op(_edit(lambda w: w.person, job_title="Study nurse"),
                                         [("person.view", "global", 404), ("person.edit", "global", 403)]),
    ("DELETE", "/people/{person_id}"): Op(_delete(lambda w: w.person),
                                          [("person.view", "global", 404), ("person.edit", "global", 403)]),
    # --- accounts
    ("GET", "/accounts/me"): Op(_get),
    ("GET", "/accounts/memberships"): Op(_get, listed=("membership.view", "study"),
                                         contains=lambda w, c, body: w.membership.pk in _ids(body)),
    ("POST", "/accounts/memberships"): Op(
        lambda w, c, p: (p, None, {"user_id": w.newcomer.pk, "role": "viewer", "study_id": w.study.pk}),
        [("study.view", "study", 422), (("user.manage", "membership.view"), "global", 422),
         ("membership.manage", "study", 403)], ok=201),
    ("GET", "/accounts/memberships/{membership_id}"): Op(_get, [("membership.view", "whole_study", 404)]),
    ("POST", "/accounts/memberships/{membership_id}/revoke"): Op(
        lambda w, c, p: (p, None, {"reason": "matrix", "version": w.membership.version}),
        [("membership.view", "whole_study", 404), ("membership.manage", "study", 403)]),
    ("GET", "/accounts/tokens"): Op(_get, listed=None,
                                    contains=lambda w, c, body: bool(body["items"])),
    ("POST", "/accounts/tokens/{token_id}/revoke"): Op(_spare_token),
    # --- audit
    ("GET", "/audit/records/{record_type}/{record_id}"): Op(_get, [("audit.view", "study", 404)]),
    ("GET", "/audit/records/{record_type}/{record_id}/export.csv"): Op(
        _get, [("audit.view", "study", 404), ("audit.export", "study", 403)]),
    ("GET", "/audit/studies/{study_id}"): Op(_get, [VIEW_STUDY, ("audit.view", "whole_study", 403)]),
    ("GET", "/audit/studies/{study_id}/export.csv"): Op(_get, [VIEW_STUDY, ("audit.export", "whole_study", 403)]),
    ("GET", "/audit/verify"): Op(_get, [("audit.view", "portfolio", 403)]),
    # --- ClinicalTrials.gov import (router owned by the ctgov area)
    ("POST", "/imports/ctgov"): Op(lambda w, c, p: (p, None, CTGOV_RECORD), [("ctgov.import", "portfolio", 403)]),
    # --- visits: schedule of events (on the draft protocol version) and subjects' visits (at site A1)
    ("GET", "/visits/definitions"): Op(lambda w, c, p: (p, {"protocol_version_id": w.pv.pk}, None), [VIEW_PROTOCOL]),
    ("POST", "/visits/definitions"): Op(
        lambda w, c, p: (p, None, {"protocol_version_id": w.pv.pk, "code": "NEW", "name": "New", "target_day": 1}),
        [("protocol.view", "study", 422), ("schedule.edit", "study", 403)], ok=201),
    ("POST", "/visits/definitions/copy"): Op(_schedule_copy, [("protocol.view", "study", 422),
                                                              ("schedule.edit", "study", 403)], ok=201),
    ("GET", "/visits/definitions/{definition_id}"): Op(_on_definition(None), [VIEW_PROTOCOL]),
    ("PATCH", "/visits/definitions/{definition_id}"): Op(
        _on_definition(lambda d: {"name": "Renamed", "version": d.version, "reason": "permission matrix"}),
        [VIEW_PROTOCOL, ("schedule.edit", "study", 403)]),
    ("DELETE", "/visits/definitions/{definition_id}"): Op(
        _on_definition(lambda d: {"version": d.version, "reason": "permission matrix"}),
        [VIEW_PROTOCOL, ("schedule.edit", "study", 403)]),
    ("GET", "/visits/subject-visits"): Op(_listing_visit(), listed=("visit.view", "site"),
                                          contains=lambda w, c, body: w.visit_id in _ids(body)),
    ("GET", "/visits/subject-visits/{visit_id}"): Op(_on_visit(lambda v: None), [VIEW_VISIT]),
    ("POST", "/visits/subject-visits/{visit_id}/record"): Op(
        _on_visit(lambda v: {"actual_on": "2026-01-14", "version": v.version}),
        [VIEW_VISIT, ("visit.edit", "site", 403)]),
    ("POST", "/visits/subject-visits/{visit_id}/mark-missed"): Op(
        _on_visit(lambda v: {"version": v.version, "reason": "permission matrix"}),
        [VIEW_VISIT, ("visit.edit", "site", 403)]),
    ("GET", "/visits/deviations"): Op(_listing_visit(missed=True), listed=("visit.view", "site"),
                                      contains=lambda w, c, body: w.visit_id in _ids(body)),
    ("GET", "/visits/feed"): Op(_get),
    # --- enrollment: actuals, forecasts and what-if for any viewer; plans for plan holders
    ("GET", "/enrollment/studies/{study_id}/summary"): Op(_get, [VIEW_STUDY, VIEW_ENROLLMENT]),
    ("GET", "/enrollment/studies/{study_id}/curve"): Op(_get, [VIEW_STUDY, VIEW_ENROLLMENT]),
    ("GET", "/enrollment/studies/{study_id}/forecast"): Op(_get, [VIEW_STUDY, VIEW_ENROLLMENT]),
    ("GET", "/enrollment/studies/{study_id}/warnings"): Op(_get, [VIEW_STUDY, VIEW_ENROLLMENT]),
    ("POST", "/enrollment/studies/{study_id}/what-if"): Op(lambda w, c, p: (p, None, {"target": 50}),
                                                           [VIEW_STUDY, VIEW_ENROLLMENT]),
    ("GET", "/enrollment/studies/{study_id}/plans"): Op(_get, [VIEW_STUDY, VIEW_ENROLLMENT]),
    ("POST", "/enrollment/studies/{study_id}/plans"): Op(lambda w, c, p: (p, None, {"label": "Matrix"}),
                                                         [VIEW_STUDY, PLAN_ENROLLMENT], ok=201),
    ("GET", "/enrollment/plans/{plan_id}"): Op(_on_plan(), [VIEW_ENROLLMENT]),
    ("PATCH", "/enrollment/plans/{plan_id}"): Op(
        _on_plan(lambda plan: {"target": 90, "version": plan.version, "reason": "matrix"}),
        [VIEW_ENROLLMENT, PLAN_ENROLLMENT]),
    ("POST", "/enrollment/plans/{plan_id}/rebaseline"): Op(
        _on_plan(lambda plan: {"version": plan.version, "reason": "matrix"}), [VIEW_ENROLLMENT, PLAN_ENROLLMENT],
        ok=201),
    ("POST", "/enrollment/plans/{plan_id}/entries"): Op(
        _on_plan(lambda plan: {"country": "Japan", "planned_activation": "2026-05-01", "planned_rate_per_month": 2}),
        [VIEW_ENROLLMENT, PLAN_ENROLLMENT], ok=201),
    ("POST", "/enrollment/plans/{plan_id}/generate-entries"): Op(
        _on_plan(lambda plan: {"rate_per_month": 1, "activation_date": "2026-05-01"}),
        [VIEW_ENROLLMENT, PLAN_ENROLLMENT], ok=201),
    ("PATCH", "/enrollment/entries/{entry_id}"): Op(
        _on_entry(lambda e: {"planned_rate_per_month": 2, "version": e.version, "reason": "matrix"}),
        [VIEW_ENROLLMENT, PLAN_ENROLLMENT]),
    ("DELETE", "/enrollment/entries/{entry_id}"): Op(_on_entry(lambda e: {"version": e.version, "reason": "matrix"}),
                                                     [VIEW_ENROLLMENT, PLAN_ENROLLMENT]),
    # --- subjects: screening log, consent and randomization at site A1; consent forms and settings of study A
    ("GET", "/subjects"): Op(_listing_subject, listed=("subject.view", "site"),
                             contains=lambda w, c, body: w.subject_id in _ids(body)),
    ("POST", "/subjects"): Op(lambda w, c, p: (p, None, {"site_id": w.site.pk, "status": "screened",
                                                         "on": "2025-02-01"}),
                              # an invisible site in the body is an unknown id: a field error, not a leak
                              [("site.view", "site", 422), EDIT_SUBJECT], ok=201),
    ("GET", "/subjects/{subject_id}"): Op(_on_subject(None), [VIEW_SUBJECT]),
    ("PATCH", "/subjects/{subject_id}"): Op(
        _on_subject(lambda w, s: {"first_dose_on": None, "version": s.version, "reason": "matrix"}),
        [VIEW_SUBJECT, EDIT_SUBJECT]),
    ("DELETE", "/subjects/{subject_id}"): Op(_on_subject(lambda w, s: {"version": s.version, "reason": "matrix"}),
                                             [VIEW_SUBJECT, EDIT_SUBJECT]),
    ("POST", "/subjects/{subject_id}/transition"): Op(
        _on_subject(lambda w, s: {"status": "screen_failed", "on": "2025-02-02", "version": s.version,
                                  "reason": "matrix", "screen_fail_reason_code": "exclusion_met"}),
        [VIEW_SUBJECT, EDIT_SUBJECT]),
    ("POST", "/subjects/{subject_id}/randomize"): Op(
        _on_subject(lambda w, s: {"arm_id": w.arm.pk, "randomized_on": "2025-02-04", "version": s.version},
                    enrolled=True),
        [VIEW_SUBJECT, RECORD_CONSENT], ok=201),
    ("GET", "/subjects/{subject_id}/consents"): Op(_on_subject(None), [VIEW_SUBJECT]),
    ("POST", "/subjects/{subject_id}/consents"): Op(_on_subject(_consent_body), [VIEW_SUBJECT, RECORD_CONSENT],
                                                    ok=201),
    ("GET", "/subjects/icf-versions"): Op(_listing_icf, listed=("study.view", "study"),
                                          contains=lambda w, c, body: w.icf_id in _ids(body)),
    ("POST", "/subjects/icf-versions"): Op(lambda w, c, p: (p, None, {"study_id": w.study.pk, "version_number": "7.0",
                                                                      "version_date": "2025-01-01"}),
                                           [("study.view", "study", 422), EDIT_ICF], ok=201),
    ("GET", "/subjects/icf-versions/{icf_id}"): Op(_on_icf(None), [VIEW_STUDY]),
    ("PATCH", "/subjects/icf-versions/{icf_id}"): Op(
        _on_icf(lambda i: {"country": "Germany", "version": i.version, "reason": "matrix"}), [VIEW_STUDY, EDIT_ICF]),
    ("POST", "/subjects/icf-versions/{icf_id}/approve"): Op(_on_icf(lambda i: {"version": i.version}),
                                                            [VIEW_STUDY, EDIT_ICF]),
    ("GET", "/subjects/reconsents"): Op(_listing_reconsent, listed=("subject.view", "site"),
                                        contains=lambda w, c, body: w.reconsent_id in _ids(body)),
    ("GET", "/subjects/settings/{study_id}"): Op(_get, [VIEW_STUDY]),
    ("PATCH", "/subjects/settings/{study_id}"): Op(
        lambda w, c, p: (p, None, {"no_enrollment_alert_days": 30, "version": 1, "reason": "matrix"}),
        [VIEW_STUDY, ("study.edit", "study", 403)]),
    ("POST", "/subjects/import"): Op(
        lambda w, c, p: (f"{p}?study_id={w.study.pk}&dry_run=true", None,
                         Upload({"file": io.BytesIO(SCREENING_LOG)})),
        [VIEW_STUDY, ("subject.import", "study", 403)]),
    ("GET", "/subjects/import/template"): Op(lambda w, c, p: (p, {"study_id": w.study.pk, "format": "csv"}, None),
                                             [VIEW_STUDY, ("subject.import", "study", 403)]),
}


# Areas keep their own entries in trialdesk/<area>/tests/matrix.py as `api_operations(m) -> dict`, where `m` is
# this module (for Op, Rule, World, _get...), so areas built in parallel do not collide in this file.
def _area_entries(function: str) -> dict:
    import sys
    from importlib import import_module

    entries: dict = {}
    for area in ("startup", "staff", "training", "workqueue"):
        try:
            module = import_module(f"trialdesk.{area}.tests.matrix")
        except ModuleNotFoundError as exc:
            if exc.name != f"trialdesk.{area}.tests.matrix":
                raise
            continue
        if hasattr(module, function):
            entries.update(getattr(module, function)(sys.modules[__name__]))
    return entries


OPERATIONS.update(_area_entries("api_operations"))


def expected_status(op: Op, role: Role, scope: str) -> int:
    for perms, target, denied in op.rules:
        alternatives = perms if isinstance(perms, tuple) else (perms,)
        if not any(can(role, scope, perm, target) for perm in alternatives):
            return denied
    return op.ok


class _KeepUnknown(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"   # left for the operation's request builder to fill (see _spare_token)


def _path(template: str, w: World) -> str:
    return (V1 + template).format_map(_KeepUnknown(
        study_id=w.study.pk, site_id=w.site.pk, pv_id=w.pv.pk, arm_id=w.arm.pk, intervention_id=w.intervention.pk,
        org_id=w.org.pk, person_id=w.person.pk, membership_id=w.membership.pk, record_type="studies.study",
        record_id=w.study.pk,
    ))


def _schema_operations() -> set[tuple[str, str]]:
    from trialdesk.api import api

    paths = api.get_openapi_schema()["paths"]
    return {(method.upper(), path.removeprefix(V1)) for path, item in paths.items() for method in item}


def test_every_operation_has_an_entry():
    in_schema = _schema_operations()
    assert sorted(in_schema - set(OPERATIONS)) == [], "add these operations to OPERATIONS"
    assert sorted(set(OPERATIONS) - in_schema) == [], "these entries name operations that no longer exist"


@pytest.fixture
def world(db, make_user, admin_user, study, sites):
    from trialdesk.accounts.models import Membership
    from trialdesk.accounts.services import api_token_create
    from trialdesk.organizations.services import person_create
    from trialdesk.sites.services import site_create
    from trialdesk.studies.services import arm_create, intervention_create, protocol_version_create, study_create

    other_study = study_create(user=admin_user, data={"protocol_number": "OTHER-1", "brief_title": "Other"})
    other_site = site_create(user=admin_user, study=other_study, data={
        "institution": sites[1].institution, "site_number": "B01"})
    pv = protocol_version_create(user=admin_user, study=study, data={"version_number": "1.0",
                                                                     "version_date": "2026-01-10"})
    arm = arm_create(user=admin_user, study=study, data={"label": "Placebo"})
    intervention = intervention_create(user=admin_user, study=study, data={"name": "Placebo inhaler"},
                                       arm_ids=[arm.pk])
    target_user = make_user(Role.VIEWER, study=study, username="target")
    w = World(study=study, site=sites[0], other_study=other_study, other_site=other_site, org=study.sponsor,
              person=person_create(user=admin_user, data={"first_name": "Pia", "last_name": "Ibsen"}), pv=pv,
              arm=arm, intervention=intervention, membership=Membership.objects.get(user=target_user),
              newcomer=make_user(username="newcomer"))
    for role in Role:
        site_scoped = role in SITE_SCOPED_ROLES
        for scope, on_study, on_sites in (("member", study, [sites[0]]), ("other", other_study, [other_site]),
                                          ("portfolio", None, [])):
            user = make_user(role, study=on_study, sites=on_sites if site_scoped and on_study else (),
                             username=f"{role.value}-{scope}")
            token, secret = api_token_create(actor=None, user=user)
            w.users[(role, scope)] = (user, token, secret)
    return w


def _call(method: str, path: str, query: dict | None, body: Any, secret: str | None):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}") if secret else Client()
    if method == "GET":
        resp = client.get(path, query or {})
    elif isinstance(body, Upload):
        resp = client.post(path, body.files)
    else:
        resp = client.generic(method, path, json.dumps(body if body is not None else {}),
                              content_type="application/json")
    content = b"".join(resp.streaming_content) if resp.streaming else resp.content
    return resp.status_code, content


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=lambda key: f"{key[0]} {key[1]}")
def test_operation_permissions(world, key):
    method, template = key
    op = OPERATIONS[key]
    mismatches = []
    callers = [(role, scope) for role in Role for scope in SCOPES] + [(None, "anonymous")]
    for role, scope in callers:
        user, _token, secret = world.users.get((role, scope), (world.newcomer, None, None))
        with transaction.atomic():
            path, query, body = op.request(world, user, _path(template, world))
            status, content = _call(method, path, query, body, secret)
            transaction.set_rollback(True)
        want = 401 if role is None else expected_status(op, role, scope)
        if status != want:
            mismatches.append(f"{role} ({scope}): got {status}, expected {want}: {content[:200]!r}")
            continue
        if role is not None and op.contains is not None:
            present = op.contains(world, user, json.loads(content))
            should = can(role, scope, *op.listed) if op.listed else True
            if present != should:
                mismatches.append(f"{role} ({scope}): fixture record listed={present}, expected {should}")
    assert not mismatches, "\n".join(mismatches)


def test_matrix_is_not_vacuous():
    """Every operation succeeds for some caller; every guarded write is also refused to some caller."""
    for key, op in OPERATIONS.items():
        outcomes = {expected_status(op, role, scope) for role in Role for scope in SCOPES}
        assert op.ok in outcomes, key
        if op.rules and key[0] != "GET":
            assert len(outcomes) > 1, key
