"""Screening-log import: real CSV and XLSX files, dry-run problems by row and column, all or nothing, the
template round trip, and the import_screening_log command."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command
from openpyxl import Workbook, load_workbook

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.core.errors import AccessDenied, ValidationFailed
from trialdesk.sites.models import StudySite
from trialdesk.subjects import importer, services
from trialdesk.subjects.models import Randomization, Subject, SubjectSettings
from trialdesk.subjects.tests.conftest import D
from trialdesk.visits.models import SubjectVisit

HEADER = ["site_number", "subject_number", "status", "screened_on", "consented_on", "enrolled_on",
          "eligibility_confirmed_by", "randomized_on", "arm", "screen_failed_on", "screen_fail_reason_code",
          "withdrawn_on", "withdrawal_reason", "Notes"]


def write_csv(path, rows, header=HEADER, delimiter=",", encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def row(**values):
    return [values.get(h, "") for h in HEADER]


@pytest.fixture
def importing(site, coordinator, icf, arms, protocol):
    """The coordinator of site 001 imports; site 001 is activated, arms and an approved protocol exist."""
    return coordinator


def run(user, study, path, dry_run=True):
    return services.screening_log_import(user=user, study=study, content=path.read_bytes(), filename=path.name,
                                         dry_run=dry_run)


def problems(report) -> list[str]:
    return [str(p) for p in report.problems]


def test_dry_run_reports_every_problem_by_row_and_column_and_writes_nothing(importing, study, tmp_path, flow):
    existing = flow.new()
    audit_before = AuditEvent.objects.count()
    path = write_csv(tmp_path / "log.csv", [
        row(site_number="001", subject_number="001-050", status="enrolled", screened_on="2025-02-01",
            consented_on="2025-02-02", enrolled_on="2024-13-01", eligibility_confirmed_by="coord"),      # row 2
        row(site_number="999", status="screened", screened_on="2025-02-01"),                             # row 3
        row(site_number="001", status="enrolled", screened_on="2025-02-01", consented_on="2025-02-09",
            enrolled_on="2025-02-05", eligibility_confirmed_by="coord"),                                  # row 4
        row(site_number="001", status="enrolled", screened_on="2025-02-01", screen_failed_on="2025-02-03",
            screen_fail_reason_code="lab_out_of_range", enrolled_on="2025-02-04",
            eligibility_confirmed_by="coord"),                                                            # row 5
        row(site_number="001", subject_number="001-050", status="screened", screened_on="2025-02-01"),   # row 6
        row(site_number="001", subject_number=existing.subject_number, status="screened",
            screened_on="2025-02-01"),                                                                     # row 7
        row(site_number="001", status="screen_failed", screened_on="2025-02-01",
            screen_failed_on="2025-02-02", screen_fail_reason_code="bad_luck"),                          # row 8
        row(site_number="001", status="enrolled", screened_on="2025-02-01", consented_on="2025-02-02",
            enrolled_on="2025-02-03"),                                                                     # row 9
        row(site_number="001", status="randomized", screened_on="2025-02-01", consented_on="2025-02-02",
            enrolled_on="2025-02-03", eligibility_confirmed_by="coord", randomized_on="2025-02-04",
            arm="Unicorn"),                                                                                # row 10
        row(site_number="001", status="dancing"),                                                          # row 11
        row(site_number="001", status="withdrawn", screened_on="2025-02-01", consented_on="2025-02-02",
            withdrawn_on="2025-02-05", withdrawal_reason="bored"),                                         # row 12
        row(site_number="001", status="completed", screened_on="2025-02-01"),                              # row 13
    ])
    report = run(importing, study, path)
    assert report.dry_run and not report.ok and report.rows == 12
    assert problems(report) == [
        "row 2, column enrolled_on: '2024-13-01' is not a date (YYYY-MM-DD).",
        "row 3, column site_number: '999' is not a site of ACME-301.",
        "row 4, column enrolled_on: Enrolled on 2025-02-05 is before Consented on 2025-02-09 (consented_on).",
        "row 5, column enrolled_on: A subject cannot go from Screen failed to Enrolled (allowed next: none "
        "(final status)).",
        "row 6, column subject_number: '001-050' also appears in row 2.",
        f"row 7, column subject_number: '{existing.subject_number}' already exists in this study.",
        "row 8, column screen_fail_reason_code: 'bad_luck' is not one of the study's screen-failure reasons "
        "(inclusion_not_met, exclusion_met, lab_out_of_range, consent_declined, other).",
        "row 9, column eligibility_confirmed_by: is required for an enrolled subject (e-mail or username of the "
        "investigator who confirmed eligibility).",
        "row 10, column arm: 'Unicorn' is not an arm of ACME-301.",
        "row 11, column status: 'dancing' is not a subject status (pre_screened, screened, screen_failed, "
        "consented, enrolled, randomized, active, completed, withdrawn, lost_to_follow_up).",
        "row 12, column withdrawal_reason: 'bored' is not a withdrawal reason (withdrew_consent, adverse_event, "
        "lost_to_follow_up, investigator_decision, death, other).",
        "row 13, column completed_on: The date of the status Completed is required.",
    ]
    assert report.warnings == ["Ignored columns: Notes."]
    assert Subject.objects.count() == 1 and AuditEvent.objects.count() == audit_before

    # A real import of the same file is refused as a whole, naming every problem.
    with pytest.raises(ValidationFailed) as exc:
        run(importing, study, path, dry_run=False)
    assert exc.value.message.startswith("Nothing was imported: the file has 12 problems (first: row 2, column "
                                        "enrolled_on:")
    assert exc.value.errors["row 3: site_number"] == ["'999' is not a site of ACME-301."]
    assert Subject.objects.count() == 1 and AuditEvent.objects.count() == audit_before


def test_import_is_all_or_nothing_and_audited(importing, study, tmp_path, site, arms, admin_user):
    good = [
        row(site_number="001", status="screened", screened_on="2025-02-01"),
        row(site_number="1", subject_number="001-020", status="randomized", screened_on="2025-02-01",
            consented_on="2025-02-02", enrolled_on="2025-02-04", eligibility_confirmed_by="coord@example.org",
            randomized_on="2025-02-05", arm="placebo"),
        row(site_number="001", status="Screen failed", screened_on="2025-02-01", screen_failed_on="2025-02-03",
            screen_fail_reason_code="exclusion_met"),
        row(site_number="001", status="withdrawn", screened_on="2025-02-01", consented_on="2025-02-02",
            enrolled_on="2025-02-03", eligibility_confirmed_by="coord", withdrawn_on="2025-02-20",
            withdrawal_reason="adverse_event"),
    ]
    bad = write_csv(tmp_path / "bad.csv", [*good, row(site_number="001", status="enrolled",
                                                      screened_on="2025-02-01", consented_on="2025-02-02",
                                                      enrolled_on="2025-02-03", eligibility_confirmed_by="nobody")])
    with pytest.raises(ValidationFailed) as exc:
        run(importing, study, bad, dry_run=False)
    assert exc.value.errors == {"row 6: eligibility_confirmed_by": ["no person or user 'nobody' is known."]}
    assert not Subject.objects.exists() and StudySite.objects.get(pk=site.pk).enrolled_count == 0

    path = write_csv(tmp_path / "good.csv", good)
    report = run(importing, study, path, dry_run=False)
    assert report.ok and not report.dry_run
    numbers = {s.subject_number: s for s in Subject.objects.all()}
    assert sorted(numbers) == ["001-020", "001-021", "001-022", "001-023"]  # generated after the given 020
    randomized = numbers["001-020"]
    assert randomized.status == "randomized" and randomized.randomization.arm == arms[1]
    assert numbers["001-022"].status == "screen_failed"
    site.refresh_from_db()
    assert site.enrolled_count == 2 == Subject.objects.filter(site=site, enrolled_on__isnull=False).count()
    imported = AuditEvent.objects.filter(action="import")
    assert imported.filter(record_type="subjects.subject").count() == 4
    assert imported.filter(record_type="subjects.randomization").count() == 1
    assert imported.first().reason.startswith("Imported from screening log good.csv (sha256 ")
    assert set(SubjectVisit.objects.filter(subject=randomized).values_list("definition__code", flat=True)) == \
        {"V1", "V2", "V3"}  # enrolled subjects get their visits, randomization-anchored ones included


def test_semicolon_csv_from_excel_with_bom_and_xlsx_date_cells(importing, study, tmp_path):
    path = write_csv(tmp_path / "eu.csv", [row(site_number="001", status="consented", screened_on="2025-02-01",
                                               consented_on="2025-02-03")],
                     delimiter=";", encoding="utf-8-sig")
    assert run(importing, study, path).ok

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["001", None, "screened", dt.datetime(2025, 2, 1), None, None, None, None, None, None, None,
                  None, None, None])
    sheet.append([1, None, "Pre-screened", None])  # a numeric site cell; a status given by its label
    sheet.append([])
    sheet.append(["001", None, "screened", "01/02/2025"])
    xlsx = tmp_path / "log.xlsx"
    book.save(xlsx)
    report = run(importing, study, xlsx)
    assert problems(report) == [
        "row 3, column prescreened_on: The date of the status Pre-screened is required.",
        "row 5, column screened_on: '01/02/2025' is not a date (YYYY-MM-DD).",
    ]


@pytest.mark.parametrize("name,content,message", [
    ("log.xlsx", b"PK\x03\x04 definitely not a workbook", "The file is not a readable XLSX workbook"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "Old Excel (.xls) files are not supported"),
    ("empty.csv", b"", "The file is empty"),
    ("header.csv", b"site_number,status\n", "The file has a header row but no subjects."),
    ("binary.csv", b"site_number,status\n\x00\x01", "binary data"),
])
def test_unreadable_files_are_reported_not_crashed(importing, study, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    report = run(importing, study, path)
    assert not report.ok and message in report.problems[0].message and report.problems[0].row is None


def test_missing_required_columns(importing, study, tmp_path):
    path = write_csv(tmp_path / "log.csv", [["001"]], header=["site"])
    assert problems(run(importing, study, path)) == [
        "row 1, column status: this column is missing from the header row (download the template)."]


def test_site_limited_importers_import_only_at_their_sites(importing, study, tmp_path, sites, make_user):
    path = write_csv(tmp_path / "log.csv", [row(site_number="002", status="screened", screened_on="2025-02-01")])
    assert problems(run(importing, study, path)) == [
        "row 2, column site_number: you may not import subjects at site 002."]
    viewer = make_user(Role.VIEWER, study=study)
    with pytest.raises(AccessDenied):
        run(viewer, study, path)


def test_delegation_and_site_status_apply_to_imported_enrollments(importing, study, tmp_path, make_user, sites,
                                                                  admin_user):
    cra = make_user(Role.CRA, study=study, username="cra")
    path = write_csv(tmp_path / "log.csv", [
        row(site_number="001", status="enrolled", screened_on="2025-02-01", consented_on="2025-02-02",
            enrolled_on="2025-02-03", eligibility_confirmed_by="cra"),
        row(site_number="002", status="enrolled", screened_on="2025-02-01", consented_on="2025-02-02",
            enrolled_on="2025-02-03", eligibility_confirmed_by="admin"),
    ])
    report = run(admin_user, study, path)
    assert problems(report) == [
        "row 2, column eligibility_confirmed_by: Cra Tester is not delegated to confirm eligibility at site 001 of "
        "ACME-301 on 2025-02-03: the site's delegation log has no signed delegation of \"Assess eligibility\" to "
        "them in force that day, and they are not its principal investigator on the staff roster.",
        "row 3, column enrolled_on: site 002 is Candidate: subjects can be enrolled only at an Activated or "
        "Enrolling site.",
        "row 3, column eligibility_confirmed_by: Admin Tester is not delegated to confirm eligibility at site 002 "
        "of ACME-301 on 2025-02-03: the site's delegation log has no signed delegation of \"Assess eligibility\" "
        "to them in force that day, and they are not its principal investigator on the staff roster.",
    ]
    assert cra.person_id


def test_template_round_trip_csv_and_xlsx(importing, study, tmp_path, site):
    settings = SubjectSettings(study=study)
    book = load_workbook(io.BytesIO(importer.template_xlsx(study, settings)))
    sheet = book["Screening log"]
    header = [c.value for c in sheet[1]]
    assert header == importer.COLUMN_NAMES
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in sheet.data_validations.dataValidation}
    assert lists["C2"].startswith('"pre_screened,screened,') and lists["A2"] == '"001,002,003"'
    assert "Instructions" in book.sheetnames
    values = {"site_number": "001", "status": "enrolled", "screened_on": "2025-02-01", "consented_on": "2025-02-02",
              "enrolled_on": "2025-02-03", "eligibility_confirmed_by": "coord"}
    sheet.append([values.get(name) for name in header])
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    report = run(importing, study, filled, dry_run=False)
    assert report.ok and [s.subject_number for s in report.created] == ["001-001"]

    template = importer.template_csv().decode()
    assert template.strip() == ",".join(importer.COLUMN_NAMES)
    csv_path = tmp_path / "filled.csv"
    csv_path.write_text(template + ",".join(values.get(name, "") for name in importer.COLUMN_NAMES) + "\n")
    report = run(importing, study, csv_path, dry_run=False)
    assert report.ok and [s.subject_number for s in report.created] == ["001-002"]
    site.refresh_from_db()
    assert site.enrolled_count == 2


def test_randomization_columns_need_a_date(importing, study, tmp_path):
    path = write_csv(tmp_path / "log.csv", [row(site_number="001", status="screened", screened_on="2025-02-01",
                                                arm="Placebo")])
    assert problems(run(importing, study, path)) == [
        "row 2, column arm: is given but the row has no randomized_on date."]
    assert not Randomization.objects.exists()


# --- The command ---------------------------------------------------------------------------------------------

def _run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("import_screening_log", *map(str, args), stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_command_dry_run_import_and_errors(importing, study, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [row(site_number="001", status="enrolled", screened_on="2025-02-01",
                                               consented_on="2025-02-02", enrolled_on="2025-02-31",
                                               eligibility_confirmed_by="coord")])
    code, out, err = _run_command(bad, "--study", "ACME-301", "--user", "coord")
    assert code == 1
    assert f"{bad}:2:enrolled_on: '2025-02-31' is not a date (YYYY-MM-DD)." in err
    assert "1 problem in 1 rows; nothing was imported." in err and not Subject.objects.exists()

    good = write_csv(tmp_path / "good.csv", [row(site_number="001", status="screened", screened_on="2025-02-01"),
                                             row(site_number="001", status="consented", screened_on="2025-02-01",
                                                 consented_on="2025-02-02")])
    code, out, err = _run_command(good, "--study", "ACME-301", "--user", "coord", "--dry-run")
    assert code == 0 and "importing would create 2 subjects (1 screened, 1 consented). Nothing was written." in out
    assert not Subject.objects.exists()
    code, out, err = _run_command(good, "--study", "ACME-301", "--user", "coord")
    assert code == 0 and "imported 2 subjects into ACME-301" in out
    assert set(AuditEvent.objects.filter(action="import").values_list("channel", flat=True)) == {"cli"}


def test_command_refuses_unknown_study_user_and_file(importing, study, tmp_path, make_user):
    from django.core.management import CommandError

    path = write_csv(tmp_path / "log.csv", [row(site_number="001", status="screened", screened_on="2025-02-01")])
    with pytest.raises(CommandError, match="No study 'NOPE-1'"):
        _run_command(path, "--study", "NOPE-1", "--user", "coord")
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        _run_command(path, "--study", "ACME-301", "--user", "ghost")
    with pytest.raises(CommandError, match="cannot read the file"):
        _run_command(tmp_path / "missing.csv", "--study", "ACME-301", "--user", "coord")
    make_user(Role.VIEWER, study=study, username="watcher")
    with pytest.raises(CommandError, match="subject.import"):
        _run_command(path, "--study", "ACME-301", "--user", "watcher")
    assert D(2025, 2, 1)  # the dates used above are in the past
