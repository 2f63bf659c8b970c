"""Staff API: roster and delegation log through /api/v1/staff, and the exports read back (pypdf, openpyxl)."""

from __future__ import annotations

import datetime as dt
import io
import json

from openpyxl import load_workbook
from pypdf import PdfReader

from conftest import PASSWORD
from trialdesk.accounts.roles import Role
from trialdesk.staff.models import Delegation, SiteStaff

V1 = "/api/v1/staff"


def call(client, method, path, body=None):
    resp = client.generic(method, path, json.dumps(body or {}), content_type="application/json")
    return resp.status_code, resp.json()


def test_roster_through_the_api(api_client, coordinator, site, nurse_person, sites, make_user, study):
    client = api_client(coordinator)
    status, body = call(client, "POST", f"{V1}/roster", {
        "site_id": site.pk, "person_id": nurse_person.pk, "role": "study_nurse", "start_date": "2026-01-01",
        "gcp_certificate_date": "2025-12-01"})
    assert status == 201, body
    assert body["person"]["full_name"] == "Nora Nurse, RN" and body["role_label"] == "Study nurse"
    assert body["current"] is True and body["flags"] == []
    staff_id = body["id"]
    listed = client.get(f"{V1}/roster", {"site_id": site.pk}).json()
    assert [r["role"] for r in listed["items"]] == ["principal_investigator", "study_nurse"]  # the PI first
    assert client.get(f"{V1}/roster", {"role": "study_nurse"}).json()["count"] == 1
    status, body = call(client, "PATCH", f"{V1}/roster/{staff_id}", {"gcp_expiry": "2020-01-01", "version": 1,
                                                                      "reason": "typo"})
    assert status == 422 and body["errors"]["gcp_expiry"]  # before the certificate date
    status, body = call(client, "PATCH", f"{V1}/roster/{staff_id}", {"gcp_expiry": dt.date.today().isoformat(),
                                                                      "version": 1, "reason": "renewal due"})
    assert status == 200 and body["version"] == 2 and body["flags"] == ["gcp_expiring"]
    status, body = call(client, "PATCH", f"{V1}/roster/{staff_id}", {"notes": "x", "version": 1, "reason": "r"})
    assert status == 409
    status, body = call(client, "POST", f"{V1}/roster", {
        "site_id": sites[1].pk, "person_id": nurse_person.pk, "role": "study_nurse", "start_date": "2026-01-01"})
    assert status == 422 and "site_id" in body["errors"]  # a site the coordinator cannot see
    outsider = api_client(make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]]))
    assert outsider.get(f"{V1}/roster/{staff_id}").status_code == 404
    status, body = call(client, "DELETE", f"{V1}/roster/{staff_id}", {"version": 2, "reason": "wrong site"})
    assert status == 200 and body["is_deleted"] is True
    assert client.get(f"{V1}/roster/{staff_id}").status_code == 404


def test_delegation_lifecycle_through_the_api(api_client, coordinator, pi, nurse, protocol, train):
    client = api_client(coordinator)
    status, body = call(client, "POST", f"{V1}/delegations", {"staff_id": nurse.pk, "task": "informed_consent",
                                                              "start_date": "2026-02-01"})
    assert status == 201, body
    assert body["status"] == "pending" and body["task_number"] == 1 and body["signature"] is None
    assert body["sign_blockers"] == [{"field": "training", "message": "Nora Nurse, RN: Protocol training for "
                                      "ACME-301 protocol version 1.0 is not complete."}]
    delegation_id = body["id"]
    pi_client = api_client(pi)
    status, body = call(pi_client, "POST", f"{V1}/delegations/{delegation_id}/sign",
                        {"password": PASSWORD, "version": 1})
    assert status == 422 and body["errors"] == {"training": [
        "Nora Nurse, RN: Protocol training for ACME-301 protocol version 1.0 is not complete."]}
    status, body = call(client, "POST", f"{V1}/delegations/{delegation_id}/sign",
                        {"password": PASSWORD, "version": 1})
    assert status == 403  # the coordinator holds no delegation.sign
    train(nurse.person)
    status, body = call(pi_client, "POST", f"{V1}/delegations/{delegation_id}/sign",
                        {"password": "wrong", "version": 1})
    assert status == 422 and "password" in body["errors"]
    status, body = call(pi_client, "POST", f"{V1}/delegations/{delegation_id}/sign",
                        {"password": PASSWORD, "version": 1, "comment": "At the initiation visit"})
    assert status == 200, body
    assert body["status"] == "active" and body["signature"]["printed_name"] == "Pi Tester"
    assert body["signature"]["valid"] is True and body["signature"]["meaning"] == "approved"
    status, body = call(client, "PATCH", f"{V1}/delegations/{delegation_id}", {"end_date": "2027-01-01",
                                                                                "version": 2, "reason": "r"})
    assert status == 409  # signed entries are not changed; they are ended
    status, body = call(client, "POST", f"{V1}/delegations/{delegation_id}/end",
                        {"ended_on": "2026-09-30", "version": 2, "reason": "Left the study team"})
    assert status == 200 and body["status"] == "ended" and body["ended_on"] == "2026-09-30"
    assert body["signature"]["valid"] is True
    listed = client.get(f"{V1}/delegations", {"site_id": nurse.site_id, "status": "ended"}).json()
    assert [d["id"] for d in listed["items"]] == [delegation_id]
    status, body = call(client, "POST", f"{V1}/delegations", {"staff_id": nurse.pk, "task": "study_specific",
                                                              "start_date": "2026-02-01"})
    assert status == 422 and body["errors"] == {"task_detail": ["Describe the study-specific task."]}
    status, body = call(client, "POST", f"{V1}/delegations", {"staff_id": nurse.pk, "task": "study_specific",
                                                              "task_detail": "Spirometry", "start_date": "2026-02-01"})
    assert status == 201 and body["task_label"] == "Study-specific task: Spirometry"
    status, body = call(client, "POST", f"{V1}/delegations/{body['id']}/withdraw", {"version": 1, "reason": "no"})
    assert status == 200 and body["status"] == "withdrawn"


