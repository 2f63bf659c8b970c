"""The benchmarked operations: each is the real request (web page or API call, through Django's whole stack
in this process) and its floor, the hand-written SQL that returns the same numbers.

Import after django.setup(). `build(ctx)` returns the operations for the chosen targets (the largest study,
a deep subject page...), which `find_targets()` looks up once with plain SQL.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client

from trialdesk.audit.models import AuditEvent
from trialdesk.core.keyset import encode_cursor
from trialdesk.organizations.models import Organization, Person
from trialdesk.sites.models import StudySite
from trialdesk.studies.models import Study
from trialdesk.subjects.models import Subject

PAGE = 50
DEEP_PAGE = 1000
CTGOV_LOCATIONS = 1000
REPO = Path(__file__).resolve().parents[1]
# The shared ClinicalTrials.gov sample beside the repository (as the ctgov tests find it); BENCH_CTGOV_SAMPLE
# names another copy.
CTGOV_SAMPLE = Path(os.environ.get("BENCH_CTGOV_SAMPLE")
                    or REPO.parent / "shared" / "data" / "ctgov" / "NCT02210780.json")

T_STUDY = Study._meta.db_table
T_SITE = StudySite._meta.db_table
T_ORG = Organization._meta.db_table
T_PERSON = Person._meta.db_table
T_SUBJECT = Subject._meta.db_table
T_AUDIT = AuditEvent._meta.db_table


@dataclass
class Operation:
    name: str
    app: Callable[[], object]
    floor: Callable[[], object]
    before: Callable[[], None] | None = None   # run (untimed) before every timed app call
    note: str = ""
    target_ms: float = 300.0


@dataclass
class Targets:
    user: object
    largest_study: int            # most sites
    largest_sites: int
    largest_subjects_study: int   # most subjects (the screening log page)
    site_status: str              # the commonest site status of the largest study
    deep_cursor_api: str          # portfolio-wide subject list, page DEEP_PAGE (or the last)
    deep_page_api: int
    deep_cursor_web: str          # the largest-subjects study's screening log, page DEEP_PAGE (or the last)
    deep_page_web: int
    subjects_total: int
    notes: list[str] = field(default_factory=list)


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _false() -> str:
    return "false" if connection.vendor == "postgresql" else "0"


def find_targets(user) -> Targets:
    f = _false()
    largest, n_sites = _rows(f"SELECT study_id, COUNT(*) FROM {T_SITE} WHERE is_deleted = {f} "
                             f"GROUP BY study_id ORDER BY COUNT(*) DESC, study_id LIMIT 1")[0]
    by_subjects = _rows(f"SELECT study_id, COUNT(*) FROM {T_SUBJECT} WHERE is_deleted = {f} "
                        f"GROUP BY study_id ORDER BY COUNT(*) DESC, study_id LIMIT 1")
    subjects_study, study_subjects = by_subjects[0] if by_subjects else (largest, 0)
    # The site list filter: the commonest status among the recruiting ones (else the commonest of all).
    status = _rows(f"SELECT status FROM {T_SITE} WHERE study_id = %s AND is_deleted = {f} GROUP BY status "
                   f"ORDER BY CASE WHEN status IN ('activated', 'enrolling') THEN 0 ELSE 1 END, COUNT(*) DESC, "
                   f"status LIMIT 1", [largest])[0][0]
    total = _rows(f"SELECT COUNT(*) FROM {T_SUBJECT} s JOIN {T_STUDY} st ON st.id = s.study_id "
                  f"JOIN {T_SITE} ss ON ss.id = s.site_id WHERE s.is_deleted = {f} AND st.is_deleted = {f} "
                  f"AND ss.is_deleted = {f}")[0][0]
    notes = []

    def deep(where: str, params: list, count: int, label: str) -> tuple[str, int]:
        last = max(1, -(-count // PAGE))
        page = min(DEEP_PAGE, last)
        if page < DEEP_PAGE:
            notes.append(f"{label}: {count} subjects make {last} pages of {PAGE}; page {page} measured "
                         f"instead of page {DEEP_PAGE}")
        if page == 1:
            return "", 1
        offset = (page - 1) * PAGE - 1
        key = _rows(f"SELECT s.study_id, s.subject_number FROM {T_SUBJECT} s JOIN {T_STUDY} st ON st.id = s.study_id "
                    f"JOIN {T_SITE} ss ON ss.id = s.site_id WHERE s.is_deleted = {f} AND st.is_deleted = {f} "
                    f"AND ss.is_deleted = {f} {where} ORDER BY s.study_id, s.subject_number "
                    f"LIMIT 1 OFFSET {offset}", params)[0]
        return encode_cursor(tuple(key), position=offset + 1), page

    cursor_api, page_api = deep("", [], total, "portfolio-wide subject list")
    cursor_web, page_web = deep("AND s.study_id = %s", [subjects_study], study_subjects,
                                f"screening log of study {subjects_study}")
    return Targets(user=user, largest_study=largest, largest_sites=n_sites, largest_subjects_study=subjects_study,
                   site_status=status, deep_cursor_api=cursor_api, deep_page_api=page_api,
                   deep_cursor_web=cursor_web, deep_page_web=page_web, subjects_total=total, notes=notes)


# --- The app side ----------------------------------------------------------------------------------------

class Caller:
    """GETs through Django's whole stack (middleware, URL routing, views, templates, ninja) as the user."""

    def __init__(self, user):
        self.client = Client()
        self.client.force_login(user)

    def get(self, url: str, params: dict | None = None):
        def call():
            response = self.client.get(url, params or {})
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} {params or ''} answered {response.status_code}: "
                                   f"{response.content[:300]!r}")
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            return response
        return call


