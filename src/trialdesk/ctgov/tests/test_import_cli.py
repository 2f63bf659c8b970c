"""`trialdesk import_ctgov`: files and folders, per-file errors, exit codes, the acting user."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from trialdesk.accounts.roles import Role
from trialdesk.accounts.services import user_deactivate
from trialdesk.audit.models import AuditEvent
from trialdesk.ctgov.tests.conftest import V1_DOCUMENT, row_counts
from trialdesk.sites.models import StudySite
from trialdesk.studies.models import Study


def _run(*args):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("import_ctgov", *map(str, args), stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_imports_files_and_reports_each(importer, data_dir):
    code, out, err = _run(data_dir / "NCT02210780.json", data_dir / "NCT06171568.json", "--user", "importer")
    assert code == 0, err
    assert "NCT02210780.json: created study R668-AD-1314 (NCT02210780): 42 sites created, 0 updated" in out
    assert "NCT06171568.json: created study APHP230528 (NCT06171568): 1 sites created, 0 updated" in out
    assert "2 of 2 files imported." in out
    assert set(AuditEvent.objects.filter(reason="ClinicalTrials.gov import").values_list("channel", flat=True)) \
        == {"cli"}

    code, out, _ = _run(data_dir / "NCT02210780.json", "--user", "importer")
    assert code == 0 and "unchanged study R668-AD-1314 (NCT02210780): 0 sites created, 0 updated" in out


def test_folder_with_a_bad_file_imports_the_good_ones_and_exits_1(importer, data_dir, tmp_path):
    folder = tmp_path / "downloads"
    (folder / "nested").mkdir(parents=True)
    for path in data_dir.glob("*.json"):
        shutil.copy(path, folder / "nested" / path.name)
    (folder / "aaa_legacy.json").write_text(json.dumps(V1_DOCUMENT))
    (folder / "notes.txt").write_text("not a study")  # not *.json: ignored

    code, out, err = _run(folder, "--user", "importer")
    assert code == 1
    assert f"ERROR {folder / 'aaa_legacy.json'}: this is the retired ClinicalTrials.gov API v1 format" in err
    assert "6 of 7 files imported, 1 failed." in err
    assert Study.objects.count() == 6 and StudySite.objects.count() == 48
    assert out.count("created study") == 6


def test_missing_file_is_an_error_for_that_file_only(importer, data_dir, tmp_path):
    code, out, err = _run(tmp_path / "nope.json", data_dir / "NCT03475563.json", "--user", "importer")
    assert code == 1
    assert f"ERROR {tmp_path / 'nope.json'}: cannot read the file" in err
    assert "created study BIOSS (NCT03475563): 3 sites created" in out


def test_user_from_environment(importer, data_dir, monkeypatch):
    monkeypatch.setenv("TRIALDESK_CLI_USER", "importer")
    code, out, _ = _run(data_dir / "NCT03453554.json")
    assert code == 0 and "created study AZ150096 (NCT03453554)" in out
    assert "warning: The record gives no study type" in out


@pytest.mark.parametrize(("setup", "message"), [
    ("none", "Name the acting user with --user"),
    ("unknown", "No user named 'ghost'"),
    ("viewer", "may not import"),
    ("study_cpm", "may not import"),
    ("inactive", "is deactivated"),
])
def test_bad_user_is_a_command_error(setup, message, make_user, admin_user, study, data_dir, monkeypatch):
    monkeypatch.delenv("TRIALDESK_CLI_USER", raising=False)
    args = [data_dir / "NCT06171568.json"]
    if setup == "unknown":
        args += ["--user", "ghost"]
    elif setup == "viewer":
        make_user(Role.VIEWER, username="someone")
        args += ["--user", "someone"]
    elif setup == "study_cpm":
        make_user(Role.CPM, study=study, username="someone")
        args += ["--user", "someone"]
    elif setup == "inactive":
        user = make_user(Role.CPM, username="someone")
        user_deactivate(actor=admin_user, user=user, reason="Left the company")
        args += ["--user", "someone"]
    before = row_counts()
    with pytest.raises(CommandError, match=message):
        call_command("import_ctgov", *map(str, args), stdout=io.StringIO(), stderr=io.StringIO())
    assert row_counts() == before

