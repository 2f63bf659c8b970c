"""Start-up web pages: the study tab's sections, the site tab, forms through the services, the XLSX export."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.sites.models import StudySite
from trialdesk.startup.models import FeasibilityResponse, SiteMilestone, StartupMilestoneDefinition


@pytest.fixture
def client_for():
    def _client(user):
        client = Client()
        client.force_login(user)
        return client

    return _client


def test_study_tab_sections_render(client_for, cpm, study, sites, template, questions):
    client = client_for(cpm)
    for name in ("startup-tracker", "startup-candidates", "startup-questions", "startup-template"):
        response = client.get(reverse(name, args=[study.pk]))
        assert response.status_code == 200, name
        assert b'data-testid="tab-startup"' in response.content
    tracker = client.get(reverse("startup-tracker", args=[study.pk])).content.decode()
    assert 'data-testid="tracker-site-001"' in tracker and 'class="chart chart--gantt"' in tracker
    assert "Site activated / green light" in tracker and 'data-testid="cycle-study"' in tracker


def test_tracker_without_template_offers_the_defaults(client_for, cpm, make_user, study, sites):
    page = client_for(cpm).get(reverse("startup-tracker", args=[study.pk])).content.decode()
    assert 'data-testid="no-template"' in page and 'data-testid="create-template"' in page
    viewer = make_user(Role.VIEWER, study=study)
    page = client_for(viewer).get(reverse("startup-tracker", args=[study.pk])).content.decode()
    assert 'data-testid="no-template"' in page and 'data-testid="create-template"' not in page
    response = client_for(cpm).post(reverse("startup-template-ensure", args=[study.pk]), {"reason": ""})
    assert response.status_code == 302
    assert StartupMilestoneDefinition.objects.filter(study=study).count() == 12


def test_question_form_parses_choices_and_shows_errors(client_for, cpm, study):
    client = client_for(cpm)
    url = reverse("startup-question-create", args=[study.pk])
    response = client.post(url, {"text": "Competing studies?", "kind": "choice", "weight": "1",
                                 "choices": "None | 1\nOne | x"})
    assert response.status_code == 422
    assert "Line 2: the score after" in response.content.decode()
    response = client.post(url, {"text": "Competing studies?", "kind": "choice", "weight": "1",
                                 "choices": "None | 1"})
    assert response.status_code == 422 and "at least two options" in response.content.decode()
    response = client.post(url, {"text": "Competing studies?", "kind": "choice", "weight": "1.5",
                                 "choices": "None | 1\nSome | 0.25"})
    assert response.status_code == 302
    page = client.get(reverse("startup-questions", args=[study.pk])).content.decode()
    assert "Some (0.25)" in page and "1.5" in page


def test_site_user_answers_and_submits_through_the_page(client_for, coordinator, sites, questions):
    q_freezer, q_patients, q_competing, _ = questions
    client = client_for(coordinator)
    url = reverse("site-feasibility", args=[sites[0].pk])
    page = client.get(url).content.decode()
    assert 'data-testid="answers-form"' in page
    response = client.post(url, {"version": "0", f"q_{q_freezer.pk}": "yes", f"q_{q_patients.pk}": "12,5",
                                 "action": "save"})
    assert response.status_code == 302
    response_obj = FeasibilityResponse.objects.get(site=sites[0])
    assert response_obj.status == "in_progress"
    # A bad number is shown on its field; nothing is saved.
    response = client.post(url, {"version": str(response_obj.version), f"q_{q_patients.pk}": "lots",
                                 f"q_{q_freezer.pk}": "yes", "action": "save"})
    assert response.status_code == 422 and "Enter a number." in response.content.decode()
    response = client.post(url, {"version": str(response_obj.version), f"q_{q_freezer.pk}": "yes",
                                 f"q_{q_patients.pk}": "12.5", f"q_{q_competing.pk}": "One", "action": "submit"})
    assert response.status_code == 302
    response_obj.refresh_from_db()
    assert response_obj.status == "submitted" and response_obj.score == round(100 * (2 + 0.625 + 0.5) / 4, 1)
    page = client.get(url).content.decode()
    assert 'data-testid="answers-table"' in page and 'data-testid="answers-form"' not in page
    # Another site's questionnaire is out of this user's reach.
    assert client.get(reverse("site-feasibility", args=[sites[1].pk])).status_code == 404


def test_decision_page_records_not_selected_with_reason(client_for, cpm, sites, questions):
    client = client_for(cpm)
    site = sites[2]
    url = reverse("site-selection-decide", args=[site.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"version": site.version, "decision": "not_selected", "reason": ""})
    assert response.status_code == 422
    response = client.post(url, {"version": site.version, "decision": "not_selected",
                                 "reason": "No -80 °C freezer"})
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.status, site.status_reason) == ("not_selected", "No -80 °C freezer")


def test_activation_refusal_is_shown_on_the_site_status_form(client_for, cpm, sites, template, select_site):
    site = select_site(sites[0])
    client = client_for(cpm)
    site.refresh_from_db()
    response = client.post(reverse("site-transition", args=[site.pk]), {"version": site.version,
                                                                       "status": "start_up", "reason": "go"})
    assert response.status_code == 302
    site.refresh_from_db()
    response = client.post(reverse("site-transition", args=[site.pk]), {"version": site.version,
                                                                       "status": "activated", "reason": "go"})
    assert response.status_code == 409
    assert "Site 001 cannot be activated: open mandatory start-up milestones: Budget agreed" in \
        response.content.decode()
    page = client.get(reverse("site-startup", args=[site.pk])).content.decode()
    assert 'data-testid="activation-blockers"' in page and "Contract executed" in page


def test_milestone_form_records_and_enforces_order(client_for, cpm, sites, template, select_site):
    site = select_site(sites[0])
    client = client_for(cpm)
    today = timezone.localdate()
    contract = template["contract_executed"]
    url = reverse("site-milestone-edit", args=[site.pk, contract.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"version": "0", "actual_date": today.isoformat(), "reason": ""})
    assert response.status_code == 422
    assert "cannot be recorded before the milestones it depends on are done" in response.content.decode()
    budget = template["budget_agreed"]
    planned = today + dt.timedelta(days=10)
    response = client.post(reverse("site-milestone-edit", args=[site.pk, budget.pk]),
                           {"version": "0", "planned_date": planned.isoformat(), "notes": "Draft sent"})
    assert response.status_code == 302
    milestone = SiteMilestone.objects.get(site=site, definition=budget)
    assert milestone.planned_date == planned and milestone.notes == "Draft sent"
    # Mandatory-everywhere milestones do not offer "not applicable".
    page = client.get(url).content.decode()
    assert 'name="not_applicable"' not in page
    page = client.get(reverse("site-milestone-edit", args=[site.pk, template["regulatory_approval"].pk])).content
    assert b'name="not_applicable"' in page


def test_milestone_pages_need_startup_edit(client_for, make_user, study, sites, template):
    viewer = make_user(Role.VIEWER, study=study)
    client = client_for(viewer)
    assert client.get(reverse("site-startup", args=[sites[0].pk])).status_code == 200
    assert client.get(reverse("site-milestone-edit", args=[sites[0].pk, template["budget_agreed"].pk])) \
        .status_code == 403
    assert client.get(reverse("startup-definition-create", args=[study.pk])).status_code == 403


def test_template_definition_forms(client_for, cpm, study, template):
    client = client_for(cpm)
    response = client.post(reverse("startup-definition-create", args=[study.pk]), {
        "key": "pharmacy", "label": "Pharmacy ready", "applies_when": "always", "target_days": "10",
        "depends_on": [template["contract_executed"].pk]})
    assert response.status_code == 302
    created = StartupMilestoneDefinition.objects.get(study=study, key="pharmacy")
    url = reverse("startup-definition-edit", args=[template["selected"].pk])
    response = client.post(url, {"label": "Selected", "applies_when": "always", "mandatory": "on",
                                 "target_days": "14", "order": "40", "version": "1", "reason": "loop",
                                 "depends_on": [template["qualification_visit"].pk, created.pk]})
    assert response.status_code == 422 and "would form a loop" in response.content.decode()
    response = client.post(reverse("startup-definition-delete", args=[created.pk]),
                           {"version": "1", "reason": "Not needed"})
    assert response.status_code == 302
    assert not StartupMilestoneDefinition.objects.filter(pk=created.pk).exists()


def test_tracker_export_is_a_workbook(client_for, cpm, study, sites, template, select_site, record):
    from openpyxl import load_workbook

    site = select_site(sites[0])
    record(site, "budget_agreed", planned_date=timezone.localdate() - dt.timedelta(days=2))
    response = client_for(cpm).get(reverse("startup-tracker-export", args=[study.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="startup-tracker-ACME-301-')
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Tracker", "Milestones", "Cycle times"]
    tracker = book["Tracker"]
    header = [c.value for c in tracker[3]]
    assert header[:4] == ["Site", "Institution", "Country", "Site status"] and "Contract executed" in header
    rows = {r[0]: r for r in tracker.iter_rows(min_row=4, values_only=True)}
    assert rows["001"][header.index("Selected")] == timezone.localdate().isoformat()
    assert rows["001"][header.index("Budget agreed")].endswith("(overdue)")
    long = book["Milestones"]
    states = {(r[0], r[4]): r[11] for r in long.iter_rows(min_row=2, values_only=True)}
    assert states[("001", "budget_agreed")] == "Overdue" and states[("001", "selected")] == "Done"
    assert len(states) == 12 * StudySite.objects.filter(study=study).count()
    summary = [r for r in book["Cycle times"].iter_rows(values_only=True) if r and r[0] == "Study"]
    assert len(summary) == 3


def test_candidates_page_offers_only_what_the_user_may_do(client_for, cpm, make_user, study, sites, questions):
    cra = make_user(Role.CRA, study=study)  # startup.edit, but no site.transition
    page = client_for(cra).get(reverse("startup-candidates", args=[study.pk])).content.decode()
    assert 'data-testid="invite-001"' in page and 'data-testid="decide-001"' not in page
    page = client_for(cpm).get(reverse("startup-candidates", args=[study.pk])).content.decode()
    assert 'data-testid="invite-001"' in page and 'data-testid="decide-001"' in page
    viewer = make_user(Role.VIEWER, study=study)
    page = client_for(viewer).get(reverse("startup-candidates", args=[study.pk])).content.decode()
    assert 'data-testid="invite-001"' not in page and 'data-testid="candidate-001"' in page
