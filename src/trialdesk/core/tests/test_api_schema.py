"""The published API contract: OpenAPI and docs served, error responses declared everywhere, one error body,
request ids carried into the audit trail."""

from __future__ import annotations

import pytest

from trialdesk.audit.models import AuditEvent

V1 = "/api/v1"
ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}


@pytest.fixture(scope="module")
def openapi() -> dict:
    from trialdesk.api import api

    return api.get_openapi_schema()


def _operations(openapi: dict):
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def test_openapi_and_docs_are_served(client, db):
    resp = client.get(f"{V1}/openapi.json")
    assert resp.status_code == 200
    assert f"{V1}/studies/{{study_id}}" in resp.json()["paths"]
    docs = client.get(f"{V1}/docs")
    assert docs.status_code == 200 and b"openapi.json" in docs.content


def test_every_operation_declares_its_error_responses(openapi):
    for method, path, op in _operations(openapi):
        responses = op["responses"]
        expected = {"401", "403", "404", "422"}
        if "requestBody" in op:
            expected.add("400")   # a body that is not JSON
        if method in {"PATCH", "DELETE"}:
            expected.add("409")   # a stale version
        for status in expected:
            assert status in {str(s) for s in responses}, f"{method} {path} does not declare {status}"
            body = responses.get(status, responses.get(int(status)))
            assert body["content"]["application/json"]["schema"] == ERROR_REF, f"{method} {path} {status}"
        assert op.get("security"), f"{method} {path} is not authenticated"


def test_creates_answer_201_and_lists_are_paginated(openapi):
    lists = []
    for method, path, op in _operations(openapi):
        codes = {str(s) for s in op["responses"]}
        # POST to a collection (a path that also lists) creates a record.
        if method == "POST" and "get" in openapi["paths"][path]:
            assert "201" in codes and "200" not in codes, f"{method} {path}"
        if method == "GET" and "200" in codes:
            content = op["responses"].get("200", op["responses"].get(200))["content"]
            schema = next(iter(content.values()))["schema"]
            ref = schema.get("$ref", "")
            if ref.endswith("ListOut"):
                params = {p["name"] for p in op["parameters"]}
                assert {"limit", "offset"} <= params, f"{method} {path}"
                lists.append(path)
    assert len(lists) >= 11, lists


def test_csv_exports_are_documented_as_text_csv(openapi):
    exports = [(path, op) for method, path, op in _operations(openapi) if path.endswith("export.csv")]
    assert len(exports) == 2
    for path, op in exports:
        ok = op["responses"].get("200", op["responses"].get(200))
        assert list(ok["content"]) == ["text/csv"], path


def test_error_bodies(api_client, admin_user, study):
    client = api_client(admin_user)
    broken = client.generic("PATCH", f"{V1}/studies/{study.pk}", b"{not json", content_type="application/json")
    assert broken.status_code == 400 and set(broken.json()) == {"detail", "errors"}
    missing = client.get(f"{V1}/studies/987654321")
    assert missing.status_code == 404 and missing.json() == {"detail": "Study not found.", "errors": {}}
    bad = client.get(f"{V1}/studies/not-a-number")
    assert bad.status_code == 422 and "study_id" in bad.json()["errors"]


def test_request_id_is_echoed_and_audited(api_client, admin_user, study):
    client = api_client(admin_user)
    resp = client.patch(f"{V1}/studies/{study.pk}", {"acronym": "NEW", "version": 1, "reason": "Traceable"},
                        content_type="application/json", headers={"X-Request-ID": "client-req-42"})
    assert resp.status_code == 200 and resp["X-Request-ID"] == "client-req-42"
    event = AuditEvent.objects.get(record_id=str(study.pk), action="update")
    assert event.request_id == "client-req-42" and event.channel == "api"


def test_schema_names_are_unique_across_areas():
    """OpenAPI components are keyed by class name: two different schemas with one name would silently publish
    one area's shape for the other's responses (found by the fuzz test: start-up's MilestoneOut replaced the
    portfolio's). Identical duplicates are harmless and allowed."""
    import inspect
    import json
    import pkgutil
    from importlib import import_module

    from ninja import Schema

    import trialdesk

    shapes: dict[str, dict[str, str]] = {}
    for info in pkgutil.iter_modules(trialdesk.__path__):
        if not info.ispkg:
            continue
        try:
            module = import_module(f"trialdesk.{info.name}.schemas")
        except ModuleNotFoundError as exc:
            if exc.name != f"trialdesk.{info.name}.schemas":
                raise
            continue
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and issubclass(cls, Schema) and cls.__module__ == module.__name__:
                shapes.setdefault(name, {})[info.name] = json.dumps(cls.model_json_schema(), sort_keys=True)
    clashes = {name: sorted(by_area) for name, by_area in shapes.items() if len(set(by_area.values())) > 1}
    assert clashes == {}, "rename these schemas so each name means one shape"


def test_too_many_parameters_get_the_api_error_format(client, admin_user, db):
    """Found by the fuzz test: 1,001 query parameters made Django answer a bare HTML 400."""
    client.force_login(admin_user)
    query = "&".join(["site_ids=1"] * 1001)
    resp = client.get(f"{V1}/studies?{query}")
    assert resp.status_code == 422
    assert resp.json()["detail"] == "Invalid input: too many parameters in one request."
