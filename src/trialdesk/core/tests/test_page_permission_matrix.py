"""Every web page x every role (portfolio-wide, on the study, on another study) x anonymous.

The expected outcome is derived from roles.ROLE_PERMISSIONS and a plain statement of the scope rules
below, not from hard-coded results, so a change to a role's permissions changes the expectations.
A new named URL without an entry in PAGES fails `test_every_page_has_an_entry`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from trialdesk.accounts.roles import PORTFOLIO_PERMISSIONS, ROLE_PERMISSIONS, SITE_SCOPED_ROLES, Role

# Object scopes a page's permission applies to:
#   global: no object; A: study A or a record in it; A*: all of study A (site-limited grants do not count);
#   A1: site A1 of study A (the site-limited users' own site); A2: another site of study A.
SCOPES = {"global", "A", "A*", "A1", "A2"}


@dataclass(frozen=True)
class Case:
    kwargs: Callable[[dict, object], dict] = lambda w, u: {}
    needs: tuple[tuple[str, str], ...] = ()   # (permission, scope) pairs, all required
    public: bool = False                      # the sign-in page
    token: bool = False                       # open to whoever holds the URL (a secret token in it)


@dataclass(frozen=True)
class Page:
    cases: tuple[Case, ...] = field(default_factory=lambda: (Case(),))


def on(*needs, kwargs=lambda w, u: {}) -> Page:
    return Page(cases=(Case(kwargs=kwargs, needs=tuple(needs)),))


def study_a(w, u):
    return {"study_id": w["study_a"].pk}


def site(key):
    return lambda w, u: {"site_id": w[key].pk}


V = "study.view"
PAGES: dict[str, Page] = {
    # accounts
    "login": Page(cases=(Case(public=True),)),
    "logout": on(),
    "account": on(),
    "token-create": on(),
    "token-revoke": on(kwargs=lambda w, u: {"token_id": w["token_for"](u).pk}),
    "study-team": on((V, "A"), ("membership.view", "A"), kwargs=study_a),
    "membership-revoke": on(("membership.view", "A*"), ("membership.manage", "A"),
                            kwargs=lambda w, u: {"membership_id": w["membership"].pk}),
    # studies
    "portfolio": on(),
    "study-create": on(("study.create", "global")),
    "study-detail": on((V, "A"), kwargs=study_a),
    "study-edit": on((V, "A"), ("study.edit", "A"), kwargs=study_a),
    "study-transition": on((V, "A"), ("study.transition", "A"), kwargs=study_a),
    "study-arms": on((V, "A"), kwargs=study_a),
    "arm-create": on((V, "A"), ("study.edit", "A"), kwargs=study_a),
    "intervention-create": on((V, "A"), ("study.edit", "A"), kwargs=study_a),
    "study-eligibility": on((V, "A"), kwargs=study_a),
    "study-eligibility-edit": on((V, "A"), ("study.edit", "A"), kwargs=study_a),
    "study-protocols": on((V, "A"), kwargs=study_a),
    "protocol-version-create": on((V, "A"), ("protocol.edit", "A"), kwargs=study_a),
    "study-dates": on((V, "A"), kwargs=study_a),
    "study-dates-edit": on((V, "A"), ("study.edit", "A"), kwargs=study_a),
    "arm-edit": on((V, "A"), ("study.edit", "A"), kwargs=lambda w, u: {"arm_id": w["arm"].pk}),
    "intervention-edit": on((V, "A"), ("study.edit", "A"),
                            kwargs=lambda w, u: {"intervention_id": w["intervention"].pk}),
    "protocol-version-edit": on(("protocol.view", "A"), ("protocol.edit", "A"),
                                kwargs=lambda w, u: {"pv_id": w["pv"].pk}),
    "protocol-version-approve": on(("protocol.view", "A"), ("protocol.approve", "A"),
                                   kwargs=lambda w, u: {"pv_id": w["pv"].pk}),
    # sites
    "study-sites": on((V, "A"), kwargs=study_a),
    "site-create": on((V, "A"), ("site.create", "A"), kwargs=study_a),
    "site-detail": Page(cases=(Case(kwargs=site("site_a1"), needs=(("site.view", "A1"),)),
                               Case(kwargs=site("site_a2"), needs=(("site.view", "A2"),)))),
    "site-edit": Page(cases=(Case(kwargs=site("site_a1"), needs=(("site.view", "A1"), ("site.edit", "A1"))),
                             Case(kwargs=site("site_a2"), needs=(("site.view", "A2"), ("site.edit", "A2"))))),
    "site-transition": on(("site.view", "A1"), ("site.transition", "A1"), kwargs=site("site_a1")),
    "site-audit": on(("site.view", "A1"), ("audit.view", "A1"), kwargs=site("site_a1")),
    # organizations and people
    "organization-list": on(("org.view", "global")),
    "organization-create": on(("org.edit", "global")),
    "organization-detail": on(("org.view", "global"), kwargs=lambda w, u: {"org_id": w["sponsor"].pk}),
    "organization-edit": on(("org.view", "global"), ("org.edit", "global"),
                            kwargs=lambda w, u: {"org_id": w["sponsor"].pk}),
    "organization-audit": on(("org.view", "global"), ("audit.view", "global"),
                             kwargs=lambda w, u: {"org_id": w["sponsor"].pk}),
    "person-list": on(("person.view", "global")),
    "person-create": on(("person.edit", "global")),
    "person-detail": on(("person.view", "global"), kwargs=lambda w, u: {"person_id": w["person"].pk}),
    "person-edit": on(("person.view", "global"), ("person.edit", "global"),
                      kwargs=lambda w, u: {"person_id": w["person"].pk}),
    "person-audit": on(("person.view", "global"), ("audit.view", "global"),
                       kwargs=lambda w, u: {"person_id": w["person"].pk}),
    # audit
    "audit-record": on(("audit.view", "A1"), kwargs=lambda w, u: {"record_type": "sites.studysite",
                                                                 "record_id": str(w["site_a1"].pk)}),
    "audit-record-export": on(("audit.export", "A1"), kwargs=lambda w, u: {"record_type": "sites.studysite",
                                                                          "record_id": str(w["site_a1"].pk)}),
    "study-audit": on((V, "A"), ("audit.view", "A*"), kwargs=study_a),
    "study-audit-export": on((V, "A"), ("audit.export", "A*"), kwargs=study_a),
    # ClinicalTrials.gov import (another area's page, checked here like every other page)
    "ctgov-import": on(("ctgov.import", "global")),
    # visits: the schedule of the draft protocol version, calendars, recording a visit at site A1
    "protocol-schedule": on(("protocol.view", "A"), kwargs=lambda w, u: {"pv_id": w["pv"].pk}),
    "visit-definition-create": on(("protocol.view", "A"), ("schedule.edit", "A"),
                                  kwargs=lambda w, u: {"pv_id": w["pv"].pk}),
    "protocol-schedule-copy": on(("protocol.view", "A"), ("schedule.edit", "A"),
                                 kwargs=lambda w, u: {"pv_id": w["pv"].pk}),
    "visit-definition-edit": on(("protocol.view", "A"), ("schedule.edit", "A"),
                                kwargs=lambda w, u: {"definition_id": visit_definition(w).pk}),
    "visit-definition-delete": on(("protocol.view", "A"), ("schedule.edit", "A"),
                                  kwargs=lambda w, u: {"definition_id": visit_definition(w).pk}),
    "study-visits": on((V, "A"), ("visit.view", "A"), kwargs=study_a),
    "study-visits-ics": on((V, "A"), ("visit.view", "A"), kwargs=study_a),
    "study-visit-deviations": on((V, "A"), ("visit.view", "A"), kwargs=study_a),
    "site-visits": Page(cases=(Case(kwargs=site("site_a1"), needs=(("site.view", "A1"), ("visit.view", "A1"))),
                               Case(kwargs=site("site_a2"), needs=(("site.view", "A2"), ("visit.view", "A2"))))),
    "subject-visit-record": on(("visit.view", "A1"), ("visit.edit", "A1"),
                               kwargs=lambda w, u: {"visit_id": subject_visit(w).pk}),
    "subject-visit-missed": on(("visit.view", "A1"), ("visit.edit", "A1"),
                               kwargs=lambda w, u: {"visit_id": subject_visit(w).pk}),
    "visits-feed-info": on(),
    "visits-feed": Page(cases=(Case(kwargs=lambda w, u: {"token": feed_token_of(u)}, token=True),)),
    # enrollment: the chart page, plan editor (a plan with an entry for site A1, made once per world), what-if
    "study-enrollment": on((V, "A"), ("enrollment.view", "A"), kwargs=study_a),
    "enrollment-what-if": on((V, "A"), ("enrollment.view", "A"), kwargs=study_a),
    "enrollment-plan": on((V, "A"), ("enrollment.view", "A"), kwargs=study_a),
    "enrollment-plan-create": on((V, "A"), ("enrollment.plan", "A"), kwargs=study_a),
    "enrollment-plan-edit": on((V, "A"), ("enrollment.plan", "A"), kwargs=lambda w, u: study_a(enrollment_plan(w), u)),
    "enrollment-plan-rebaseline": on((V, "A"), ("enrollment.plan", "A"),
                                     kwargs=lambda w, u: study_a(enrollment_plan(w), u)),
    "enrollment-entry-create": on((V, "A"), ("enrollment.plan", "A"),
                                  kwargs=lambda w, u: study_a(enrollment_plan(w), u)),
    "enrollment-entries-generate": on((V, "A"), ("enrollment.plan", "A"),
                                      kwargs=lambda w, u: study_a(enrollment_plan(w), u)),
    "enrollment-entry-edit": on(("enrollment.view", "A"), ("enrollment.plan", "A"),
                                kwargs=lambda w, u: {"entry_id": enrollment_plan(w)["enrollment_entry"].pk}),
    "enrollment-entry-delete": on(("enrollment.view", "A"), ("enrollment.plan", "A"),
                                  kwargs=lambda w, u: {"entry_id": enrollment_plan(w)["enrollment_entry"].pk}),
    # subjects: screening log (study and site tabs), a screened subject at site A1, a draft consent form of A
    "study-subjects": on((V, "A"), ("subject.view", "A"), kwargs=study_a),
    "subject-create": on((V, "A"), ("subject.edit", "A"), kwargs=study_a),
    "subject-export": on((V, "A"), ("subject.view", "A"), kwargs=study_a),
    "subject-import": on((V, "A"), ("subject.import", "A"), kwargs=study_a),
    "subject-import-template": on((V, "A"), ("subject.import", "A"),
                                  kwargs=lambda w, u: {"study_id": w["study_a"].pk, "fmt": "xlsx"}),
    "subject-settings": on((V, "A"), ("subject.view", "A"), kwargs=study_a),
    "study-icf-versions": on((V, "A"), kwargs=study_a),
    "icf-version-create": on((V, "A"), ("icf.edit", "A"), kwargs=study_a),
    "icf-version-edit": on((V, "A"), ("icf.edit", "A"), kwargs=lambda w, u: {"icf_id": draft_icf(w).pk}),
    "icf-version-approve": on((V, "A"), ("icf.edit", "A"), kwargs=lambda w, u: {"icf_id": draft_icf(w).pk}),
    "site-subjects": on(("site.view", "A1"), ("subject.view", "A1"), kwargs=site("site_a1")),
    "subject-detail": on(("subject.view", "A1"), kwargs=lambda w, u: {"subject_id": screened_subject(w).pk}),
    "subject-transition": on(("subject.view", "A1"), ("subject.edit", "A1"),
                             kwargs=lambda w, u: {"subject_id": screened_subject(w).pk}),
    "subject-randomize": on(("subject.view", "A1"), ("consent.record", "A1"),
                            kwargs=lambda w, u: {"subject_id": screened_subject(w).pk}),
    "subject-consent": on(("subject.view", "A1"), ("consent.record", "A1"),
                          kwargs=lambda w, u: {"subject_id": screened_subject(w).pk}),
    "subject-first-dose": on(("subject.view", "A1"), ("subject.edit", "A1"),
                             kwargs=lambda w, u: {"subject_id": screened_subject(w).pk}),
    "subject-delete": on(("subject.view", "A1"), ("subject.edit", "A1"),
                         kwargs=lambda w, u: {"subject_id": screened_subject(w).pk}),
    "subject-audit": on(("subject.view", "A1"), ("audit.view", "A1"),
                        kwargs=lambda w, u: {"subject_id": screened_subject(w).pk}),
}


# Areas keep their own entries in trialdesk/<area>/tests/matrix.py as `pages(m) -> dict`, where `m` is this
# module (for Page, Case, on, study_a, site...), so areas built in parallel do not collide in this file.
def _area_pages() -> dict:
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
        if hasattr(module, "pages"):
            entries.update(module.pages(sys.modules[__name__]))
    return entries


PAGES.update(_area_pages())


def _boot():
    from trialdesk.accounts.models import User

    return User.objects.get(username="boot")


def enrollment_plan(w):
    """The world with an enrollment plan for study A and its entry for site A1, made once per world."""
    if "enrollment_entry" not in w:
        from trialdesk.enrollment.services import enrollment_plan_create, enrollment_plan_entry_create

        plan = enrollment_plan_create(user=_boot(), study=w["study_a"])
        w["enrollment_entry"] = enrollment_plan_entry_create(user=_boot(), plan=plan, data={
            "site": w["site_a1"], "planned_activation": dt.date(2026, 3, 1), "planned_rate_per_month": 1.5})
    return w


def visit_definition(w):
    """A visit on the draft protocol version's schedule, made once per world."""
    if "visit_definition" not in w:
        from trialdesk.visits.services import visit_definition_create

        w["visit_definition"] = visit_definition_create(user=_boot(), protocol_version=w["pv"], data={
            "code": "V1", "name": "Baseline", "anchor": "enrollment", "target_day": 0, "window_after": 3})
    return w["visit_definition"]


