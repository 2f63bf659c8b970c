"""`trialdesk generate_portfolio`: a synthetic portfolio of S, M or L size, written in bulk.

What is drawn comes from `demo/synth.py` (no Django); this module turns it into rows and writes them:

* every row gets its id here (after the table's current largest id), so children reference parents without
  round trips; PostgreSQL sequences are moved past them at the end (SQLite's AUTOINCREMENT follows by itself);
* PostgreSQL: one transaction for the whole portfolio; the written tables' secondary indexes, unique and
  foreign-key constraints are dropped first and rebuilt (and the keys validated) after the rows are in;
  rows go in with COPY. Nothing is left half-written if anything fails. Then VACUUM ANALYZE.
* SQLite: batched executemany, one transaction per study (and per 100,000 rows inside a large one), with
  the rows of a batch written parents first; ANALYZE at the end.
* the audit trail: one "import" event per record written (visits are summarised in their subject's event),
  hashed into the chain exactly as `audit.services.audit_events_append` does, continuing from the newest
  event; the chain head is moved to the last one, so `trialdesk verify_audit` passes.
* counters the application maintains (a site's enrolled count and first-subject-in date, a study's actual
  key dates) are computed from the generated subjects, so they agree with the rows.

The generator refuses a database that already holds studies: generate into an empty (migrated) database.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connections, models, transaction

from trialdesk.accounts.models import Membership, User
from trialdesk.accounts.roles import Role
from trialdesk.audit.chain import GENESIS_HASH, event_hash
from trialdesk.audit.models import AuditChainHead, AuditEvent
from trialdesk.audit.services import record_type_of
from trialdesk.demo import synth
from trialdesk.enrollment.models import EnrollmentPlan, EnrollmentPlanEntry
from trialdesk.organizations.models import Organization, Person
from trialdesk.signatures.models import Signature
from trialdesk.signatures.services import binding_hash, content_hash
from trialdesk.sites.models import StudySite
from trialdesk.startup.defaults import DEFAULT_TEMPLATE, LEGACY_KEYS
from trialdesk.startup.models import SiteMilestone, StartupMilestoneDefinition
from trialdesk.studies.models import Arm, Intervention, ProtocolVersion, Study
from trialdesk.subjects.lifecycle import DEFAULT_SCREEN_FAIL_REASONS
from trialdesk.subjects.models import (
    ConsentEvent,
    IcfVersion,
    Randomization,
    ReconsentRequirement,
    Subject,
    SubjectSettings,
)
from trialdesk.visits.models import SubjectVisit, VisitDefinition

UTC = dt.UTC
BATCH_ROWS = 100_000
REQUEST_ID = "generate-portfolio"
PUBLIC_SCALES = ("S", "M", "L")

StudyCollaborators = Study.collaborators.through
InterventionArms = Intervention.arms.through
MilestoneDependencies = StartupMilestoneDefinition.depends_on.through
MembershipSites = Membership.sites.through

# Parents before children: the order rows of one batch are written in.
WRITE_ORDER: tuple[type[models.Model], ...] = (
    Organization, Person, User, Study, StudyCollaborators, Arm, Intervention, InterventionArms, Signature,
    ProtocolVersion, VisitDefinition, IcfVersion, SubjectSettings, StartupMilestoneDefinition,
    MilestoneDependencies, StudySite, SiteMilestone, Membership, MembershipSites,
    Subject, ConsentEvent, ReconsentRequirement, Randomization, SubjectVisit, EnrollmentPlan, EnrollmentPlanEntry,
    AuditEvent,
)

REGISTRY_STATUS = {"planning": "NOT_YET_RECRUITING", "start_up": "NOT_YET_RECRUITING", "enrolling": "RECRUITING",
                   "on_hold": "SUSPENDED", "closed_to_enrollment": "ACTIVE_NOT_RECRUITING",
                   "follow_up": "ACTIVE_NOT_RECRUITING", "completed": "COMPLETED", "terminated": "TERMINATED",
                   "withdrawn": "WITHDRAWN"}
SITE_REGISTRY_STATUS = {"enrolling": "RECRUITING", "activated": "RECRUITING", "start_up": "NOT_YET_RECRUITING",
                        "selected": "NOT_YET_RECRUITING", "closed_to_enrollment": "ACTIVE_NOT_RECRUITING",
                        "closed_out": "COMPLETED", "not_selected": "WITHDRAWN", "candidate": ""}
SPONSORS = (("Northwind Therapeutics", "sponsor", "INDUSTRY", "United States", "Cambridge"),
            ("Helix Biologics", "sponsor", "INDUSTRY", "Switzerland", "Basel"),
            ("Aurora Vaccines", "sponsor", "INDUSTRY", "Germany", "Mainz"))
CROS = (("Meridian Clinical Research", "cro", "INDUSTRY", "United States", "Durham"),
        ("Atlas CRO", "cro", "INDUSTRY", "United Kingdom", "Reading"),
        ("Pacifica Trials", "cro", "INDUSTRY", "Singapore", "Singapore"))
IRBS = (("Western Central IRB", "irb", "", "United States", "Seattle"),
        ("European Ethics Review Board", "irb", "", "Belgium", "Brussels"))
ELIGIBILITY = ("Inclusion Criteria:\n* Adults aged 18 years or older\n* Confirmed diagnosis of {c}\n"
               "* Able to give written informed consent\n\nExclusion Criteria:\n* Pregnancy or breastfeeding\n"
               "* Participation in another interventional study within 30 days")


class GenerationRefused(Exception):
    """The database is not empty (or the scale is unknown): nothing was written."""


@dataclass
class GenerationReport:
    scale: str
    seed: int
    today: dt.date
    vendor: str
    seconds: float = 0.0
    write_seconds: float = 0.0
    index_seconds: float = 0.0
    analyze_seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    database_bytes: int | None = None
    logins: list[str] = field(default_factory=list)

    def count(self, model: type[models.Model]) -> int:
        return self.rows.get(model._meta.db_table, 0)


# --- Values -------------------------------------------------------------------------------------------------

@functools.cache
def _stamp(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and (c.isalnum() or c in ".-"))


@functools.lru_cache(maxsize=65536)
def _sqlite_datetime(value):
    if value is None:
        return None
    return str(value.astimezone(UTC).replace(tzinfo=None))


@functools.lru_cache(maxsize=65536)
def _sqlite_date(value):
    return None if value is None else value.isoformat()


def _json(value):
    return None if value is None else json.dumps(value, ensure_ascii=False)


_REQUIRED = object()


class Table:
    """Rows of one table, buffered; written by COPY (PostgreSQL) or executemany (SQLite)."""

    def __init__(self, model: type[models.Model], vendor: str):
        self.model = model
        self.name = model._meta.db_table
        fields = model._meta.concrete_fields
        self.attnames = [f.attname for f in fields]
        self.columns = [f.column for f in fields]
        self.defaults = []
        for f in fields:
            if f.has_default():
                self.defaults.append(f.get_default())
            elif f.null or isinstance(f, models.AutoField):
                self.defaults.append(None)
            else:
                self.defaults.append(_REQUIRED)
        self.converters: list[tuple[int, Callable]] = []
        for i, f in enumerate(fields):
            if isinstance(f, models.JSONField):
                self.converters.append((i, _json))
            elif vendor == "sqlite" and isinstance(f, models.DateTimeField):
                self.converters.append((i, _sqlite_datetime))
            elif vendor == "sqlite" and isinstance(f, models.DateField):
                self.converters.append((i, _sqlite_date))
        self.rows: list = []
        self.written = 0
        self._checked = False

    def add(self, values: dict) -> None:
        row = [values.get(a, d) for a, d in zip(self.attnames, self.defaults, strict=True)]
        if not self._checked:
            missing = [a for a, v in zip(self.attnames, row, strict=True) if v is _REQUIRED]
            unknown = set(values) - set(self.attnames)
            if missing or unknown:
                raise ValueError(f"{self.name}: missing {missing}, unknown {sorted(unknown)}")
            self._checked = True
        for i, conv in self.converters:
            row[i] = conv(row[i])
        self.rows.append(row)

    def pending_row(self, row: list) -> bool:
        return any(r is row for r in self.rows)

    def patch(self, row: list, values: dict) -> None:
        """Change a row still waiting in the buffer."""
        conv = dict(self.converters)
        for name, value in values.items():
            i = self.attnames.index(name)
            row[i] = conv[i](value) if i in conv else value

    def adder(self, *names: str) -> Callable[..., None]:
        """A fast `add` for the hot tables: positional values for `names`, the other columns take their
        defaults. Compiled once, so a row costs one list literal."""
        unknown = set(names) - set(self.attnames)
        missing = [a for a, d in zip(self.attnames, self.defaults, strict=True) if d is _REQUIRED
                   and a not in names]
        if unknown or missing:
            raise ValueError(f"{self.name}: missing {missing}, unknown {sorted(unknown)}")
        conv = dict(self.converters)
        env: dict = {"rows": self.rows}
        items = []
        for i, attname in enumerate(self.attnames):
            if attname in names:
                item = f"a{names.index(attname)}"
            else:
                env[f"d{i}"] = self.defaults[i]
                item = f"d{i}"
                if i in conv:
                    env[f"d{i}"] = conv[i](self.defaults[i])
                    item = f"d{i}"
                    items.append(item)
                    continue
            if i in conv:
                env[f"c{i}"] = conv[i]
                item = f"c{i}({item})"
            items.append(item)
        args = ", ".join(f"a{k}" for k in range(len(names)))
        source = f"def add({args}):\n    rows.append([{', '.join(items)}])\n"
        exec(compile(source, f"<{self.name} adder>", "exec"), env)  # noqa: S102
        return env["add"]

    def flush(self, connection) -> int:
        if not self.rows:
            return 0
        cols = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        table = connection.ops.quote_name(self.name)
        n = len(self.rows)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in self.rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(self.columns))
            raw = connection.connection.cursor()
            raw.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", self.rows)  # noqa: S608
            raw.close()
        del self.rows[:]  # the same list: adders append to it
        self.written += n
        return n


class Ids:
    """Ids handed out here, after each table's largest id."""

    def __init__(self, using: str):
        self.using = using
        self._next: dict[type[models.Model], int] = {}

    def take(self, model: type[models.Model], n: int = 1) -> int:
        if model not in self._next:
            top = model._base_manager.using(self.using).aggregate(m=models.Max("pk"))["m"] or 0
            self._next[model] = top + 1
        first = self._next[model]
        self._next[model] += n
        return first

    def models(self) -> list[type[models.Model]]:
        return list(self._next)


