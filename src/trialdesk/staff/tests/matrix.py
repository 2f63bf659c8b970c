"""Permission-matrix entries for the staff area (see core/tests/test_api_permission_matrix.py and
test_page_permission_matrix.py, which import `api_operations(m)` and `pages(m)` from here)."""

from __future__ import annotations

import datetime as dt

START = dt.date(2026, 1, 5)


# --- API -------------------------------------------------------------------------------------------------------

def _admin(m, w):
    from trialdesk.accounts.roles import Role

    return w.users[(Role.ADMIN, "portfolio")][0]


def _staff(m, w):
    """Pia Ibsen on the roster of site A1 with a valid GCP certificate (inside the caller's rolled-back savepoint)."""
    from trialdesk.staff.services import site_staff_create

    staff = site_staff_create(user=_admin(m, w), site=w.site, data={
        "person": w.person, "role": "study_nurse", "start_date": START, "gcp_certificate_date": dt.date(2025, 6, 1),
        "gcp_expiry": dt.date(2030, 6, 1)})
    w.staff_id = staff.pk
    return staff


def _delegation(m, w, *, signed: bool = False, signer=None):
    """A pending delegation to Pia at site A1; trained on the protocol (so it can be signed) when asked, or signed
    by the site's principal investigator (the admin, named PI for the purpose)."""
    from trialdesk.staff.services import delegation_create

    staff = _staff(m, w)
    delegation = delegation_create(user=_admin(m, w), staff=staff, data={"task": "informed_consent",
                                                                         "start_date": START})
    w.delegation_id = delegation.pk
    if signer is not None or signed:
        _approve_protocol(m, w)
        from trialdesk.staff.tests.helpers import complete_protocol_training

        complete_protocol_training(_admin(m, w), w.study, w.person)
    if signed:
        from conftest import PASSWORD
        from trialdesk.staff.services import delegation_sign

        _name_pi(m, w, _admin(m, w))
        delegation.refresh_from_db()
        delegation = delegation_sign(user=_admin(m, w), delegation=delegation, password=PASSWORD,
                                     version=delegation.version)
    if signer is not None:
        _name_pi(m, w, signer)
    delegation.refresh_from_db()
    return delegation


def _approve_protocol(m, w):
    from conftest import PASSWORD
    from trialdesk.studies.services import protocol_version_approve

    w.pv.refresh_from_db()
    if w.pv.status == "draft":
        protocol_version_approve(user=_admin(m, w), protocol_version=w.pv, password=PASSWORD, version=w.pv.version)
        w.pv.refresh_from_db()


def _name_pi(m, w, user):
    from trialdesk.sites.services import site_update

    w.site.refresh_from_db()
    if user.person_id is not None and w.site.principal_investigator_id != user.person_id:
        site_update(user=_admin(m, w), site=w.site, data={"principal_investigator": user.person},
                    version=w.site.version, reason="matrix: the caller is the site's principal investigator")
    w.site.refresh_from_db()


def _on_staff(m, body):
    def request(w, caller, path):
        staff = _staff(m, w)
        return path.format(staff_id=staff.pk), None, body(staff) if body else None
    return request


def _on_delegation(m, body, *, signed: bool = False, caller_signs: bool = False):
    def request(w, caller, path):
        d = _delegation(m, w, signed=signed, signer=caller if caller_signs else None)
        return path.format(delegation_id=d.pk), None, body(d) if body else None
    return request


def _listing(make):
    def request(w, caller, path):
        make(w)
        return path, None, None
    return request