def subject_visit(w):
    """A planned visit of a subject at site A1, made once per world."""
    if "subject_visit" not in w:
        from trialdesk.subjects.models import Subject
        from trialdesk.visits.services import subject_visits_generate

        visit_definition(w)
        subject = Subject(study=w["study_a"], site=w["site_a1"], subject_number="001-001", site_sequence=1,
                          status="enrolled", consented_on=dt.date(2025, 1, 5), enrolled_on=dt.date(2025, 1, 6),
                          protocol_version=w["pv"])
        subject.save()
        w["subject_visit"] = subject_visits_generate(user=_boot(), subject=subject)[0]
    return w["subject_visit"]


def screened_subject(w):
    """A screened subject at site A1 (numbered clear of other areas' fixtures), made once per world."""
    if "screened_subject" not in w:
        from trialdesk.subjects.services import subject_create

        w["screened_subject"] = subject_create(user=_boot(), site=w["site_a1"], status="screened",
                                               on=dt.date(2025, 2, 1), subject_number="001-900")
    return w["screened_subject"]


def draft_icf(w):
    """A draft consent form of study A, made once per world."""
    if "draft_icf" not in w:
        from trialdesk.subjects.services import icf_version_create

        w["draft_icf"] = icf_version_create(user=_boot(), study=w["study_a"], data={
            "version_number": "1.0", "version_date": dt.date(2025, 1, 1), "irb_approval_date": dt.date(2025, 1, 5)})
    return w["draft_icf"]