# --- Floors: hand-written SQL returning the same numbers ----------------------------------------------------

def _sql(*statements: tuple[str, list]) -> Callable[[], list]:
    def run():
        out = []
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                out.append(cursor.fetchall())
        return out
    return run


def floor_portfolio():
    """Every study's row and its sites counted per status with their enrollment (aggregated per study and
    status first, from the sites alone, then joined to the studies)."""
    f = _false()
    return _sql((f"""
        SELECT st.id, st.protocol_number, st.acronym, st.brief_title, st.status, st.phases, st.planned_enrollment,
               st.planned_first_site_activated, st.actual_first_site_activated, st.planned_first_subject_in,
               st.actual_first_subject_in, st.planned_last_subject_in, st.actual_last_subject_in,
               st.planned_last_subject_last_visit, st.actual_last_subject_last_visit, st.planned_database_lock,
               st.actual_database_lock, st.planned_final_report, st.actual_final_report, o.name,
               agg.status, agg.n, agg.enrolled
        FROM {T_STUDY} st
        LEFT JOIN {T_ORG} o ON o.id = st.sponsor_id
        LEFT JOIN (SELECT study_id, status, COUNT(*) AS n, SUM(enrolled_count) AS enrolled FROM {T_SITE}
                   WHERE is_deleted = {f} GROUP BY study_id, status) agg ON agg.study_id = st.id
        WHERE st.is_deleted = {f}
        ORDER BY st.protocol_number""", []))


def floor_site_actuals(study_id: int):
    """Per-site screening-log counts and rates, and subjects enrolled per site and day (the dashboard's data):
    the study's subjects aggregated per site through the study index, then joined to its sites."""
    f = _false()

    def n(cond: str) -> str:
        return f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)"

    return _sql((f"""
        SELECT ss.id, ss.site_number, ss.status, ss.country, ss.actual_activated, ss.actual_closed_out, o.name,
               agg.*
        FROM {T_SITE} ss
        JOIN {T_ORG} o ON o.id = ss.institution_id
        LEFT JOIN (
            SELECT s.site_id, COUNT(*) AS n, {n("s.screened_on IS NOT NULL OR s.enrolled_on IS NOT NULL")} AS scr,
                   {n("s.consented_on IS NOT NULL OR s.enrolled_on IS NOT NULL")} AS con,
                   {n("s.enrolled_on IS NOT NULL")} AS enr, {n("s.randomized_on IS NOT NULL")} AS ran,
                   {n("s.completed_on IS NOT NULL")} AS com,
                   {n("s.screen_failed_on IS NOT NULL OR s.status = 'screen_failed'")} AS sf,
                   {n("s.withdrawn_on IS NOT NULL OR s.status = 'withdrawn'")} AS wd,
                   MIN(s.enrolled_on) AS first_in, MAX(s.enrolled_on) AS last_in
            FROM {T_SUBJECT} s WHERE s.study_id = %s AND s.is_deleted = {f} GROUP BY s.site_id
        ) agg ON agg.site_id = ss.id
        WHERE ss.study_id = %s AND ss.is_deleted = {f}
        ORDER BY ss.site_number""", [study_id, study_id]), (f"""
        SELECT site_id, enrolled_on, COUNT(*) FROM {T_SUBJECT}
        WHERE study_id = %s AND enrolled_on IS NOT NULL AND is_deleted = {f}
        GROUP BY site_id, enrolled_on""", [study_id]))