@dataclass
class Draft:
    action: str
    record_type: str
    record_id: int
    label: str
    study_id: int | None
    changes: dict


class Chain:
    """Audit events for the generated records, hashed into the chain as audit_events_append does."""

    def __init__(self, table: Table, connection, reason: str):
        self.table = table
        self.connection = connection
        self.reason = reason
        self.drafts: list[Draft] = []
        self.seq: int | None = None
        self.prev = GENESIS_HASH
        self.ids: Ids | None = None
        self._add = None

    def add(self, action: str, model: type[models.Model], record_id: int, label: str, study_id: int | None,
            changes: dict) -> None:
        self.drafts.append(Draft(action, record_type_of(model), record_id, label[:300], study_id, changes))

    def _newest(self) -> tuple[int, str]:
        newest = (AuditEvent.objects.using(self.connection.alias).order_by("-seq")
                  .values_list("seq", "hash").first())
        return newest or (0, GENESIS_HASH)

    def flush(self) -> None:
        """Hash the pending drafts (continuing from the newest stored event) into rows of the audit table."""
        if not self.drafts:
            return
        # SQLite commits per batch: continue from whatever is stored now (nothing can fork: the batch's
        # transaction holds the write lock). PostgreSQL: one transaction holding the head lock throughout.
        if (self.seq is None or self.connection.vendor != "postgresql") and not self.table.rows:
            self.seq, self.prev = self._newest()
        now = dt.datetime.now(UTC)
        occurred = now.isoformat()
        first_id = self.ids.take(AuditEvent, len(self.drafts))
        seq, prev = self.seq, self.prev
        if self._add is None:
            self._add = self.table.adder("id", "seq", "occurred_at", "actor_username", "actor_name", "action",
                                         "record_type", "record_id", "record_label", "study_id", "changes",
                                         "reason", "request_id", "channel", "prev_hash", "hash")
        add, reason = self._add, self.reason
        for n, d in enumerate(self.drafts):
            seq += 1
            record_id = str(d.record_id)
            fields = {
                "seq": seq, "occurred_at": occurred, "actor_id": None, "actor_username": "system",
                "actor_name": "System", "action": d.action, "record_type": d.record_type,
                "record_id": record_id, "record_label": d.label, "study_id": d.study_id,
                "changes": d.changes, "reason": reason, "request_id": REQUEST_ID, "channel": "cli",
                "ip_address": "", "prev_hash": prev,
            }
            digest = event_hash(fields)
            add(first_id + n, seq, now, "system", "System", d.action, d.record_type, record_id, d.label,
                d.study_id, d.changes, reason, REQUEST_ID, "cli", prev, digest)
            prev = digest
        self.seq, self.prev = seq, prev
        self.drafts = []


