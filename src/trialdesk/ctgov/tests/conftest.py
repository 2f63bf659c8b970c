"""Fixtures for the ClinicalTrials.gov import tests: the real sample records and a large synthetic one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from trialdesk.accounts.roles import Role

DATA_DIR = Path(__file__).resolve().parents[5] / "shared" / "data" / "ctgov"
LARGEST = "NCT02210780"

# What a retired API v1 download (FullStudiesResponse) looks like.
V1_DOCUMENT = {"FullStudiesResponse": {"APIVrs": "1.01.05", "NStudiesFound": 1, "FullStudies": [
    {"Rank": 1, "Study": {"ProtocolSection": {"IdentificationModule": {"NCTId": "NCT02210780"}}}}]}}


def row_counts() -> dict[str, int]:
    """Rows of every table the import writes, soft-deleted ones included, and audit events."""
    from trialdesk.audit.models import AuditEvent
    from trialdesk.organizations.models import Organization
    from trialdesk.sites.models import StudySite
    from trialdesk.studies.models import Arm, Intervention, Study

    counts = {m.__name__: m.all_objects.count() for m in (Study, StudySite, Organization, Arm, Intervention)}
    counts["arm_links"] = Intervention.arms.through.objects.count()
    counts["collaborators"] = Study.collaborators.through.objects.count()
    counts["audit"] = AuditEvent.objects.count()
    return counts


def raw_record(nct_id: str) -> dict:
    return json.loads((DATA_DIR / f"{nct_id}.json").read_text(encoding="utf-8"))


def synthetic_record(locations: int, nct_id: str = "NCT99000001") -> dict:
    """NCT02210780 with `locations` sites: its 42 real locations (cities, states, geo points) cycled,
    each copy a distinct facility."""
    raw = copy.deepcopy(raw_record(LARGEST))
    ident = raw["protocolSection"]["identificationModule"]
    ident["nctId"] = nct_id
    ident["orgStudyIdInfo"] = {"id": f"SYN-{nct_id}"}
    real = raw["protocolSection"]["contactsLocationsModule"]["locations"]
    raw["protocolSection"]["contactsLocationsModule"]["locations"] = [
        {**real[i % len(real)], "facility": f"{real[i % len(real)]['city']} Research Center {i // len(real) + 1}",
         "status": "RECRUITING"}
        for i in range(locations)
    ]
    return raw


@pytest.fixture
def data_dir() -> Path:
    assert DATA_DIR.is_dir(), f"the shared ClinicalTrials.gov samples are missing: {DATA_DIR}"
    return DATA_DIR


@pytest.fixture
def importer(make_user):
    """A portfolio-wide CPM: holds ctgov.import."""
    return make_user(Role.CPM, username="importer")


@pytest.fixture
def viewer(make_user):
    return make_user(Role.VIEWER, username="viewer")


@pytest.fixture
def api_client(db):
    """api_client(user): a django.test.Client that authenticates as `user` with a new API token."""
    from django.test import Client

    from trialdesk.accounts.services import api_token_create

    def _client(user):
        _, secret = api_token_create(actor=None, user=user, name="api tests")
        return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    return _client