def feed_token_of(user) -> str:
    from trialdesk.visits.selectors import feed_token

    return feed_token(user)

USER_SCOPES = ["portfolio", "study", "other"]


def grants_permission(role: Role, user_scope: str, perm: str, scope: str) -> bool:
    """Does a `role` membership of kind `user_scope` give `perm` over an object in `scope`?

    portfolio: a membership with no study. study: a membership on study A, limited to site A1 for
    site-scoped roles. other: a membership on study B (limited to its site for site-scoped roles).
    """
    assert scope in SCOPES
    if perm not in ROLE_PERMISSIONS[role]:
        return False
    if user_scope == "portfolio":
        return True
    if perm in PORTFOLIO_PERMISSIONS:
        return False  # portfolio-level rights never come from a study membership
    if scope == "global":
        return True
    if user_scope == "other":
        return False
    site_limited = role in SITE_SCOPED_ROLES
    if scope in ("A*", "A2"):
        return not site_limited
    return True


def expected_allowed(case: Case, role: Role, user_scope: str) -> bool:
    return all(grants_permission(role, user_scope, perm, scope) for perm, scope in case.needs)


def web_url_names() -> set[str]:
    """Every named URL of the web UI (the root URLconf without admin/ and api/)."""
    names: set[str] = set()

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if route.startswith(("admin/", "api/", "static/")):
                continue
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and p.name:
                names.add(p.name)

    walk(get_resolver().url_patterns, "")
    return names


