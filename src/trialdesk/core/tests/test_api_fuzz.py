"""Property-based fuzzing of every API operation with schemathesis, authenticated as a portfolio admin.

Each operation is one pytest test with its own rolled-back database. Generated requests must never cause a
server error, must only get status codes the schema documents, and every response must match its schema.
About half the examples aim their path ids at real fixture records, so the deeper code runs too.

The CSV exports are documented as text/csv with a string schema. Schemathesis has no CSV deserializer, so
one is registered below: the body must be UTF-8 text starting with the CSV header (audit/tests/test_api.py
checks the rows themselves).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def _examples_per_operation(budget: int = 1500) -> int:
    """A fixed budget of generated requests spread over the operations (5 to 20 each, 8 today), so the run stays
    under two minutes as the API grows."""
    from trialdesk.api import api

    operations = sum(len(item) for item in api.get_openapi_schema()["paths"].values())
    return max(5, min(20, budget // max(operations, 1)))


CONFIG = schemathesis.Config.from_dict({
    "seed": 20261124,
    "generation": {"max-examples": _examples_per_operation(), "deterministic": True,
                   "with-security-parameters": False},
    # Explicit examples and random fuzzing; the coverage phase's exhaustive boundary cases take too long here.
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
})

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application(), config=CONFIG)


@schemathesis.deserializer("text/csv")
def _csv_text(ctx, response) -> str:
    from trialdesk.audit.selectors import CSV_COLUMNS
    from trialdesk.subjects.importer import COLUMN_NAMES

    text = response.content.decode("utf-8")
    # The audit exports start with the audit header; the screening-log import template with its columns.
    header = COLUMN_NAMES if ctx.operation.path.startswith("/api/v1/subjects/") else CSV_COLUMNS
    if not text.startswith(",".join(header)):
        raise ValueError(f"CSV does not start with its header: {text[:80]!r}")
    return text


@dataclass
class FuzzWorld:
    headers: dict[str, str]
    ids: dict[str, int]            # path parameter -> fixture record id
    records: dict[str, object]     # path parameter -> fixture record (for its current version)
    body_ids: dict[str, int]       # id field in a request body -> fixture record id


def _visit_records(admin_user, pv, site):
    """A visit definition on the draft protocol version and a subject's planned visit from it."""
    from trialdesk.subjects.models import Subject
    from trialdesk.visits.services import subject_visits_generate, visit_definition_create

    definition = visit_definition_create(user=admin_user, protocol_version=pv, data={
        "code": "V1", "name": "Baseline", "anchor": "enrollment", "target_day": 0, "window_after": 3})
    subject = Subject(study=pv.study, site=site, subject_number="FUZZ-1", site_sequence=1, status="enrolled",
                      consented_on=pv.version_date, enrolled_on=pv.version_date, protocol_version=pv)
    subject.save()
    return definition, subject_visits_generate(user=admin_user, subject=subject)[0]


@pytest.fixture
def fuzz_world(db, make_user, admin_user, study, sites):
    from trialdesk.accounts.services import api_token_create, membership_grant
    from trialdesk.organizations.services import person_create
    from trialdesk.studies.services import arm_create, intervention_create, protocol_version_create
    from trialdesk.subjects.services import icf_version_create

    _, secret = api_token_create(actor=None, user=admin_user, name="fuzz")
    spare, _ = api_token_create(actor=None, user=admin_user, name="fuzz spare")
    pv = protocol_version_create(user=admin_user, study=study, data={"version_number": "1.0",
                                                                     "version_date": "2026-01-10"})
    arm = arm_create(user=admin_user, study=study, data={"label": "Placebo"})
    intervention = intervention_create(user=admin_user, study=study, data={"name": "Placebo"}, arm_ids=[arm.pk])
    person = person_create(user=admin_user, data={"first_name": "Pia", "last_name": "Ibsen"})
    membership = membership_grant(actor=None, user=admin_user, role="viewer", study=study)
    newcomer = make_user(username="newcomer")
    visit_definition, subject_visit = _visit_records(admin_user, pv, sites[0])
    icf = icf_version_create(user=admin_user, study=study, data={"version_number": "1.0",
                                                                 "version_date": "2026-01-10"})
    # The WSGI handler closes "old" connections around each request, which would end the test transaction;
    # django.test.Client does the same disconnect.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        records = {"study_id": study, "site_id": sites[0], "pv_id": pv, "arm_id": arm,
                   "intervention_id": intervention, "org_id": study.sponsor, "person_id": person,
                   "membership_id": membership, "definition_id": visit_definition, "visit_id": subject_visit,
                   "subject_id": subject_visit.subject, "icf_id": icf}
        yield FuzzWorld(
            headers={"Authorization": f"Bearer {secret}"},
            ids={**{name: obj.pk for name, obj in records.items()}, "token_id": spare.pk},
            records=records,
            body_ids={"study_id": study.pk, "institution_id": sites[0].institution_id, "sponsor_id": study.sponsor_id,
                      "organization_id": study.sponsor_id, "principal_investigator_id": person.pk,
                      "user_id": newcomer.pk, "protocol_version_id": pv.pk, "source_protocol_version_id": pv.pk,
                      "target_protocol_version_id": pv.pk, "subject_id": subject_visit.subject_id,
                      "site_id": sites[0].pk, "arm_id": arm.pk, "icf_version_id": icf.pk,
                      "obtained_by_id": person.pk, "eligibility_confirmed_by_id": person.pk},
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _aim_at_fixtures(case, world: FuzzWorld) -> None:
    """Point even generated ids at the fixture records (odd ones stay random, mostly unknown: 404/422),
    and give edits aimed at a record its current version, so validation and the services run too."""
    params = case.path_parameters or {}
    aimed = None
    for name, value in list(params.items()):
        if name in world.ids and isinstance(value, int) and value % 2 == 0:
            params[name] = world.ids[name]
            aimed = world.records.get(name)
    if "record_type" in params and len(str(params.get("record_id", ""))) % 2 == 0:
        params["record_type"], params["record_id"] = "studies.study", str(world.ids["study_id"])
    body = case.body
    if isinstance(body, dict):
        for name, pk in world.body_ids.items():
            if isinstance(body.get(name), int) and body[name] % 2 == 0:
                body[name] = pk
        if aimed is not None and isinstance(body.get("version"), int) and body["version"] % 2 == 0:
            body["version"] = type(aimed)._base_manager.values_list("version", flat=True).get(pk=aimed.pk)


@pytest.mark.slow
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_fuzz(case, fuzz_world):
    _aim_at_fixtures(case, fuzz_world)
    case.call_and_validate(headers=fuzz_world.headers, checks=CHECKS)