# --- PostgreSQL bulk-load helpers -------------------------------------------------------------------------

def _pg_drop_indexes(cursor, tables: Iterable[str]) -> list[str]:
    """Drop secondary indexes, unique and foreign-key constraints of `tables`; return the SQL rebuilding them
    (indexes and unique constraints first, then the foreign keys, which are validated as they are added)."""
    rebuild_first: list[str] = []
    rebuild_fks: list[str] = []
    for table in tables:
        cursor.execute("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE conrelid = %s::regclass AND contype IN ('f', 'u')", [table])
        constraints = cursor.fetchall()
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
                       "AND contype IN ('p', 'u', 'x')", [table])
        backing = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                       "AND tablename = %s", [table])
        indexes = [(name, sql) for name, sql in cursor.fetchall() if name not in backing]
        for name, kind, definition in constraints:
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            target = rebuild_fks if kind == "f" else rebuild_first
            target.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        for name, sql in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
            rebuild_first.append(sql)
    return rebuild_first + rebuild_fks


def _sqlite_drop_indexes(cursor, tables: Iterable[str]) -> list[str]:
    """Drop the explicit (secondary and unique) indexes of `tables`; return the SQL recreating them."""
    rebuild = []
    for table in tables:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                       "AND sql IS NOT NULL", [table])
        for name, sql in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
            rebuild.append(sql)
    return rebuild


def database_size(using: str = "default") -> int | None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return int(cursor.fetchone()[0])
    if connection.vendor == "sqlite":
        from pathlib import Path

        path = Path(connection.settings_dict["NAME"])
        if not path.exists():
            return None
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    return None


# --- The generator ------------------------------------------------------------------------------------------