def test_every_page_has_an_entry():
    missing = web_url_names() - set(PAGES)
    assert not missing, f"Pages without an entry in the permission matrix: {sorted(missing)}"
    stale = set(PAGES) - web_url_names()
    assert not stale, f"Matrix entries for pages that no longer exist: {sorted(stale)}"


@pytest.fixture
def world(db):
    """Two studies with sites, records of every kind, and an admin who created them."""
    from trialdesk.accounts.services import api_token_create, membership_grant, user_create
    from trialdesk.organizations.services import organization_create, person_create
    from trialdesk.sites.services import site_create
    from trialdesk.studies import services as studies

    boot = user_create(actor=None, username="boot")
    membership_grant(actor=None, user=boot, role=Role.ADMIN)
    sponsor = organization_create(user=boot, data={"name": "Acme Pharma", "kind": "sponsor"})
    inst = organization_create(user=boot, data={"name": "City Hospital", "kind": "institution"})
    person = person_create(user=boot, data={"first_name": "Ada", "last_name": "Lovelace"})
    study_a = studies.study_create(user=boot, data={"protocol_number": "A-1", "brief_title": "Study A",
                                                    "sponsor": sponsor})
    study_b = studies.study_create(user=boot, data={"protocol_number": "B-1", "brief_title": "Study B"})
    site_a1 = site_create(user=boot, study=study_a, data={"institution": inst, "site_number": "001"})
    site_a2 = site_create(user=boot, study=study_a, data={"institution": inst, "site_number": "002"})
    site_b1 = site_create(user=boot, study=study_b, data={"institution": inst, "site_number": "001"})
    arm = studies.arm_create(user=boot, study=study_a, data={"label": "Active"})
    intervention = studies.intervention_create(user=boot, study=study_a, data={"name": "Drug X"},
                                               arm_ids=[arm.pk])
    pv = studies.protocol_version_create(user=boot, study=study_a, data={"version_number": "1.0",
                                                                         "version_date": dt.date(2025, 1, 1)})
    member = user_create(actor=None, username="member")
    membership = membership_grant(actor=None, user=member, role=Role.VIEWER, study=study_a)
    return {"sponsor": sponsor, "person": person, "study_a": study_a, "study_b": study_b, "site_a1": site_a1,
            "site_a2": site_a2, "site_b1": site_b1, "arm": arm, "intervention": intervention, "pv": pv,
            "membership": membership,
            "token_for": lambda u: api_token_create(actor=None, user=u, name="matrix")[0]}


