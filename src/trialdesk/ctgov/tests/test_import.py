"""The ClinicalTrials.gov import service against the real sample records and a real database."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.audit.selectors import audit_chain_verify
from trialdesk.core.errors import AccessDenied, Conflict, ValidationFailed
from trialdesk.ctgov.parse import NotAStudyRecord, parse_study
from trialdesk.ctgov.services import (
    IMPORT_REASON,
    FileRejected,
    ctgov_import_batch,
    ctgov_import_file,
    ctgov_import_record,
    map_status,
)
from trialdesk.ctgov.tests.conftest import V1_DOCUMENT, raw_record, row_counts, synthetic_record
from trialdesk.organizations.models import Organization
from trialdesk.sites.models import StudySite
from trialdesk.sites.services import site_delete
from trialdesk.studies.models import Study
from trialdesk.studies.services import study_create, study_delete, study_transition


def _import_all(user, data_dir):
    return [r for path in sorted(data_dir.glob("*.json"))
            for r in ctgov_import_file(user=user, path_or_bytes=path)]


def _import_raw(user, raw: dict, name: str = "record.json"):
    return ctgov_import_file(user=user, path_or_bytes=json.dumps(raw).encode(), filename=name)


# --------------------------------------------------------------------------- real records


def test_every_shared_record_imports(importer, data_dir):
    results = _import_all(importer, data_dir)
    assert {r.nct_id for r in results} == {p.stem for p in data_dir.glob("*.json")}
    assert all(r.created and r.changed for r in results)
    assert Study.objects.count() == len(results)
    ok, failure = audit_chain_verify()
    assert failure is None and ok == AuditEvent.objects.count()


def test_nct02210780_facts(importer, data_dir):
    [result] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT02210780.json")
    study = Study.objects.get(nct_id="NCT02210780")
    assert result.study_id == study.pk and result.sites_created == 42 and result.warnings == []
    assert study.protocol_number == "R668-AD-1314"
    assert study.status == "completed"
    assert study.phases == ["PHASE2"] and study.study_type == "INTERVENTIONAL"
    assert (study.planned_enrollment, study.registry_enrollment, study.registry_enrollment_type) == (194, 194, "ACTUAL")
    assert study.sponsor.name == "Regeneron Pharmaceuticals"
    assert (study.sponsor.kind, study.sponsor.registry_class) == ("sponsor", "INDUSTRY")
    assert [(o.name, o.kind) for o in study.collaborators.all()] == [("Sanofi", "sponsor")]
    assert study.allocation == "RANDOMIZED" and study.masking == "TRIPLE"
    assert study.who_masked == ["PARTICIPANT", "INVESTIGATOR", "OUTCOMES_ASSESSOR"]
    assert (study.minimum_age, study.maximum_age, study.healthy_volunteers) == ("18 Years", "64 Years", False)
    assert "Inclusion Criteria" in study.eligibility_criteria
    assert (study.registry_start_date, study.registry_start_date_type) == ("2014-08-05", "ACTUAL")
    assert study.registry_completion_date == "2015-09-15" and study.registry_overall_status == "COMPLETED"
    assert study.actual_first_subject_in == dt.date(2014, 8, 5)
    assert study.actual_last_subject_last_visit == dt.date(2015, 9, 15)
    assert study.planned_first_subject_in is None

    sites = list(study.sites.select_related("institution").order_by("site_number"))
    assert len(sites) == 42
    assert [s.site_number for s in sites] == [f"{i:03d}" for i in range(1, 43)]
    assert all(s.status == "candidate" and s.latitude is not None and s.longitude is not None for s in sites)
    assert len({s.registry_location_key for s in sites}) == 42
    first = sites[0]
    assert (first.city, first.state, first.country) == ("Birmingham", "Alabama", "United States")
    assert first.institution.name == "Facility in Birmingham, Alabama, United States"
    assert first.institution.kind == "institution" and first.institution.city == "Birmingham"
    assert first.latitude == pytest.approx(33.52066)

    arms = {a.label: a for a in study.arms.all()}
    assert set(arms) == {"Placebo qw", "Dupilumab 300 mg qw"}
    dupilumab = study.interventions.get(name="Dupilumab")
    assert dupilumab.kind == "DRUG" and dupilumab.other_names == ["REGN668", "SAR231893", "Dupixent"]
    assert list(dupilumab.arms.all()) == [arms["Dupilumab 300 mg qw"]]
    assert list(study.interventions.get(name="Placebo").arms.all()) == [arms["Placebo qw"]]


def test_creation_is_audited_with_values(importer, data_dir):
    ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT02210780.json")
    study = Study.objects.get(nct_id="NCT02210780")
    events = AuditEvent.objects.filter(reason=IMPORT_REASON)
    by_type = {}
    for event in events:
        assert event.action == "create" and event.actor_id == importer.pk
        by_type.setdefault(event.record_type, []).append(event)
    # 42 institutions + the sponsor and the collaborator; 42 sites; 2 arms; 2 interventions; the study.
    assert {k: len(v) for k, v in by_type.items()} == {
        "organizations.organization": 44, "sites.studysite": 42, "studies.arm": 2,
        "studies.intervention": 2, "studies.study": 1}
    [study_event] = by_type["studies.study"]
    assert study_event.study_id == study.pk
    assert study_event.changes["nct_id"] == [None, "NCT02210780"]
    assert study_event.changes["status"] == [None, "completed"]
    assert study_event.changes["collaborators"] == [None, [study.collaborators.get().pk]]
    site = study.sites.get(site_number="001")
    site_event = next(e for e in by_type["sites.studysite"] if e.record_id == str(site.pk))
    assert site_event.changes["city"] == [None, "Birmingham"] and site_event.study_id == study.pk
    assert site_event.record_label == "Site 001 Facility in Birmingham, Alabama, United States"


def test_partial_record_imports_with_what_it_has(importer, data_dir):
    [result] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT03453554.json")
    study = Study.objects.get(pk=result.study_id)
    assert (study.protocol_number, study.nct_id) == ("AZ150096", "NCT03453554")
    assert study.brief_title == "Evaluating a Digital..." and study.official_title == "Evaluating a Digital..."
    assert study.status == "planning" and study.sponsor is None
    assert study.study_type == "INTERVENTIONAL"  # the model default, kept
    assert any("no study type" in w for w in result.warnings)
    assert study.sites.count() == 0 and study.arms.count() == 0


def test_withdrawn_record(importer, data_dir):
    [result] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT00973089.json")
    study = Study.objects.get(pk=result.study_id)
    assert study.status == "withdrawn" and study.registry_overall_status == "WITHDRAWN"
    # Partial dates stay partial in the registry fields and set no operational date.
    assert (study.registry_start_date, study.registry_start_date_type) == ("2010-05", "")
    assert (study.registry_completion_date, study.registry_completion_date_type) == ("2015-03", "ACTUAL")
    assert study.actual_first_subject_in is None and study.actual_last_subject_last_visit is None
    # ACTUAL 0 is what was enrolled, not a target.
    assert (study.registry_enrollment, study.planned_enrollment) == (0, None)
    assert study.arms.get(label="Complete caries removal").arm_type == "NO_INTERVENTION"


def test_not_yet_recruiting_record_gets_planned_dates(importer, data_dir):
    [result] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT06171568.json")
    study = Study.objects.get(pk=result.study_id)
    assert study.status == "start_up"
    assert (study.registry_start_date, study.registry_start_date_type) == ("2024-02-01", "ESTIMATED")
    assert study.planned_first_subject_in == dt.date(2024, 2, 1) and study.actual_first_subject_in is None
    assert study.planned_last_subject_last_visit == dt.date(2025, 2, 1)
    assert (study.planned_enrollment, study.registry_enrollment_type) == (400, "ESTIMATED")
    assert study.other_ids == [{"type": "OTHER", "id": "2023-A00386-39"}]
    assert sorted((o.name, o.kind, o.registry_class) for o in study.collaborators.all()) == [
        ("Clinical Research Unit Saint Louis Lariboisière", "other", "UNKNOWN"),
        ("SBT Human(s) Matter", "other", "UNKNOWN")]
    site = study.sites.get()
    assert (site.site_number, site.city, site.postal_code) == ("001", "Paris", "75010")


def test_unknown_status_uses_last_known_status(importer, data_dir):
    [result] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT03475563.json")
    study = Study.objects.get(pk=result.study_id)
    assert study.registry_overall_status == "UNKNOWN" and study.status == "enrolling"
    assert study.actual_first_subject_in == dt.date(2018, 8, 16)
    assert study.planned_last_subject_last_visit == dt.date(2019, 12, 30)
    assert {s.registry_recruitment_status for s in study.sites.all()} == {"RECRUITING"}


@pytest.mark.parametrize(("overall", "last_known", "expected"), [
    ("NOT_YET_RECRUITING", "", "start_up"), ("RECRUITING", "", "enrolling"),
    ("ENROLLING_BY_INVITATION", "", "enrolling"), ("ACTIVE_NOT_RECRUITING", "", "follow_up"),
    ("SUSPENDED", "", "on_hold"), ("TERMINATED", "", "terminated"), ("COMPLETED", "", "completed"),
    ("WITHDRAWN", "", "withdrawn"), ("UNKNOWN", "ACTIVE_NOT_RECRUITING", "follow_up"), ("UNKNOWN", "", "planning"),
    ("AVAILABLE", "", "planning"), ("", "", "planning"),
])
def test_status_mapping(overall, last_known, expected):
    assert map_status(overall, last_known) == expected


# --------------------------------------------------------------------------- re-import


def test_importing_everything_twice_creates_nothing_new(importer, data_dir):
    _import_all(importer, data_dir)
    once = row_counts()
    again = _import_all(importer, data_dir)
    assert row_counts() == once  # same studies, sites, organizations, arms, links, and no audit events
    assert not any(r.created or r.changed or r.sites_created or r.sites_updated for r in again)


def test_reimport_applies_registry_changes(importer, data_dir):
    raw = raw_record("NCT06171568")
    [first] = _import_raw(importer, raw)
    study = Study.objects.get(pk=first.study_id)
    site = study.sites.get()
    before = row_counts()

    status = raw["protocolSection"]["statusModule"]
    status["overallStatus"] = "RECRUITING"
    status["startDateStruct"] = {"date": "2024-02-05", "type": "ACTUAL"}
    status["lastUpdatePostDateStruct"] = {"date": "2024-03-01", "type": "ACTUAL"}
    raw["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 450, "type": "ESTIMATED"}
    locations = raw["protocolSection"]["contactsLocationsModule"]["locations"]
    locations[0]["status"] = "RECRUITING"
    locations.append({"facility": "Hôpital Saint-Louis", "city": "Paris", "zip": "75010", "country": "France",
                      "geoPoint": {"lat": 48.87, "lon": 2.37}})
    [second] = _import_raw(importer, raw)

    assert (second.created, second.changed, second.sites_created, second.sites_updated) == (False, True, 1, 1)
    study.refresh_from_db()
    assert study.status == "enrolling" and study.registry_overall_status == "RECRUITING"
    assert study.actual_first_subject_in == dt.date(2024, 2, 5)
    assert study.planned_first_subject_in == dt.date(2024, 2, 1)  # the plan is kept
    assert study.planned_enrollment == 450 and study.version == 2
    site.refresh_from_db()
    assert site.registry_recruitment_status == "RECRUITING" and site.version == 2
    assert sorted(study.sites.values_list("site_number", flat=True)) == ["001", "002"]

    after = row_counts()
    assert after["Study"] == before["Study"] and after["StudySite"] == before["StudySite"] + 1
    assert after["Organization"] == before["Organization"] + 1  # the new institution only
    new_events = AuditEvent.objects.filter(seq__gt=AuditEvent.objects.order_by("seq")[before["audit"] - 1].seq)
    assert {e.reason for e in new_events} == {IMPORT_REASON}
    study_update = new_events.get(record_type="studies.study", action="update")
    assert study_update.changes["registry_overall_status"] == ["NOT_YET_RECRUITING", "RECRUITING"]
    assert study_update.changes["planned_enrollment"] == [400, 450]
    transition = new_events.get(record_type="studies.study", action="transition")
    assert transition.changes == {"status": ["start_up", "enrolling"]}
    site_update = new_events.get(record_type="sites.studysite", action="update")
    assert site_update.changes == {"registry_recruitment_status": ["", "RECRUITING"]}
    assert new_events.filter(record_type="sites.studysite", action="create").count() == 1
    assert audit_chain_verify()[1] is None


def test_reimport_keeps_local_status_when_registry_status_is_unchanged(importer, data_dir):
    [result] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT06171568.json")
    study = Study.objects.get(pk=result.study_id)
    study_transition(user=importer, study=study, status="enrolling", version=study.version, reason="First site open")
    events = AuditEvent.objects.count()
    [again] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT06171568.json")
    study.refresh_from_db()
    assert study.status == "enrolling" and not again.changed and AuditEvent.objects.count() == events


def test_registry_status_change_is_applied_outside_the_lifecycle(importer, data_dir):
    raw = raw_record("NCT02210780")
    raw["protocolSection"]["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    _import_raw(importer, raw)
    # follow_up -> enrolling is not a lifecycle step; a registry sync applies it anyway.
    raw["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    [result] = _import_raw(importer, raw)
    assert result.status == "enrolling"
    event = AuditEvent.objects.filter(action="transition").get()
    assert (event.changes, event.reason) == ({"status": ["follow_up", "enrolling"]}, IMPORT_REASON)


def test_missing_values_do_not_erase_existing_ones(importer, data_dir):
    ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT02210780.json")
    bare = {"protocolSection": {"identificationModule": {"nctId": "NCT02210780", "briefTitle": "New title"}}}
    [result] = _import_raw(importer, bare)
    study = Study.objects.get(pk=result.study_id)
    assert study.brief_title == "New title"
    assert study.sponsor.name == "Regeneron Pharmaceuticals" and study.status == "completed"
    assert study.eligibility_criteria and study.sites.count() == 42


def test_arm_links_come_from_either_side_and_are_added_on_reimport(importer):
    raw = raw_record("NCT02210780")
    arms_module = raw["protocolSection"]["armsInterventionsModule"]
    for item in arms_module["interventions"]:
        item.pop("armGroupLabels", None)  # only the arms name their interventions ("Drug: Dupilumab")
    for group in arms_module["armGroups"]:
        if group["label"] == "Placebo qw":
            group.pop("interventionNames", None)
    [result] = _import_raw(importer, raw)
    study = Study.objects.get(pk=result.study_id)
    assert [a.label for a in study.interventions.get(name="Dupilumab").arms.all()] == ["Dupilumab 300 mg qw"]
    placebo = study.interventions.get(name="Placebo")
    assert list(placebo.arms.all()) == []

    [again] = _import_raw(importer, raw_record("NCT02210780"))  # the full record links Placebo to its arm
    assert again.interventions_updated == 1 and again.sites_created == 0
    placebo.refresh_from_db()
    arm = study.arms.get(label="Placebo qw")
    assert list(placebo.arms.all()) == [arm] and placebo.version == 2
    event = AuditEvent.objects.get(record_type="studies.intervention", record_id=str(placebo.pk), action="update")
    assert event.changes == {"arms": [[], [arm.pk]]} and event.reason == IMPORT_REASON


def test_deleted_site_is_not_recreated(importer, data_dir):
    [result] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT02210780.json")
    site = StudySite.objects.get(study_id=result.study_id, site_number="007")
    site_delete(user=importer, site=site, version=site.version, reason="Not a candidate")
    [again] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT02210780.json")
    assert again.sites_created == 0 and StudySite.all_objects.filter(study_id=result.study_id).count() == 42
    assert StudySite.objects.filter(study_id=result.study_id).count() == 41


def test_deleted_study_is_a_conflict(importer, data_dir):
    [result] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT06171568.json")
    study = Study.objects.get(pk=result.study_id)
    study_delete(user=importer, study=study, version=study.version, reason="Duplicate")
    with pytest.raises(Conflict, match="NCT06171568.json: NCT06171568: .*deleted"):
        ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT06171568.json")


def test_protocol_number_taken_by_another_study_falls_back_to_nct_id(importer, data_dir):
    study_create(user=importer, data={"protocol_number": "R668-AD-1314", "brief_title": "Someone else's study"})
    [result] = ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT02210780.json")
    assert result.protocol_number == "NCT02210780"
    assert any("R668-AD-1314 is already used" in w for w in result.warnings)


def test_existing_organizations_are_reused(importer, data_dir):
    ctgov_import_file(user=importer, path_or_bytes=data_dir / "NCT02210780.json")
    raw = raw_record("NCT05594173")
    raw["protocolSection"]["sponsorCollaboratorsModule"]["collaborators"] = [
        {"name": "Regeneron  Pharmaceuticals", "class": "INDUSTRY"}]
    before = Organization.objects.count()
    [result] = _import_raw(importer, raw)
    assert result.organizations_created == 2  # the sponsor and the site; Regeneron matched despite spacing
    assert Organization.objects.count() == before + 2
    assert Organization.objects.filter(name="Regeneron Pharmaceuticals").count() == 1


def test_overlong_values_are_shortened_with_a_warning(importer):
    raw = synthetic_record(2, nct_id="NCT99000002")
    raw["protocolSection"]["identificationModule"]["acronym"] = "A" * 100
    raw["protocolSection"]["contactsLocationsModule"]["locations"][0]["facility"] = "F" * 500
    raw["protocolSection"]["contactsLocationsModule"]["locations"][0]["zip"] = "9" * 50
    [result] = _import_raw(importer, raw)
    study = Study.objects.get(pk=result.study_id)
    assert study.acronym == "A" * 60
    assert len(study.sites.get(site_number="001").institution.name) == 300
    assert study.sites.get(site_number="001").postal_code == "9" * 30
    assert any("acronym" in w and "shortened" in w for w in result.warnings)


def test_search_response_imports_every_study(importer):
    response = {"studies": [raw_record("NCT06171568"), raw_record("NCT05594173")]}
    results = ctgov_import_batch(user=importer, files=[("search.json", json.dumps(response).encode())])
    assert [r.nct_id for r in results] == ["NCT06171568", "NCT05594173"]
    assert {r.file for r in results} == {"search.json"}


def test_record_level_entry_point(importer):
    record = parse_study(raw_record("NCT03475563"))
    result = ctgov_import_record(user=importer, record=record, source="api")
    assert result.created and result.file == "api" and result.sites_created == 3


# --------------------------------------------------------------------------- bad input and permissions


def test_v1_file_is_rejected_naming_the_file_and_leaving_nothing(importer, tmp_path):
    path = tmp_path / "old_v1_export.json"
    path.write_text(json.dumps(V1_DOCUMENT))
    before = row_counts()
    with pytest.raises(FileRejected) as exc:
        ctgov_import_file(user=importer, path_or_bytes=path)
    assert str(exc.value).startswith("old_v1_export.json: ")
    assert "API v1" in exc.value.detail
    assert isinstance(exc.value, ValidationFailed) and isinstance(exc.value, NotAStudyRecord)
    assert exc.value.errors == {"file": [str(exc.value)]}
    assert row_counts() == before


def test_a_file_failing_midway_leaves_nothing(importer):
    response = {"studies": [raw_record("NCT06171568"), {"protocolSection": {"identificationModule": {}}}]}
    before = row_counts()
    with pytest.raises(FileRejected, match=r"search\.json: study #2: .*nctId"):
        ctgov_import_file(user=importer, path_or_bytes=json.dumps(response).encode(), filename="search.json")
    assert row_counts() == before


def test_batch_is_all_or_nothing(importer, data_dir):
    before = row_counts()
    with pytest.raises(FileRejected, match="bad.json"):
        ctgov_import_batch(user=importer, files=[
            ("NCT02210780.json", (data_dir / "NCT02210780.json").read_bytes()), ("bad.json", b"{not json")])
    assert row_counts() == before


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not valid JSON"), (b"<html></html>", "XML or HTML"), (b"[]", "JSON list"),
    (b'{"studies": []}', "holds no studies"), (b'{"protocolSection": {}}', "identificationModule"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_bad_documents_are_rejected_with_a_message(importer, data, message):
    with pytest.raises(FileRejected, match=message):
        ctgov_import_file(user=importer, path_or_bytes=data, filename="upload.json")


def test_unreadable_path_is_rejected(importer, tmp_path):
    with pytest.raises(FileRejected, match="missing.json: cannot read the file"):
        ctgov_import_file(user=importer, path_or_bytes=tmp_path / "missing.json")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.CRA, Role.REGULATORY, Role.AUDITOR])
def test_roles_without_import_permission_are_refused(make_user, role, data_dir):
    user = make_user(role)
    with pytest.raises(AccessDenied):
        ctgov_import_file(user=user, path_or_bytes=data_dir / "NCT06171568.json")
    assert Study.objects.count() == 0


def test_study_scoped_cpm_cannot_import(make_user, study, data_dir):
    user = make_user(Role.CPM, study=study)  # ctgov.import counts only portfolio-wide
    with pytest.raises(AccessDenied):
        ctgov_import_file(user=user, path_or_bytes=data_dir / "NCT06171568.json")
    with pytest.raises(AccessDenied):
        ctgov_import_record(user=None, record=parse_study(raw_record("NCT06171568")))


# --------------------------------------------------------------------------- performance


def test_thousand_locations_import_with_bounded_queries(importer, django_assert_max_num_queries):
    record = parse_study(synthetic_record(1000))
    assert len(record.locations) == 1000 and len({loc.city for loc in record.locations}) > 30
    # Bulk writes: the count grows with batches (22 sites per INSERT on SQLite), never per row.
    with django_assert_max_num_queries(150):
        result = ctgov_import_record(user=importer, record=record, source="synthetic.json")
    assert (result.sites_created, result.organizations_created) == (1000, 1002)
    numbers = list(StudySite.objects.filter(study_id=result.study_id).order_by("site_number")
                   .values_list("site_number", flat=True))
    assert numbers[0] == "0001" and numbers[-1] == "1000" and len(set(numbers)) == 1000
    assert AuditEvent.objects.filter(record_type="sites.studysite", action="create").count() == 1000

    with django_assert_max_num_queries(20):
        again = ctgov_import_record(user=importer, record=record, source="synthetic.json")
    assert not again.changed

    raw = synthetic_record(1000)
    for location in raw["protocolSection"]["contactsLocationsModule"]["locations"]:
        location["status"] = "COMPLETED"
    with django_assert_max_num_queries(60):
        updated = ctgov_import_record(user=importer, record=parse_study(raw), source="synthetic.json")
    assert (updated.sites_created, updated.sites_updated) == (0, 1000)
    assert set(StudySite.objects.filter(study_id=result.study_id).values_list("version", flat=True)) == {2}
    assert AuditEvent.objects.filter(record_type="sites.studysite", action="update").count() == 1000
    assert audit_chain_verify()[1] is None