class Generator:
    def __init__(self, *, portfolio: synth.Portfolio, using: str, password: str | None, progress):
        self.p = portfolio
        self.today = portfolio.today
        self.using = using
        self.connection = connections[using]
        self.vendor = self.connection.vendor
        self.progress = progress
        self.ids = Ids(using)
        self.tables = {m: Table(m, self.vendor) for m in WRITE_ORDER}
        reason = (f"Synthetic portfolio: generate_portfolio --scale {portfolio.scale.name} "
                  f"--seed {portfolio.seed}")
        self.chain = Chain(self.tables[AuditEvent], self.connection, reason)
        self.chain.ids = self.ids
        self.password_hash = make_password(password) if password else make_password(None)
        self.created = dt.datetime.now(UTC)
        self.logins: list[str] = []
        # Filled by the portfolio-level phase.
        self.org_ids: dict[str, int] = {}
        self.inst_ids: list[int] = []
        self.person_ids: list[int] = []
        self.person_names: list[str] = []
        self.admin_id = 0
        self.cpm_users: list[tuple[int, str, str]] = []     # (user id, username, printed name)
        self.cra_users: list[tuple[int, str]] = []
        self._cra_cursor = 0
        self.milestone_ids: dict[str, int] = {}
        self.milestone_adder = self.tables[SiteMilestone].adder(
            "id", "created_at", "updated_at", "site_id", "definition_id", "planned_date", "actual_date",
            "not_applicable", "not_applicable_reason", "version")
        self.visit_adder = self.tables[SubjectVisit].adder(
            "id", "created_at", "updated_at", "subject_id", "definition_id", "study_id", "site_id", "planned_on",
            "window_start", "window_end", "actual_on", "modality", "status", "out_of_window", "version")

    # -- writing ------------------------------------------------------------------------------------------

    def add(self, model: type[models.Model], values: dict) -> None:
        self.tables[model].add(values)

    def pending(self) -> int:
        return sum(len(t.rows) for t in self.tables.values()) + len(self.chain.drafts)

    def flush(self) -> None:
        self.chain.flush()
        for model in WRITE_ORDER:
            self.tables[model].flush(self.connection)
        if self.vendor != "postgresql" and self.chain.seq is not None:
            first = AuditChainHead.objects.using(self.using).filter(id=1)
            if not first.exists():
                AuditChainHead.objects.using(self.using).create(id=1, seq=0, hash=GENESIS_HASH)
            first.update(seq=self.chain.seq, hash=self.chain.prev)

    def audit(self, model, record_id: int, label: str, study_id: int | None, changes: dict) -> None:
        self.chain.add("import", model, record_id, label, study_id, changes)

    # -- portfolio-level records -----------------------------------------------------------------------------

    def organizations_and_people(self) -> None:
        for name, kind, rclass, country, city in (*SPONSORS, *CROS, *IRBS):
            oid = self.ids.take(Organization)
            self.org_ids[name] = oid
            self.add(Organization, {"id": oid, "created_at": self.created, "updated_at": self.created,
                                    "name": name, "kind": kind, "registry_class": rclass, "country": country,
                                    "city": city, "match_key": f"{name}|{city}||{country}".lower()})
            self.audit(Organization, oid, name, None, {"name": [None, name], "kind": [None, kind]})
        for inst in self.p.institutions:
            oid = self.ids.take(Organization)
            self.inst_ids.append(oid)
            domain = _ascii(inst.name).lower()[:40] or "site"
            self.add(Organization, {
                "id": oid, "created_at": self.created, "updated_at": self.created, "name": inst.name,
                "kind": "institution", "city": inst.city, "state": inst.state, "country": inst.country,
                "website": f"https://{domain}.example.org", "registry_class": "OTHER",
                "match_key": f"{inst.name}|{inst.city}|{inst.state}|{inst.country}".lower()})
            self.audit(Organization, oid, inst.name, None,
                       {"name": [None, inst.name], "kind": [None, "institution"], "country": [None, inst.country]})
        for n, person in enumerate(self.p.people):
            pid = self.ids.take(Person)
            self.person_ids.append(pid)
            full = f"{person.title} {person.first_name} {person.last_name}, {person.degrees}"
            self.person_names.append(full)
            email = f"{_ascii(person.first_name)}.{_ascii(person.last_name)}{n}@example.org".lower()
            self.add(Person, {
                "id": pid, "created_at": self.created, "updated_at": self.created, "title": person.title,
                "first_name": person.first_name, "last_name": person.last_name, "degrees": person.degrees,
                "email": email, "organization_id": self.inst_ids[person.institution], "job_title": person.job_title})
            self.audit(Person, pid, full, None, {"first_name": [None, person.first_name],
                                                  "last_name": [None, person.last_name]})

    def _user(self, username: str, first: str, last: str, job: str, org: str, *, blinded: bool = False,
              superuser: bool = False) -> tuple[int, str]:
        pid = self.ids.take(Person)
        org_id = self.org_ids[org]
        email = f"{username}@northwind.example.org"
        self.add(Person, {"id": pid, "created_at": self.created, "updated_at": self.created, "first_name": first,
                          "last_name": last, "email": email, "organization_id": org_id, "job_title": job})
        name = f"{first} {last}"
        self.audit(Person, pid, name, None, {"first_name": [None, first], "last_name": [None, last]})
        uid = self.ids.take(User)
        self.add(User, {"id": uid, "password": self.password_hash, "username": username, "first_name": first,
                        "last_name": last, "email": email, "is_active": True, "is_superuser": superuser,
                        "is_staff": superuser, "date_joined": self.created, "person_id": pid,
                        "is_blinded": blinded})
        self.audit(User, uid, username, None, {"username": [None, username], "person": [None, pid]})
        self.logins.append(username)
        return uid, name

    def _membership(self, user_id: int, role: str, study_id: int | None, granted: dt.datetime, *,
                    site_ids: Iterable[int] = (), label: str = "") -> None:
        mid = self.ids.take(Membership)
        self.add(Membership, {"id": mid, "user_id": user_id, "study_id": study_id, "role": role,
                              "granted_at": granted, "granted_by_id": self.admin_id or None, "version": 1})
        site_ids = list(site_ids)
        for sid in site_ids:
            self.add(MembershipSites, {"id": self.ids.take(MembershipSites), "membership_id": mid,
                                       "studysite_id": sid})
        changes = {"user": [None, label], "role": [None, role]}
        if site_ids:
            changes["sites"] = [None, len(site_ids)]
        self.audit(Membership, mid, f"{label} as {role}", study_id, changes)

    def users(self) -> None:
        rng = random.Random(f"trialdesk-synth:{self.p.seed}:users")
        sponsor = SPONSORS[0][0]
        self.admin_id, _ = self._user("gen-admin", "Alex", "Admin", "System administrator", sponsor,
                                      superuser=False)
        portfolio = [("gen-admin", Role.ADMIN, self.admin_id)]
        for username, first, last, role, blinded in (("gen-cpm", "Casey", "Portfolio", Role.CPM, False),
                                                     ("gen-viewer", "Vera", "Viewer", Role.VIEWER, True),
                                                     ("gen-auditor", "Avery", "Auditor", Role.AUDITOR, False)):
            uid, _ = self._user(username, first, last, role.label, sponsor, blinded=blinded)
            portfolio.append((username, role, uid))
        for username, role, uid in portfolio:
            self._membership(uid, role.value, None, self.created, label=username)
        n_cpm = max(1, len(self.p.studies) // 2)
        for k in range(n_cpm):
            username = f"cpm{k + 1:03d}"
            uid, name = self._user(username, rng.choice(synth.FIRST_NAMES), rng.choice(synth.LAST_NAMES),
                                   "Clinical Project Manager", sponsor)
            self.cpm_users.append((uid, username, name))
        n_cra = max(2, self.p.site_count // 40)
        for k in range(n_cra):
            username = f"cra{k + 1:04d}"
            uid, _ = self._user(username, rng.choice(synth.FIRST_NAMES), rng.choice(synth.LAST_NAMES),
                                "Clinical Research Associate", rng.choice(CROS)[0])
            self.cra_users.append((uid, username))

    # -- one study -------------------------------------------------------------------------------------------

    def study(self, study: synth.StudyPlan) -> int:
        """Write one study and everything in it; returns the number of subjects."""
        p = self.p
        rng = synth.study_rng(p.seed, study.index, "write")
        today = self.today
        study_id = self.ids.take(Study)
        created = _stamp(min(today, study.protocols[0].version_date - dt.timedelta(days=30)), 9)
        cpm_id, cpm_username, cpm_name = self.cpm_users[(study.index - 1) % len(self.cpm_users)]

        # Sites first in memory: the site ids the subjects refer to.
        site_ids = [self.ids.take(StudySite) for _ in study.sites]
        pv_ids = [self.ids.take(ProtocolVersion) for _ in study.protocols]
        icf_ids: dict[int, int] = {}
        vd_ids: dict[tuple[int, int], int] = {}
        arm_ids = [self.ids.take(Arm) for _ in study.arms]

        # Subjects, site by site (their rows are buffered as they are drawn).
        randomized: list[tuple[dt.date, int, int, int, int | None, str]] = []
        first_enrolled: dt.date | None = None
        last_enrolled: dt.date | None = None
        last_change: dt.date | None = None
        n_subjects = 0
        for proto_index, proto in enumerate(study.protocols):
            if proto.icf_version_date is not None:
                icf_ids[proto_index] = self.ids.take(IcfVersion)
        for proto_index in range(len(study.protocols)):
            for def_index in range(len(study.schedule)):
                vd_ids[(proto_index, def_index)] = self.ids.take(VisitDefinition)
        approved_days = sorted((pr.approved_on, k) for k, pr in enumerate(study.protocols) if pr.approved_on)

        # Parents before children, so a batch written in the middle of a large study never holds a child
        # whose parent comes later (SQLite would then search the children for every parent row it inserts).
        key = synth.study_key_dates(study, [], rng, today)
        study_row = self._study_row(study, study_id, key, created, rng)
        self._startup_template(study_id, created)
        self._arms_and_interventions(study, study_id, arm_ids, created)
        self._protocols(study, study_id, pv_ids, vd_ids, icf_ids, cpm_id, cpm_username, cpm_name)
        if study.status in synth.RECRUITING_STATUSES:
            sid = self.ids.take(SubjectSettings)
            self.add(SubjectSettings, {"id": sid, "created_at": created, "updated_at": created,
                                       "study_id": study_id,
                                       "screen_fail_reasons": [dict(r) for r in DEFAULT_SCREEN_FAIL_REASONS]})
            self.audit(SubjectSettings, sid, f"Subject settings of {study.protocol_number}", study_id,
                       {"id_pattern": [None, "{site}-{seq:03d}"]})

        add_visit = self.visit_adder
        for site_index, records in synth.study_subjects(study, p.seed, today):
            site = study.sites[site_index]
            site_id = site_ids[site_index]
            pi_id = self.person_ids[site.investigator]
            enrolled_days = []
            for rec in records:
                n_subjects += 1
                subject_id = self.ids.take(Subject)
                dates = rec.dates
                proto = rec.protocol
                if proto is None:
                    ready = [k for day, k in approved_days if day <= rec.first_contact]
                    proto = ready[-1] if ready else None
                values = {"id": subject_id, "created_at": _stamp(rec.first_contact, 9),
                          "updated_at": _stamp(rec.last_change, 17), "study_id": study_id, "site_id": site_id,
                          "subject_number": rec.number, "site_sequence": rec.sequence, "status": rec.status,
                          "screen_fail_reason_code": rec.screen_fail_code,
                          "screen_fail_reason_text": rec.screen_fail_text,
                          "withdrawal_reason": rec.withdrawal_reason, "withdrawal_text": rec.withdrawal_text,
                          "eligibility_confirmed_by_id": pi_id if "enrolled_on" in dates else None,
                          "protocol_version_id": pv_ids[proto] if proto is not None else None,
                          "version": 1 + len(dates)}
                values.update(dates)
                self.add(Subject, values)
                enrolled = dates.get("enrolled_on")
                if enrolled is not None:
                    enrolled_days.append(enrolled)
                    first_enrolled = enrolled if first_enrolled is None else min(first_enrolled, enrolled)
                    last_enrolled = enrolled if last_enrolled is None else max(last_enrolled, enrolled)
                last_change = rec.last_change if last_change is None else max(last_change, rec.last_change)
                consent_ids = []
                for c in rec.consents:
                    cid = self.ids.take(ConsentEvent)
                    consent_ids.append(cid)
                    self.add(ConsentEvent, {"id": cid, "created_at": _stamp(c.consented_on, 10),
                                            "updated_at": _stamp(c.consented_on, 10), "subject_id": subject_id,
                                            "icf_version_id": icf_ids[c.protocol], "consented_on": c.consented_on,
                                            "method": c.method, "obtained_by_id": pi_id,
                                            "is_reconsent": c.is_reconsent})
                    form = study.protocols[c.protocol].version_number
                    self.audit(ConsentEvent, cid, f"Consent of {rec.number} to {form}", study_id,
                               {"consented_on": [None, c.consented_on.isoformat()],
                                "icf_version": [None, icf_ids[c.protocol]], "is_reconsent": [None, c.is_reconsent]})
                for r in rec.reconsents:
                    rid = self.ids.take(ReconsentRequirement)
                    approved = study.protocols[r.protocol].icf_irb_approval
                    self.add(ReconsentRequirement, {
                        "id": rid, "created_at": _stamp(approved, 11), "updated_at": _stamp(r.closed_on or approved,
                                                                                            11),
                        "subject_id": subject_id, "icf_version_id": icf_ids[r.protocol], "status": r.status,
                        "fulfilled_by_id": consent_ids[r.consent] if r.consent is not None else None,
                        "closed_on": r.closed_on})
                    self.audit(ReconsentRequirement, rid, f"Re-consent of {rec.number}", study_id,
                               {"status": [None, r.status], "icf_version": [None, icf_ids[r.protocol]]})
                if rec.arm is not None:
                    randomized.append((dates["randomized_on"], site_index, rec.sequence, subject_id, rec.arm,
                                       rec.stratum))
                counts = {"completed": 0, "missed": 0, "planned": 0, "cancelled": 0}
                visit_id = self.ids.take(SubjectVisit, len(rec.visits))
                for v in rec.visits:
                    counts[v.status] += 1
                    add_visit(visit_id, _stamp(min(v.planned_on, today), 8),
                              _stamp(min(v.actual_on or v.planned_on, today), 18), subject_id,
                              vd_ids[(v.protocol, v.definition)], study_id, site_id, v.planned_on, v.window_start,
                              v.window_end, v.actual_on, v.modality, v.status, v.out_of_window,
                              1 if v.status == "planned" else 2)
                    visit_id += 1
                changes = {"subject_number": [None, rec.number], "site": [None, site_id],
                           "status": [None, rec.status]}
                for name, day in dates.items():
                    changes[name] = [None, day.isoformat()]
                if rec.visits:
                    changes["visits"] = [None, counts]
                self.audit(Subject, subject_id, f"Subject {rec.number}", study_id, changes)
            synth.finish_site(study, site_index, records, rng, today)
            self._site(study, study_id, site_index, site_id, enrolled_days, rng)
            if self.pending() >= BATCH_ROWS:
                self.flush()
            if self.progress is not None:
                self.progress.update(site.candidates)

        # IRT numbers in order of randomisation across the study.
        randomized.sort()
        for n, (day, _site, _seq, subject_id, arm, stratum) in enumerate(randomized, start=1):
            rid = self.ids.take(Randomization)
            irt = f"{study.protocol_number}-R{n:05d}"
            self.add(Randomization, {"id": rid, "created_at": _stamp(day, 13), "updated_at": _stamp(day, 13),
                                     "subject_id": subject_id, "arm_id": arm_ids[arm], "stratum": stratum,
                                     "randomized_on": day, "irt_reference": irt})
            self.audit(Randomization, rid, f"Randomization {irt}", study_id,
                       {"arm": [None, arm_ids[arm]], "randomized_on": [None, day.isoformat()],
                        "irt_reference": [None, irt]})

        if first_enrolled is not None:
            key["first_subject_in"] = (key["first_subject_in"][0], first_enrolled)
        if last_enrolled is not None and study.status in ("closed_to_enrollment", "follow_up", "completed",
                                                          "terminated"):
            key["last_subject_in"] = (key["last_subject_in"][0], last_enrolled)
        if study.status == "completed" and last_change is not None:
            lslv = last_change
            dbl = lslv + dt.timedelta(days=rng.randint(30, 80))
            final = dbl + dt.timedelta(days=rng.randint(90, 200))
            key["last_subject_last_visit"] = (key["last_subject_last_visit"][0], lslv)
            key["database_lock"] = (key["database_lock"][0], dbl if dbl <= today else None)
            key["final_report"] = (key["final_report"][0], final if final <= today and dbl <= today else None)
        # The actual key dates the subjects made: into the study row (still buffered, or already written).
        actuals = {f"actual_{name}": actual for name, (_planned, actual) in key.items()}
        table = self.tables[Study]
        if table.pending_row(study_row):
            table.patch(study_row, actuals)
        else:
            Study.all_objects.using(self.using).filter(pk=study_id).update(**actuals)
        self.audit(Study, study_id, f"{study.protocol_number} {study.acronym}", study_id,
                   {"protocol_number": [None, study.protocol_number], "status": [None, study.status],
                    "phases": [None, list(study.phases)], "planned_enrollment": [None, study.planned_enrollment],
                    **{name: [None, day.isoformat()] for name, day in actuals.items() if day}})
        if study.status in synth.RECRUITING_STATUSES:
            self._plans(study, study_id, site_ids, created, rng)
        self._study_memberships(study, study_id, site_ids, cpm_id, cpm_username, created)
        return n_subjects

    def _site(self, study: synth.StudyPlan, study_id: int, index: int, sid: int, enrolled: list[dt.date],
              rng: random.Random) -> None:
        today = self.today
        site = study.sites[index]
        inst = self.p.institutions[site.institution]
        ms = site.milestones
        values = {
            "id": sid, "study_id": study_id, "institution_id": self.inst_ids[site.institution],
            "site_number": site.number, "principal_investigator_id": self.person_ids[site.investigator],
            "status": site.status, "status_reason": site.status_reason, "country": inst.country,
            "state": inst.state, "city": inst.city, "latitude": inst.latitude, "longitude": inst.longitude,
            "target_enrollment": site.target, "enrolled_count": len(enrolled),
            "registry_recruitment_status": SITE_REGISTRY_STATUS.get(site.status, "") if study.nct_id else "",
            "planned_first_subject_in": (site.planned_activation + dt.timedelta(days=30)
                                         if site.planned_activation else None),
            "actual_first_subject_in": min(enrolled) if enrolled else None,
            "actual_closed_out": site.closed_out,
            "planned_closed_out": (site.closed_out - dt.timedelta(days=rng.randint(0, 40))
                                   if site.closed_out else None),
        }
        for key in LEGACY_KEYS:
            values[f"planned_{key}"], values[f"actual_{key}"] = ms[key]
        changed = {"closed_out": site.closed_out, "closed_to_enrollment": site.enroll_until,
                   "enrolling": min(enrolled) if enrolled else site.activated, "activated": site.activated,
                   }.get(site.status) or (ms.get("selected", (None, None))[1]
                                          if site.status in ("selected", "start_up") else None)
        first_day = (ms["selected"][1] or ms["selected"][0] or study.planned_fsa) - dt.timedelta(days=14)
        first_day = min(first_day, today)
        changed = min(changed or first_day, today)
        values["status_changed_at"] = _stamp(changed, 15)
        values["created_at"] = _stamp(first_day, 9)
        values["updated_at"] = _stamp(max(changed, first_day), 16)
        values["version"] = 1 + sum(1 for _p, a in ms.values() if a) + (1 if enrolled else 0)
        self.add(StudySite, values)
        if any(actual for _p, actual in ms.values()):
            self._site_milestones(study_id, sid, site, inst.country == "United States")
        self.audit(StudySite, sid, f"Site {site.number} {inst.name}", study_id,
                   {"site_number": [None, site.number], "institution": [None, self.inst_ids[site.institution]],
                    "status": [None, site.status], "enrolled_count": [None, len(enrolled)],
                    "actual_activated": [None, site.activated.isoformat() if site.activated else None]})

    def _startup_template(self, study_id: int, created: dt.datetime) -> None:
        """The default start-up template (startup.defaults), as startup_template_ensure creates it."""
        self.milestone_ids = {}
        for order, spec in enumerate(DEFAULT_TEMPLATE, start=1):
            did = self.ids.take(StartupMilestoneDefinition)
            self.milestone_ids[spec.key] = did
            self.add(StartupMilestoneDefinition, {
                "id": did, "created_at": created, "updated_at": created, "study_id": study_id, "key": spec.key,
                "label": spec.label, "order": order * 10, "mandatory": spec.mandatory,
                "target_days": spec.target_days, "owner_role": spec.owner_role, "applies_when": spec.applies_when})
            for dep in spec.depends_on:
                self.add(MilestoneDependencies, {"id": self.ids.take(MilestoneDependencies),
                                                 "from_startupmilestonedefinition_id": did,
                                                 "to_startupmilestonedefinition_id": self.milestone_ids[dep]})
            self.audit(StartupMilestoneDefinition, did, f"Start-up milestone: {spec.label}", study_id,
                       {"key": [None, spec.key], "label": [None, spec.label], "order": [None, order * 10],
                        "depends_on": [None, sorted(self.milestone_ids[d] for d in spec.depends_on)]})

    def _site_milestones(self, study_id: int, site_id: int, site: synth.SitePlan, domestic: bool) -> None:
        add = self.milestone_adder
        for key, (planned, actual) in site.milestones.items():
            mid = self.ids.take(SiteMilestone)
            na = key == "regulatory_approval" and domestic
            if na:
                actual = None
            stamp = _stamp(min(actual or planned, self.today), 12)
            add(mid, stamp, stamp, site_id, self.milestone_ids[key], planned, actual, na,
                "Covered by the sponsor's IND: no separate authority approval for this site." if na else "",
                2 if actual or na else 1)
            changes = {"planned_date": [None, planned.isoformat()]}
            if actual:
                changes["actual_date"] = [None, actual.isoformat()]
            if na:
                changes["not_applicable"] = [None, True]
            self.audit(SiteMilestone, mid, f"{key} at site {site.number}", study_id, changes)

    def _study_row(self, study: synth.StudyPlan, study_id: int, key: dict, created: dt.datetime,
                   rng: random.Random) -> list:
        sponsor = SPONSORS[0][0] if rng.random() < 0.85 else rng.choice(SPONSORS[1:])[0]
        placebo = study.arms[-1][1] == "PLACEBO_COMPARATOR"
        values = {
            "id": study_id, "created_at": created, "updated_at": _stamp(study.status_changed, 16),
            "protocol_number": study.protocol_number, "nct_id": study.nct_id, "acronym": study.acronym,
            "brief_title": study.title, "official_title": f"{study.title} ({study.acronym})",
            "summary": f"This study evaluates {study.drug} in participants with {study.condition}.",
            "phases": list(study.phases), "study_type": "INTERVENTIONAL", "therapeutic_area": study.ta,
            "conditions": [study.condition], "keywords": [study.drug, study.ta.lower()],
            "sponsor_id": self.org_ids[sponsor], "status": study.status,
            "status_changed_at": _stamp(study.status_changed, 14),
            "allocation": "RANDOMIZED" if study.randomized else "NA",
            "intervention_model": "PARALLEL" if study.randomized else "SINGLE_GROUP",
            "primary_purpose": "TREATMENT", "masking": "QUADRUPLE" if placebo else "NONE",
            "who_masked": ["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"] if placebo else [],
            "planned_enrollment": study.planned_enrollment, "eligibility_criteria": ELIGIBILITY.format(
                c=study.condition), "sex": "ALL", "minimum_age": "18 Years", "healthy_volunteers": False,
            "why_stopped": study.why_stopped if study.status in ("terminated", "withdrawn", "on_hold") else "",
            "version": 2 + len(study.protocols),
        }
        if study.nct_id:
            values.update(registry_enrollment=study.planned_enrollment,
                          registry_enrollment_type="ACTUAL" if study.status in ("completed", "terminated")
                          else "ESTIMATED", registry_overall_status=REGISTRY_STATUS[study.status],
                          registry_start_date=(key["first_subject_in"][1] or key["first_subject_in"][0]
                                               ).isoformat()[:7],
                          registry_start_date_type="ACTUAL" if key["first_subject_in"][1] else "ESTIMATED")
        for name, (planned, actual) in key.items():
            values[f"planned_{name}"] = planned
            values[f"actual_{name}"] = actual
        self.add(Study, values)
        row = self.tables[Study].rows[-1]
        if rng.random() < 0.5:
            cro = rng.choice(CROS)[0]
            self.add(StudyCollaborators, {"id": self.ids.take(StudyCollaborators), "study_id": study_id,
                                          "organization_id": self.org_ids[cro]})
        return row

    def _arms_and_interventions(self, study: synth.StudyPlan, study_id: int, arm_ids: list[int],
                                created: dt.datetime) -> None:
        for (label, kind, _share), aid in zip(study.arms, arm_ids, strict=True):
            self.add(Arm, {"id": aid, "created_at": created, "updated_at": created, "study_id": study_id,
                           "label": label, "arm_type": kind})
            self.audit(Arm, aid, label, study_id, {"label": [None, label], "arm_type": [None, kind]})
        iid = self.ids.take(Intervention)
        self.add(Intervention, {"id": iid, "created_at": created, "updated_at": created, "study_id": study_id,
                                "kind": "DRUG", "name": study.drug, "other_names": [f"TD-{1000 + study.index}"]})
        self.audit(Intervention, iid, f"Drug: {study.drug}", study_id, {"name": [None, study.drug]})
        for (_label, kind, _share), aid in zip(study.arms, arm_ids, strict=True):
            if kind == "EXPERIMENTAL":
                self.add(InterventionArms, {"id": self.ids.take(InterventionArms), "intervention_id": iid,
                                            "arm_id": aid})

    def _protocols(self, study: synth.StudyPlan, study_id: int, pv_ids: list[int], vd_ids: dict, icf_ids: dict,
                   cpm_id: int, cpm_username: str, cpm_name: str) -> None:
        study_obj = Study(id=study_id, protocol_number=study.protocol_number)
        signed: dict[int, dt.datetime] = {k: _stamp(pr.approved_on, 14) for k, pr in enumerate(study.protocols)
                                          if pr.approved_on is not None}
        latest_icf = max((k for k in icf_ids if study.protocols[k].icf_irb_approval is not None), default=None)
        for k, proto in enumerate(study.protocols):
            pv_id = pv_ids[k]
            created = _stamp(proto.version_date, 10)
            definitions = []
            for d_index, v in enumerate(study.schedule):
                vd_id = vd_ids[(k, d_index)]
                values = {"id": vd_id, "created_at": created, "updated_at": created, "protocol_version_id": pv_id,
                          "study_id": study_id, "code": v.code, "name": v.name, "order": d_index,
                          "anchor": v.anchor, "target_day": v.day, "window_before": v.before,
                          "window_after": v.after, "modality": v.modality, "required": v.required}
                self.add(VisitDefinition, values)
                definitions.append(VisitDefinition(**values))
                self.audit(VisitDefinition, vd_id, f"{v.code} {v.name}", study_id,
                           {"code": [None, v.code], "target_day": [None, v.day], "protocol_version": [None, pv_id]})
            values = {"id": pv_id, "created_at": created, "updated_at": created, "study_id": study_id,
                      "version_number": proto.version_number, "version_date": proto.version_date,
                      "amendment_number": proto.amendment_number, "summary_of_changes": proto.summary,
                      "status": proto.status}
            if k in signed:
                # The approval signature binds the version's content (schedule included), as
                # studies.services.protocol_version_approve signs it.
                pv = ProtocolVersion(**values)
                pv.study = study_obj
                pv._prefetched_objects_cache = {"visit_definitions": definitions}
                digest = content_hash(pv)
                sig_id = self.ids.take(Signature)
                at = signed[k]
                rtype = record_type_of(ProtocolVersion)
                self.add(Signature, {
                    "id": sig_id, "signer_id": cpm_id, "printed_name": cpm_name, "username": cpm_username,
                    "meaning": "approved", "signed_at": at, "record_type": rtype, "record_id": str(pv_id),
                    "study_id": study_id, "content_hash": digest,
                    "binding_hash": binding_hash(record_type=rtype, record_id=str(pv_id), content_hash=digest,
                                                 username=cpm_username, meaning="approved",
                                                 signed_at_iso=at.isoformat())})
                values.update(approved_at=at, approval_signature_id=sig_id, updated_at=at, version=2)
                nxt = signed.get(k + 1)
                if proto.status == "superseded" and nxt is not None:
                    values.update(superseded_at=nxt, updated_at=nxt, version=3)
                self.chain.add("sign", ProtocolVersion, pv_id, f"Protocol {proto.version_number}", study_id,
                               {"signature_id": [None, sig_id], "meaning": [None, "approved"],
                                "content_hash": [None, digest]})
            self.add(ProtocolVersion, values)
            self.audit(ProtocolVersion, pv_id, f"Protocol {proto.version_number}", study_id,
                       {"version_number": [None, proto.version_number], "status": [None, proto.status]})
            if k in icf_ids:
                status = ("approved" if k == latest_icf else "superseded") if proto.icf_irb_approval else "draft"
                icf_id = icf_ids[k]
                self.add(IcfVersion, {"id": icf_id, "created_at": _stamp(proto.icf_version_date, 11),
                                      "updated_at": _stamp(proto.icf_irb_approval or proto.icf_version_date, 11),
                                      "study_id": study_id, "protocol_version_id": pv_id,
                                      "version_number": proto.version_number,
                                      "version_date": proto.icf_version_date,
                                      "irb_approval_date": proto.icf_irb_approval, "status": status})
                self.audit(IcfVersion, icf_id, f"ICF {proto.version_number} (all countries)", study_id,
                           {"version_number": [None, proto.version_number], "status": [None, status]})

    def _plans(self, study: synth.StudyPlan, study_id: int, site_ids: list[int], created: dt.datetime,
               rng: random.Random) -> None:
        sites = [(site_ids[i], s) for i, s in enumerate(study.sites) if s.status not in ("candidate",
                                                                                       "not_selected")]
        planned_lsi = study.planned_fsa + dt.timedelta(days=int(study.enroll_months * synth.MONTH_DAYS))
        baselines = [(1, "Original plan", study.planned_enrollment, planned_lsi)]
        if study.rebaseline:
            baselines = [(1, "Original plan", max(1, int(study.planned_enrollment * rng.uniform(0.9, 1.15))),
                          planned_lsi - dt.timedelta(days=rng.randint(60, 200))),
                         (2, "Re-baseline after protocol amendment", study.planned_enrollment, planned_lsi)]
        for baseline, label, target, lsi in baselines:
            plan_id = self.ids.take(EnrollmentPlan)
            current = baseline == len(baselines)
            self.add(EnrollmentPlan, {"id": plan_id, "created_at": created, "updated_at": created,
                                      "study_id": study_id, "baseline": baseline, "label": label,
                                      "is_current": current, "target": target, "planned_last_subject_in": lsi,
                                      "version": 1 if current else 2})
            self.audit(EnrollmentPlan, plan_id, f"Enrollment plan baseline {baseline}", study_id,
                       {"baseline": [None, baseline], "target": [None, target],
                        "planned_last_subject_in": [None, lsi.isoformat()]})
            for site_id, site in sites:
                entry_id = self.ids.take(EnrollmentPlanEntry)
                rate = synth.plan_rate(study, site)
                activation = site.planned_activation or study.planned_fsa
                self.add(EnrollmentPlanEntry, {"id": entry_id, "created_at": created, "updated_at": created,
                                               "plan_id": plan_id, "site_id": site_id,
                                               "planned_activation": activation, "planned_rate_per_month": rate,
                                               "planned_subjects": site.target})
                self.audit(EnrollmentPlanEntry, entry_id, f"Plan entry {site.number}", study_id,
                           {"site": [None, site_id], "planned_activation": [None, activation.isoformat()],
                            "planned_rate_per_month": [None, rate], "planned_subjects": [None, site.target]})

    def _study_memberships(self, study: synth.StudyPlan, study_id: int, site_ids: list[int], cpm_id: int,
                           cpm_username: str, created: dt.datetime) -> None:
        self._membership(cpm_id, Role.CPM.value, study_id, created, label=cpm_username)
        monitored = [site_ids[i] for i, s in enumerate(study.sites) if s.status not in ("candidate",
                                                                                      "not_selected")]
        for start in range(0, len(monitored), 12):
            uid, username = self.cra_users[self._cra_cursor % len(self.cra_users)]
            self._cra_cursor += 1
            self._membership(uid, Role.CRA.value, study_id, created, site_ids=monitored[start:start + 12],
                             label=username)


def _finish_pg(connection, rebuild: list[str], generator: Generator, report: GenerationReport) -> None:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for sql in rebuild:
            cursor.execute(sql)
        for sql in connection.ops.sequence_reset_sql(no_style(), generator.ids.models()):
            cursor.execute(sql)
        if generator.chain.seq is not None:
            cursor.execute("UPDATE audit_auditchainhead SET seq = %s, hash = %s WHERE id = 1",
                           [generator.chain.seq, generator.chain.prev])
            if cursor.rowcount == 0:
                cursor.execute("INSERT INTO audit_auditchainhead (id, seq, hash) VALUES (1, %s, %s)",
                               [generator.chain.seq, generator.chain.prev])
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_head_sync")
    report.index_seconds = time.monotonic() - started


def portfolio_generate(*, scale: str, seed: int = 1, today: dt.date | None = None, password: str | None = None,
                       using: str = "default", progress_factory=None, log: Callable[[str], None] | None = None,
                       analyze: bool = True) -> GenerationReport:
    """Generate a synthetic portfolio into an empty database. Returns what was written and how long it took."""
    log = log or (lambda _msg: None)
    if scale not in synth.SCALES:
        raise GenerationRefused(f"Unknown scale {scale!r}; use one of {', '.join(PUBLIC_SCALES)}.")
    existing = Study.all_objects.using(using).count()
    if existing:
        raise GenerationRefused(f"The database already holds {existing} studies: generate_portfolio writes into "
                                "an empty (migrated) database only. Create a new database (or a new "
                                "TRIALDESK_HOME for SQLite), run `trialdesk migrate`, then generate.")
    today = today or dt.date.today()
    connection = connections[using]
    report = GenerationReport(scale=scale, seed=seed, today=today, vendor=connection.vendor)
    started = time.monotonic()
    log(f"Planning the {scale} portfolio (seed {seed}, today {today.isoformat()}) ...")
    portfolio = synth.plan_portfolio(synth.SCALES[scale], seed, today)
    log(f"{len(portfolio.studies)} studies, {portfolio.site_count} sites, about {portfolio.expected_subjects} "
        f"screening-log entries; writing to {connection.vendor} ...")
    progress = progress_factory(portfolio.expected_subjects) if progress_factory else None
    gen = Generator(portfolio=portfolio, using=using, password=password, progress=progress)
    pg = connection.vendor == "postgresql"
    try:
        if pg:
            with transaction.atomic(using=using):
                with connection.cursor() as cursor:
                    # Other appenders wait for this transaction (they lock the head row too).
                    cursor.execute("SELECT id FROM audit_auditchainhead WHERE id = 1 FOR UPDATE")
                    cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_head_sync")
                    rebuild = _pg_drop_indexes(cursor, [m._meta.db_table for m in WRITE_ORDER])
                _write_all(gen)
                report.write_seconds = time.monotonic() - started
                log("Rebuilding indexes and validating foreign keys ...")
                _finish_pg(connection, rebuild, gen, report)
        else:
            with transaction.atomic(using=using), connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size = -262144")
                rebuild = _sqlite_drop_indexes(cursor, [m._meta.db_table for m in WRITE_ORDER])
            _write_all(gen, per_study_transactions=True)
            report.write_seconds = time.monotonic() - started
            log("Rebuilding indexes ...")
            a = time.monotonic()
            with transaction.atomic(using=using), connection.cursor() as cursor:
                for sql in rebuild:
                    cursor.execute(sql)
            report.index_seconds = time.monotonic() - a
    finally:
        if progress is not None:
            progress.close()
    if analyze:
        log("Updating planner statistics ...")
        a = time.monotonic()
        with connection.cursor() as cursor:
            # VACUUM also sets the visibility map (index-only scans); it cannot run inside a transaction.
            cursor.execute("VACUUM (ANALYZE)" if pg and not connection.in_atomic_block else "ANALYZE")
        report.analyze_seconds = time.monotonic() - a
    if not pg and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the size reported is then the file's
    report.seconds = time.monotonic() - started
    report.rows = {t.name: t.written for t in gen.tables.values()}
    report.logins = gen.logins[:4]
    report.database_bytes = database_size(using)
    return report


def _write_all(gen: Generator, per_study_transactions: bool = False) -> None:
    using = gen.using

    def block():
        return transaction.atomic(using=using) if per_study_transactions else _nullcontext()

    with block():
        gen.organizations_and_people()
        gen.users()
        gen.flush()
    for study in gen.p.studies:
        with block():
            gen.study(study)
            if per_study_transactions or gen.pending() >= BATCH_ROWS:
                gen.flush()
    with block():
        gen.flush()


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