def make_member(world, role: Role, user_scope: str):
    from trialdesk.accounts.services import membership_grant, user_create

    # No password: hashing would dominate the run time; the client logs in with force_login.
    user = user_create(actor=None, username=f"{role.value}-{user_scope}")
    study, sites = None, []
    if user_scope in ("study", "other"):
        study = world["study_a"] if user_scope == "study" else world["study_b"]
        if role in SITE_SCOPED_ROLES:
            sites = [world["site_a1"] if user_scope == "study" else world["site_b1"]]
    membership_grant(actor=None, user=user, role=role, study=study, sites=sites)
    return user


def page_url(name: str, case: Case, world, user) -> str:
    from django.urls import reverse

    return reverse(name, kwargs=case.kwargs(world, user))


@pytest.mark.parametrize("user_scope", USER_SCOPES)
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_page_access_by_role(world, role, user_scope):
    user = make_member(world, role, user_scope)
    client = Client()
    client.force_login(user)
    wrong = []
    checked = 0
    for name, page in sorted(PAGES.items()):
        for case in page.cases:
            url = page_url(name, case, world, user)
            response = client.get(url)
            checked += 1
            if case.public:
                ok = response.status_code == 302  # signed-in users are sent on from the sign-in page
                expectation = "302"
            elif case.token or expected_allowed(case, role, user_scope):
                ok = response.status_code == 200
                expectation = "200"
            else:
                ok = response.status_code in (403, 404)
                expectation = "403/404"
            if not ok:
                wrong.append(f"{name} {url}: expected {expectation}, got {response.status_code}")
    assert checked >= len(PAGES)
    assert not wrong, f"{role.value} ({user_scope}):\n" + "\n".join(wrong)


def test_anonymous_is_sent_to_login(world):
    from trialdesk.accounts.models import User

    client = Client()
    boot = User.objects.get(username="boot")  # URL kwargs that name a user's own record use boot's
    wrong = []
    for name, page in sorted(PAGES.items()):
        for case in page.cases:
            url = page_url(name, case, world, boot)
            response = client.get(url)
            if case.public or case.token:
                if response.status_code != 200:
                    wrong.append(f"{name}: expected 200, got {response.status_code}")
            elif response.status_code != 302 or not response["Location"].startswith("/login/?next="):
                wrong.append(f"{name}: expected a redirect to /login/, got {response.status_code} "
                             f"{response.get('Location', '')}")
    assert not wrong, "\n".join(wrong)


def test_denied_pages_show_the_error_page(world):
    """A denied page is a proper 403/404 page, not a bare response."""
    user = make_member(world, Role.VIEWER, "study")
    client = Client()
    client.force_login(user)
    response = client.get(page_url("study-edit", PAGES["study-edit"].cases[0], world, user))
    assert response.status_code == 403
    assert b"Access denied" in response.content
    response = client.get(f"/studies/{world['study_b'].pk}/")
    assert response.status_code == 404
    assert b"Not found" in response.content