def floor_site_list(study_id: int, status: str, offset: int):
    f = _false()
    return _sql((f"""
        SELECT ss.*, o.name, p.first_name, p.last_name, st.protocol_number
        FROM {T_SITE} ss
        JOIN {T_STUDY} st ON st.id = ss.study_id
        JOIN {T_ORG} o ON o.id = ss.institution_id
        LEFT JOIN {T_PERSON} p ON p.id = ss.principal_investigator_id
        WHERE ss.study_id = %s AND ss.status = %s AND ss.is_deleted = {f} AND st.is_deleted = {f}
        ORDER BY ss.site_number LIMIT {PAGE} OFFSET {offset}""", [study_id, status]),
        (f"SELECT COUNT(*) FROM {T_SITE} WHERE study_id = %s AND status = %s AND is_deleted = {f}",
         [study_id, status]))


def _live_subjects(f: str) -> str:
    """Subjects not deleted and not at a deleted study or site ("not among the few deleted ones")."""
    return (f"s.is_deleted = {f} AND s.study_id NOT IN (SELECT id FROM {T_STUDY} WHERE is_deleted <> {f}) "
            f"AND s.site_id NOT IN (SELECT id FROM {T_SITE} WHERE is_deleted <> {f})")


def floor_subject_page(cursor_key: tuple, *, study_id: int | None):
    """The keyset page and the count (API: total; page: per status, which the page shows)."""
    f = _false()
    where = "AND s.study_id = %s" if study_id is not None else ""
    params = [study_id] if study_id is not None else []
    page = (f"""
        SELECT s.*, ss.site_number, st.protocol_number
        FROM {T_SUBJECT} s
        JOIN {T_STUDY} st ON st.id = s.study_id
        JOIN {T_SITE} ss ON ss.id = s.site_id
        WHERE {_live_subjects(f)} {where} AND (s.study_id, s.subject_number) > (%s, %s)
        ORDER BY s.study_id, s.subject_number LIMIT {PAGE}""", params + list(cursor_key))
    if study_id is None:
        count = (f"SELECT COUNT(*) FROM {T_SUBJECT} s WHERE {_live_subjects(f)}", [])
    else:
        count = (f"SELECT s.status, COUNT(*) FROM {T_SUBJECT} s WHERE {_live_subjects(f)} AND s.study_id = %s "
                 f"GROUP BY s.status", [study_id])
    return _sql(page, count)


def floor_subject_offset(offset: int, *, study_id: int | None):
    """The same page by OFFSET (what the page cost before keyset pagination), and the same counts."""
    f = _false()
    where = "AND s.study_id = %s" if study_id is not None else ""
    params = [study_id] if study_id is not None else []
    page = (f"""
        SELECT s.*, ss.site_number, st.protocol_number
        FROM {T_SUBJECT} s
        JOIN {T_STUDY} st ON st.id = s.study_id
        JOIN {T_SITE} ss ON ss.id = s.site_id
        WHERE {_live_subjects(f)} {where}
        ORDER BY s.study_id, s.subject_number LIMIT {PAGE} OFFSET {offset}""", params)
    count = (f"SELECT COUNT(*) FROM {T_SUBJECT} s WHERE {_live_subjects(f)} {where}", params)
    return _sql(page, count)


def floor_audit(where: str, params: list):
    """The newest page (bounded by the newest matching seq, which keeps PostgreSQL and SQLite on the study or
    record index) and the count."""
    newest = f"(SELECT seq FROM {T_AUDIT} WHERE {where} ORDER BY seq DESC LIMIT 1)"
    return _sql((f"SELECT * FROM {T_AUDIT} WHERE {where} AND seq <= {newest} ORDER BY seq DESC LIMIT {PAGE}",
                 params + params),
                (f"SELECT COUNT(*) FROM {T_AUDIT} WHERE {where}", params))


# --- ClinicalTrials.gov import ---------------------------------------------------------------------------------