def api_operations(m) -> dict:
    Op = m.Op
    view_staff = ("staff.view", "site", 404)
    edit_staff = ("staff.edit", "site", 403)
    edit_delegation = ("delegation.edit", "site", 403)
    return {
        ("GET", "/staff/roster"): Op(_listing(lambda w: _staff(m, w)), listed=("staff.view", "site"),
                                     contains=lambda w, c, body: w.staff_id in m._ids(body)),
        ("POST", "/staff/roster"): Op(
            lambda w, c, p: (p, None, {"site_id": w.site.pk, "person_id": w.person.pk, "role": "study_nurse",
                                       "start_date": "2026-01-05"}),
            # an invisible site in the body is an unknown id: a field error, not a leak
            [("site.view", "site", 422), edit_staff], ok=201),
        ("GET", "/staff/roster/{staff_id}"): Op(_on_staff(m, None), [view_staff]),
        ("PATCH", "/staff/roster/{staff_id}"): Op(
            _on_staff(m, lambda s: {"licence_number": "L-1", "version": s.version, "reason": "matrix"}),
            [view_staff, edit_staff]),
        ("DELETE", "/staff/roster/{staff_id}"): Op(
            _on_staff(m, lambda s: {"version": s.version, "reason": "matrix"}), [view_staff, edit_staff]),
        ("GET", "/staff/sites/{site_id}/roster.xlsx"): Op(m._get, [m.VIEW_SITE]),
        ("GET", "/staff/delegations"): Op(_listing(lambda w: _delegation(m, w)), listed=("staff.view", "site"),
                                          contains=lambda w, c, body: w.delegation_id in m._ids(body)),
        ("POST", "/staff/delegations"): Op(
            lambda w, c, p: (p, None, {"staff_id": _staff(m, w).pk, "task": "eligibility",
                                       "start_date": "2026-01-05"}),
            [("staff.view", "site", 422), edit_delegation], ok=201),
        ("GET", "/staff/delegations/{delegation_id}"): Op(_on_delegation(m, None), [view_staff]),
        ("PATCH", "/staff/delegations/{delegation_id}"): Op(
            _on_delegation(m, lambda d: {"end_date": "2027-01-01", "version": d.version, "reason": "matrix"}),
            [view_staff, edit_delegation]),
        # The caller is named the site's PI first, so only delegation.sign decides (being the PI is a rule of its
        # own, tested in staff/tests/test_services.py).
        ("POST", "/staff/delegations/{delegation_id}/sign"): Op(
            _on_delegation(m, lambda d: {"password": _password(), "version": d.version}, caller_signs=True),
            [view_staff, ("delegation.sign", "site", 403)]),
        ("POST", "/staff/delegations/{delegation_id}/end"): Op(
            _on_delegation(m, lambda d: {"ended_on": "2026-06-30", "version": d.version, "reason": "matrix"},
                           signed=True),
            [view_staff, edit_delegation]),
        ("POST", "/staff/delegations/{delegation_id}/withdraw"): Op(
            _on_delegation(m, lambda d: {"version": d.version, "reason": "matrix"}), [view_staff, edit_delegation]),
        ("GET", "/staff/sites/{site_id}/delegation-log"): Op(m._get, [m.VIEW_SITE]),
    }


def _password() -> str:
    from conftest import PASSWORD

    return PASSWORD


# --- Pages -------------------------------------------------------------------------------------------------------

def _page_staff(w):
    """Ada Lovelace on the roster of site A1, with a pending delegation, made once per world."""
    if "staff_entry" not in w:
        from trialdesk.accounts.models import User
        from trialdesk.staff.services import delegation_create, site_staff_create

        boot = User.objects.get(username="boot")
        w["staff_entry"] = site_staff_create(user=boot, site=w["site_a1"], data={
            "person": w["person"], "role": "study_nurse", "start_date": START})
        w["pending_delegation"] = delegation_create(user=boot, staff=w["staff_entry"], data={
            "task": "informed_consent", "start_date": START})
    return w


def pages(m) -> dict:
    on, site = m.on, m.site
    view = (("site.view", "A1"), ("staff.view", "A1"))
    staff_kwargs = lambda w, u: {"staff_id": _page_staff(w)["staff_entry"].pk}  # noqa: E731
    delegation_kwargs = lambda w, u: {"delegation_id": _page_staff(w)["pending_delegation"].pk}  # noqa: E731
    return {
        "site-staff": on(*view, kwargs=site("site_a1")),
        "staff-create": on(*view, ("staff.edit", "A1"), kwargs=site("site_a1")),
        "staff-roster-export": on(*view, kwargs=site("site_a1")),
        "delegation-log-export": on(*view, kwargs=lambda w, u: {"site_id": w["site_a1"].pk, "fmt": "pdf"}),
        "delegation-create": on(*view, ("delegation.edit", "A1"), kwargs=site("site_a1")),
        "staff-edit": on(("staff.view", "A1"), ("staff.edit", "A1"), kwargs=staff_kwargs),
        "staff-delete": on(("staff.view", "A1"), ("staff.edit", "A1"), kwargs=staff_kwargs),
        "delegation-edit": on(("staff.view", "A1"), ("delegation.edit", "A1"), kwargs=delegation_kwargs),
        "delegation-sign": on(("staff.view", "A1"), ("delegation.sign", "A1"), kwargs=delegation_kwargs),
        # A pending delegation cannot be ended: the page says so (200) to those who may end delegations.
        "delegation-end": on(("staff.view", "A1"), ("delegation.edit", "A1"), kwargs=delegation_kwargs),
        "delegation-withdraw": on(("staff.view", "A1"), ("delegation.edit", "A1"), kwargs=delegation_kwargs),
    }