def _signed_log(admin_user, nurse, propose, sign, train):
    train(nurse.person)
    signed = sign(propose(nurse, end=dt.date(2027, 12, 31)))
    propose(nurse, task="study_specific", detail="Spirometry")
    return signed


def test_delegation_log_pdf_shows_the_log_with_signatures(api_client, admin_user, nurse, propose, sign, train, pi,
                                                          protocol, cpm):
    signed = _signed_log(admin_user, nurse, propose, sign, train)
    resp = api_client(cpm).get(f"{V1}/sites/{nurse.site_id}/delegation-log")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    assert resp["Content-Disposition"] == 'attachment; filename="ACME-301-site-001-delegation-log.pdf"'
    reader = PdfReader(io.BytesIO(resp.content))
    page = reader.pages[0]
    assert page.mediabox.width > page.mediabox.height  # landscape
    text = " ".join(p.extract_text() for p in reader.pages)
    flat = " ".join(text.split())
    for expected in ("Site Delegation of Authority Log", "ACME-301", "Protocol version 1.0", "Charité Berlin",
                     "Pi Tester", "Nora Nurse, RN", "NN", "Study nurse", "Obtain informed consent",
                     "Spirometry", "Pending signature", "not signed", "2027-12-31",
                     f"{signed.signature.signed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC", "Approved"):
        assert expected in flat, expected
    assert "10 Study-specific task" in flat  # the legend numbers the tasks


def test_delegation_log_and_roster_workbooks(api_client, admin_user, nurse, propose, sign, train, pi, protocol, cpm):
    signed = _signed_log(admin_user, nurse, propose, sign, train)
    client = api_client(cpm)
    resp = client.get(f"{V1}/sites/{nurse.site_id}/delegation-log", {"format": "xlsx"})
    assert resp.status_code == 200 and resp["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(resp.content))
    rows = list(book["Delegation log"].iter_rows(values_only=True))
    assert rows[0][:5] == ("Name", "Initials", "Role", "Task no.", "Task")
    by_task = {r[4]: r for r in rows[1:]}
    consent = by_task["Obtain informed consent"]
    assert consent[:4] == ("Nora Nurse, RN", "NN", "Study nurse", 1)
    assert consent[5:9] == ("2026-02-01", "2027-12-31", None, "Signed")
    assert consent[9] == f"Pi Tester, {signed.signature.signed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC, Approved"
    assert consent[10] == "Valid"
    assert by_task["Study-specific task: Spirometry"][8] == "Pending signature"
    about = dict(r[:2] for r in book["About"].iter_rows(values_only=True) if r[0])
    assert about["Study"] == "ACME-301 · BREATHE" and about["Principal investigator"] == "Pi Tester"
    assert about[1] == "Obtain informed consent" and about[10] == "Study-specific task"
    resp = client.get(f"{V1}/sites/{nurse.site_id}/roster.xlsx")
    assert resp.status_code == 200
    rows = list(load_workbook(io.BytesIO(resp.content))["Site staff"].iter_rows(values_only=True))
    assert rows[0][:3] == ("Site", "Name", "Role")
    assert [r[2] for r in rows[1:]] == ["Principal investigator", "Study nurse"]
    nurse_row = rows[2]
    assert nurse_row[7] == "RN-4711" and nurse_row[10].date() == dt.date(2028, 12, 31)
    assert nurse_row[11] is None or nurse_row[11] == ""
    assert "no GCP certificate" in rows[1][11]  # the PI has none recorded


def test_exports_are_limited_to_visible_sites(api_client, make_user, study, sites, nurse):
    outsider = api_client(make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]]))
    assert outsider.get(f"{V1}/sites/{nurse.site_id}/delegation-log").status_code == 404
    assert outsider.get(f"{V1}/sites/{nurse.site_id}/roster.xlsx").status_code == 404
    assert SiteStaff.objects.count() == 2 and not Delegation.objects.exists()