def synthetic_ctgov_record(locations: int, nct_id: str = "NCT99100001") -> dict:
    """The shared NCT02210780 record with `locations` sites: its real locations cycled, each a new facility."""
    raw = json.loads(CTGOV_SAMPLE.read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    ident = raw["protocolSection"]["identificationModule"]
    ident["nctId"] = nct_id
    ident["orgStudyIdInfo"] = {"id": f"BENCH-{nct_id}"}
    real = raw["protocolSection"]["contactsLocationsModule"]["locations"]
    raw["protocolSection"]["contactsLocationsModule"]["locations"] = [
        {**real[i % len(real)], "facility": f"{real[i % len(real)]['city']} Bench Research Center {i // len(real) + 1}",
         "status": "RECRUITING"}
        for i in range(locations)
    ]
    return raw


class _Rollback(Exception):
    pass


def _rolled_back(fn: Callable[[], object]) -> Callable[[], None]:
    """Run fn in a transaction that is always rolled back, so every run imports into the same database."""
    def run():
        try:
            with transaction.atomic():
                fn()
                raise _Rollback
        except _Rollback:
            pass
    return run


def _insert(cursor, model, rows: list[dict]) -> None:
    """One multi-row INSERT per batch, every column listed, defaults filled in."""
    fields = [fld for fld in model._meta.concrete_fields if not fld.primary_key]
    now = dt.datetime.now(dt.UTC)
    values = []
    for row in rows:
        vals = []
        for fld in fields:
            if fld.attname in row:
                value = row[fld.attname]
            elif fld.name in ("created_at", "updated_at"):
                value = now
            else:
                value = fld.get_default()
            vals.append(fld.get_db_prep_save(value, connection))
        values.append(vals)
    cols = ", ".join(connection.ops.quote_name(fld.column) for fld in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    batch = max(1, 900 // len(fields)) if connection.vendor == "sqlite" else len(values)
    for start in range(0, len(values), batch):
        chunk = values[start: start + batch]
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({cols}) VALUES {', '.join([one] * len(chunk))}",
                       [v for vals in chunk for v in vals])


def floor_ctgov_insert(record: dict):
    """The rows the import creates (the study, an organization per facility and a site per location), written
    with hand-assembled multi-row INSERTs."""
    locations = record["protocolSection"]["contactsLocationsModule"]["locations"]
    ident = record["protocolSection"]["identificationModule"]

    def write():
        with connection.cursor() as cursor:
            _insert(cursor, Study, [{"protocol_number": f"FLOOR-{ident['nctId']}", "nct_id": ident["nctId"],
                                     "brief_title": ident.get("briefTitle", "")[:500]}])
            cursor.execute(f"SELECT id FROM {T_STUDY} WHERE nct_id = %s", [ident["nctId"]])
            study_id = cursor.fetchone()[0]
            _insert(cursor, Organization, [{"name": loc["facility"], "kind": "institution",
                                            "city": loc.get("city", ""), "country": loc.get("country", ""),
                                            "match_key": f"floor|{i}"} for i, loc in enumerate(locations)])
            cursor.execute(f"SELECT id FROM {T_ORG} WHERE match_key LIKE 'floor|%%' ORDER BY id")
            org_ids = [r[0] for r in cursor.fetchall()]
            _insert(cursor, StudySite, [{"study_id": study_id, "institution_id": org, "site_number": f"{i + 1:04d}",
                                         "status": "activated", "city": loc.get("city", ""),
                                         "country": loc.get("country", ""), "registry_location_key": f"k{i}"}
                                        for i, (org, loc) in enumerate(zip(org_ids, locations, strict=True))])
    return _rolled_back(write)


def ctgov_operation(user) -> Operation | None:
    if not CTGOV_SAMPLE.exists():
        return None
    from trialdesk.core.request_context import use_context
    from trialdesk.ctgov.services import ctgov_import_file

    record = synthetic_ctgov_record(CTGOV_LOCATIONS)
    data = json.dumps(record).encode()

    def app():
        with use_context(channel="cli"):
            [result] = ctgov_import_file(user=user, path_or_bytes=data, filename="bench.json")
        if result.sites_created != CTGOV_LOCATIONS:
            raise RuntimeError(f"ctgov import created {result.sites_created} sites")

    return Operation(f"ctgov import, {CTGOV_LOCATIONS} locations (new study, rolled back)", _rolled_back(app),
                     floor_ctgov_insert(record),
                     note="floor: the same study, organizations and sites as multi-row INSERTs (no parsing, "
                          "matching or audit)")


# --- The list ------------------------------------------------------------------------------------------------------

def build(t: Targets) -> list[Operation]:
    web = Caller(t.user)
    s, ss = t.largest_study, t.largest_subjects_study
    site_offset = PAGE
    cursor_api = decode_key(t.deep_cursor_api)
    cursor_web = decode_key(t.deep_cursor_web)
    ops = [
        Operation("portfolio page", web.get("/"), floor_portfolio()),
        Operation("portfolio API", web.get("/api/v1/studies/portfolio"), floor_portfolio()),
        Operation(f"study overview page (study {s}, {t.largest_sites} sites)", web.get(f"/studies/{s}/"),
                  floor_site_actuals(s), note="floor: the per-site counts behind its enrollment warnings"),
        Operation("study dashboard page (enrollment: curve, funnel, site table)",
                  web.get(f"/studies/{s}/enrollment/"), floor_site_actuals(s)),
        Operation("study dashboard API (enrollment summary)", web.get(f"/api/v1/enrollment/studies/{s}/summary"),
                  floor_site_actuals(s)),
        Operation(f"site list page (status {t.site_status}, page 2)",
                  web.get(f"/studies/{s}/sites/", {"status": t.site_status, "page": 2}),
                  floor_site_list(s, t.site_status, site_offset)),
        Operation(f"site list API (status {t.site_status}, offset {site_offset})",
                  web.get("/api/v1/sites", {"study_id": s, "status": t.site_status, "limit": PAGE,
                                             "offset": site_offset}),
                  floor_site_list(s, t.site_status, site_offset)),
        Operation(f"subject list API, page {t.deep_page_api} (keyset, all {t.subjects_total} subjects)",
                  web.get("/api/v1/subjects", {"limit": PAGE, **({"cursor": t.deep_cursor_api}
                                                                  if t.deep_cursor_api else {})}),
                  floor_subject_page(cursor_api, study_id=None)),
        Operation(f"screening log page, page {t.deep_page_web} (keyset, study {ss})",
                  web.get(f"/studies/{ss}/subjects/", {"cursor": t.deep_cursor_web} if t.deep_cursor_web else {}),
                  floor_subject_page(cursor_web, study_id=ss)),
        Operation(f"(comparison) subject list API, page {t.deep_page_api} by OFFSET",
                  web.get("/api/v1/subjects", {"limit": PAGE, "offset": (t.deep_page_api - 1) * PAGE}),
                  floor_subject_offset((t.deep_page_api - 1) * PAGE, study_id=None), target_ms=float("inf"),
                  note="not a target: the same page by OFFSET, for comparison with keyset"),
        Operation(f"(comparison) screening log page {t.deep_page_web} by ?page= (OFFSET, study {ss})",
                  web.get(f"/studies/{ss}/subjects/", {"page": t.deep_page_web}),
                  floor_subject_offset((t.deep_page_web - 1) * PAGE, study_id=ss), target_ms=float("inf"),
                  note="not a target: the same page by OFFSET, for comparison with keyset"),
        Operation(f"audit history of one record (study {s}) page", web.get(f"/audit/studies.study/{s}/"),
                  floor_audit("record_type = %s AND record_id = %s", ["studies.study", str(s)])),
        Operation("audit history of one record API", web.get(f"/api/v1/audit/records/studies.study/{s}"),
                  floor_audit("record_type = %s AND record_id = %s", ["studies.study", str(s)])),
        Operation(f"audit history of study {s} page", web.get(f"/studies/{s}/audit/"),
                  floor_audit("study_id = %s", [s])),
        Operation(f"audit history of study {s} API", web.get(f"/api/v1/audit/studies/{s}"),
                  floor_audit("study_id = %s", [s])),
        Operation(f"enrollment forecast API (study {s}, Monte Carlo, cache cleared)",
                  web.get(f"/api/v1/enrollment/studies/{s}/forecast"), floor_site_actuals(s),
                  before=cache.clear, target_ms=1000.0,
                  note="floor: the SQL behind the forecast input; the rest is the simulation"),
    ]
    ctgov = ctgov_operation(t.user)
    if ctgov is not None:
        ops.append(ctgov)
    return ops


def decode_key(cursor: str) -> tuple:
    if not cursor:
        return (0, "")
    from trialdesk.core.keyset import decode_cursor

    return decode_cursor(cursor, 2).key
