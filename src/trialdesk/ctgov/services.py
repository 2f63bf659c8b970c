"""Import ClinicalTrials.gov API v2 records into studies, arms, interventions, organizations and sites.

Mapping rules (the registry is the source for registry fields; Trialdesk owns the operational ones):

* Study identity is the NCT id: importing a known NCT id updates that study, never a second one.
  The protocol number is the sponsor's ``orgStudyIdInfo.id`` unless another study already uses it
  (or it does not fit), then the NCT id; it is set at creation only, as users may correct it.
* Registry fields (titles, design, eligibility, ``registry_*`` dates/status/enrollment, sponsor)
  mirror the record. A value the record does not give never erases one we hold, so a partial or
  field-filtered download cannot blank a study.
* Operational fields derived from the registry are set at creation and afterwards only when their
  registry source changed, so local planning is not overwritten by every sync:
  - ``status`` from ``overallStatus`` (UNKNOWN: ``lastKnownStatus``), see STATUS_MAP; a registry
    sync is not a user transition, so the study lifecycle is not enforced, but the change is audited
    as a ``transition`` event.
  - ``planned_enrollment`` (our target): the registry count when we hold no target yet, and later
    whenever an ESTIMATED (registered target) count changes. An ACTUAL count never replaces a target
    we hold, and 0 is never a target (withdrawn studies register ACTUAL 0).
  - full-precision start date: ACTUAL -> ``actual_first_subject_in``, ESTIMATED ->
    ``planned_first_subject_in``; completion date likewise -> ``*_last_subject_last_visit``.
    Partial dates ("2015-09") stay in the ``registry_*`` text fields only.
* Organizations are matched by ``organization_match_key`` (get-or-create). Lead sponsor: kind
  sponsor; collaborators: kind sponsor when INDUSTRY, else other; locations: kind institution named
  ``Location.display_name``. Existing organizations are not modified.
* Each location is a candidate StudySite identified by ``registry_location_key``; new ones get the
  next free numeric site number ("001", wider past 999); known ones are updated.
* Collaborators and arm links are added, never removed; records deleted in Trialdesk (arms,
  interventions, sites) are not re-created or changed by a re-import.
* Every created or changed row gets an audit event with the usual action (create / update /
  transition) and the reason IMPORT_REASON; creations carry the field values. Rows are written with
  bulk inserts/updates and the events appended in one chain step, so the query count does not grow
  per location.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.audit.services import Action, AuditDraft, audit_events_append, draft_for
from trialdesk.core.errors import Conflict, ServiceError, ValidationFailed
from trialdesk.core.records import apply_changes, snapshot, to_jsonable, validate
from trialdesk.ctgov.parse import CtgovStudy, Location, NotAStudyRecord, load_json_bytes, parse_study, split_records
from trialdesk.organizations.models import Organization
from trialdesk.organizations.services import organization_match_key
from trialdesk.sites.models import StudySite
from trialdesk.studies.models import PHASE_LABELS, Arm, Intervention, Study

IMPORT_REASON = "ClinicalTrials.gov import"

STATUS_MAP = {
    "NOT_YET_RECRUITING": "start_up",
    "RECRUITING": "enrolling",
    "ENROLLING_BY_INVITATION": "enrolling",
    "ACTIVE_NOT_RECRUITING": "follow_up",
    "SUSPENDED": "on_hold",
    "TERMINATED": "terminated",
    "COMPLETED": "completed",
    "WITHDRAWN": "withdrawn",
}
DEFAULT_STATUS = "planning"

_EMPTY = (None, "", [], {})
_SITE_REGISTRY_FIELDS = ("country", "state", "city", "postal_code", "latitude", "longitude",
                         "registry_recruitment_status")


class FileRejected(ValidationFailed, NotAStudyRecord):
    """A file (or request body) that cannot be imported; the message starts with its name.

    Both a ValidationFailed (HTTP 422, form error) and a NotAStudyRecord, so callers may catch either.
    """

    def __init__(self, filename: str, detail: str):
        self.filename = filename
        self.detail = detail
        message = f"{filename}: {detail}"
        super().__init__(message, errors={"file": [message]})


@dataclass
class ImportResult:
    file: str
    nct_id: str
    study_id: int
    protocol_number: str
    created: bool
    changed: bool
    status: str
    sites_created: int = 0
    sites_updated: int = 0
    organizations_created: int = 0
    arms_created: int = 0
    arms_updated: int = 0
    interventions_created: int = 0
    interventions_updated: int = 0
    warnings: list[str] = field(default_factory=list)


def map_status(overall_status: str, last_known_status: str = "") -> str:
    """Our study status for a registry overall status (UNKNOWN: the last known one)."""
    if overall_status == "UNKNOWN":
        overall_status = last_known_status
    return STATUS_MAP.get(overall_status, DEFAULT_STATUS)


# --------------------------------------------------------------------------- entry points


def ctgov_import_record(*, user, record: CtgovStudy, source: str = "") -> ImportResult:
    """Create or update the study for one parsed record, in its own transaction."""
    permissions.require(user, "ctgov.import")
    with transaction.atomic():
        return _RecordImport(user=user, record=record, source=source).run()


def ctgov_import_file(*, user, path_or_bytes: str | Path | bytes, filename: str | None = None
                      ) -> list[ImportResult]:
    """Import every study of one file (a study record or an API v2 search response).

    The file is one transaction (each record a nested one): a file that fails anywhere leaves nothing
    behind. Failures raise FileRejected (or the service error, e.g. Conflict) naming the file.
    """
    permissions.require(user, "ctgov.import")
    name, records = _parse_source(path_or_bytes, filename)
    results = []
    with transaction.atomic():
        for index, record in enumerate(records):
            try:
                results.append(ctgov_import_record(user=user, record=record, source=name))
            except ServiceError as exc:
                where = f"study #{index + 1} ({record.nct_id})" if len(records) > 1 else record.nct_id
                raise type(exc)(f"{name}: {where}: {exc.message}", errors=exc.errors or
                                {"file": [f"{name}: {where}: {exc.message}"]}) from exc
    return results


def ctgov_import_batch(*, user, files: Iterable[tuple[str, bytes]]) -> list[ImportResult]:
    """Import several files all or nothing (the API's contract: a 4xx means nothing was imported)."""
    permissions.require(user, "ctgov.import")
    results: list[ImportResult] = []
    with transaction.atomic():
        for name, data in files:
            results.extend(ctgov_import_file(user=user, path_or_bytes=data, filename=name))
    return results


def _parse_source(path_or_bytes: str | Path | bytes, filename: str | None) -> tuple[str, list[CtgovStudy]]:
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        name = filename or "upload"
        data = bytes(path_or_bytes)
    else:
        path = Path(path_or_bytes)
        name = filename or path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FileRejected(name, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        raw_records = split_records(load_json_bytes(data))
    except NotAStudyRecord as exc:
        raise FileRejected(name, str(exc)) from exc
    if not raw_records:
        raise FileRejected(name, "the search response holds no studies; nothing to import")
    studies = []
    for index, raw in enumerate(raw_records):
        try:
            studies.append(parse_study(raw))
        except NotAStudyRecord as exc:
            where = f"study #{index + 1}: " if len(raw_records) > 1 else ""
            raise FileRejected(name, f"{where}{exc}") from exc
    return name, studies


# --------------------------------------------------------------------------- helpers


def _chunks(values: list, size: int | None = None) -> Iterable[list]:
    """Split IN lists below the backend's parameter limit (999 on SQLite); one chunk elsewhere."""
    size = size or connection.features.max_query_params or len(values) or 1
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _fit(model: type[models.Model], data: dict[str, Any], warnings: set[str]) -> dict[str, Any]:
    """Truncate text to the column's max_length so an over-long registry value never reaches the DB."""
    for name, value in data.items():
        if not isinstance(value, str):
            continue
        limit = model._meta.get_field(name).max_length
        if limit and len(value) > limit:
            data[name] = value[:limit].rstrip()
            warnings.add(f"{model._meta.verbose_name} {name.replace('_', ' ')} was longer than {limit} "
                         "characters and was shortened.")
    return data


def _given(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v not in _EMPTY}


def _creation_changes(instance: models.Model, extra: dict | None = None) -> dict[str, list]:
    changes = {k: [None, v] for k, v in snapshot(instance).items()
               if v not in _EMPTY and k not in {"version", "is_deleted"}}
    for name, value in (extra or {}).items():
        if value not in _EMPTY:
            changes[name] = [None, to_jsonable(value)]
    return changes


def _normal(name: str) -> str:
    return " ".join(name.lower().split())


def _arm_intervention_name(text: str) -> str:
    """'Drug: Dupilumab' -> 'dupilumab': arm groups name interventions with a type prefix."""
    return _normal(text.partition(": ")[2] or text)


# --------------------------------------------------------------------------- the import of one record


class _RecordImport:
    def __init__(self, *, user, record: CtgovStudy, source: str):
        self.user = user
        self.record = record
        self.source = source
        self.now = timezone.now()
        self.warnings: set[str] = set()
        self.notes: list[str] = []   # record-specific warnings, kept in order
        self.drafts: list[AuditDraft] = []

    # -- orchestration --------------------------------------------------------

    def run(self) -> ImportResult:
        record = self.record
        study = Study.all_objects.select_for_update().filter(nct_id=record.nct_id).first()
        if study is not None and study.is_deleted:
            raise Conflict(f"{record.nct_id} was imported before as study {study.protocol_number}, which has been "
                           "deleted; it is not imported again.", errors={"nct_id": ["The study was deleted."]})
        existing_sites = list(StudySite.all_objects.select_related("institution").filter(study=study)) \
            if study is not None else []
        known_keys = {s.registry_location_key for s in existing_sites if s.registry_location_key}
        new_locations = [loc for loc in record.locations if loc.key not in known_keys]

        orgs, orgs_created = self._organizations(new_locations)
        sponsor = orgs[self._agency_key(record.lead_sponsor.name)] if record.lead_sponsor else None
        collaborators: list[Organization] = []
        for agency in record.collaborators:
            org = orgs[self._agency_key(agency.name)]
            if org != sponsor and org not in collaborators:
                collaborators.append(org)

        created = study is None
        if created:
            study = self._study_create(sponsor, collaborators)
        else:
            self._study_update(study, sponsor, collaborators)
        arms_created, arms_updated, arms, arms_by_intervention = self._arms(study, created)
        interventions_created, interventions_updated = self._interventions(study, created, arms,
                                                                           arms_by_intervention)
        sites_created, sites_updated = self._sites(study, existing_sites, new_locations, orgs)

        audit_events_append(actor=self.user, drafts=self.drafts)
        return ImportResult(
            file=self.source, nct_id=record.nct_id, study_id=study.pk, protocol_number=study.protocol_number,
            created=created, changed=bool(self.drafts), status=study.status,
            sites_created=sites_created, sites_updated=sites_updated, organizations_created=orgs_created,
            arms_created=arms_created, arms_updated=arms_updated, interventions_created=interventions_created,
            interventions_updated=interventions_updated, warnings=self.notes + sorted(self.warnings),
        )

    def _audit(self, obj: models.Model, action: str, changes: dict) -> None:
        self.drafts.append(draft_for(obj, action, changes=changes, reason=IMPORT_REASON))

    # -- organizations ----------------------------------------------------------

    @staticmethod
    def _agency_key(name: str) -> str:
        return organization_match_key(name)

    @staticmethod
    def _institution_key(location: Location) -> str:
        return organization_match_key(location.display_name, location.city, location.state, location.country)

    def _organizations(self, new_locations: list[Location]) -> tuple[dict[str, Organization], int]:
        """Existing or new organizations for the sponsors and the new sites, by match key."""
        wanted: dict[str, dict[str, Any]] = {}
        record = self.record
        if record.lead_sponsor:
            wanted.setdefault(self._agency_key(record.lead_sponsor.name), {
                "name": record.lead_sponsor.name, "kind": Organization.Kind.SPONSOR,
                "registry_class": record.lead_sponsor.agency_class})
        for agency in record.collaborators:
            kind = Organization.Kind.SPONSOR if agency.agency_class == "INDUSTRY" else Organization.Kind.OTHER
            wanted.setdefault(self._agency_key(agency.name), {
                "name": agency.name, "kind": kind, "registry_class": agency.agency_class})
        for loc in new_locations:
            wanted.setdefault(self._institution_key(loc), {
                "name": loc.display_name, "kind": Organization.Kind.INSTITUTION, "city": loc.city,
                "state": loc.state, "postal_code": loc.zip, "country": loc.country})
        found: dict[str, Organization] = {}
        for chunk in _chunks(list(wanted)):
            # Several live organizations may share a key (entered by hand): the oldest wins.
            for org in Organization.objects.filter(match_key__in=chunk).order_by("-id"):
                found[org.match_key] = org
        new = [Organization(match_key=key, **_fit(Organization, values, self.warnings))
               for key, values in wanted.items() if key not in found]
        if new:
            Organization.objects.bulk_create(new)
            for org in new:
                found[org.match_key] = org
                self._audit(org, Action.CREATE, _creation_changes(org))
        return found, len(new)

    # -- study --------------------------------------------------------------------

    def _registry_fields(self) -> dict[str, Any]:
        r = self.record
        phases = [p for p in r.phases if p in PHASE_LABELS]
        unknown_phases = [p for p in r.phases if p not in PHASE_LABELS]
        if unknown_phases:
            self.notes.append(f"Unknown phase(s) {', '.join(unknown_phases)} were left out.")
        data: dict[str, Any] = {
            "nct_id": r.nct_id,
            "other_ids": [{"type": kind, "id": ident} for kind, ident in r.secondary_ids],
            "acronym": r.acronym,
            "brief_title": r.brief_title,
            "official_title": r.official_title,
            "summary": r.brief_summary,
            "phases": phases,
            "conditions": list(r.conditions),
            "keywords": list(r.keywords),
            "allocation": r.allocation,
            "intervention_model": r.intervention_model,
            "primary_purpose": r.primary_purpose,
            "masking": r.masking,
            "who_masked": list(r.who_masked),
            "registry_enrollment": r.enrollment_count,
            "registry_enrollment_type": r.enrollment_type,
            "eligibility_criteria": r.eligibility_criteria,
            "minimum_age": r.minimum_age,
            "maximum_age": r.maximum_age,
            "healthy_volunteers": r.healthy_volunteers,
            "registry_overall_status": r.overall_status,
            "registry_last_update": r.last_update,
            "why_stopped": r.why_stopped,
        }
        for name, date in (("start_date", r.start_date), ("primary_completion_date", r.primary_completion_date),
                           ("completion_date", r.completion_date)):
            data[f"registry_{name}"] = date.value if date else ""
            data[f"registry_{name}_type"] = date.type if date else ""
        if r.study_type in Study.StudyType.values:
            data["study_type"] = r.study_type
        else:
            self.notes.append(f"Study type {r.study_type!r} is not known; the study type was not set from the registry."
                              if r.study_type else "The record gives no study type; it was not set from the registry.")
        if r.sex in Study.Sex.values:
            data["sex"] = r.sex
        elif r.sex:
            self.notes.append(f"Sex {r.sex!r} is not known; eligibility sex was not set from the registry.")
        if r.overall_status and r.overall_status != "UNKNOWN" and r.overall_status not in STATUS_MAP:
            self.notes.append(f"Registry status {r.overall_status} has no Trialdesk equivalent; "
                              f"the study is {DEFAULT_STATUS}.")
        return _fit(Study, data, self.warnings)

    def _key_dates(self) -> dict[str, dt.date]:
        out = {}
        for date, stem in ((self.record.start_date, "first_subject_in"),
                           (self.record.completion_date, "last_subject_last_visit")):
            if date is not None and date.is_full and date.type in ("ACTUAL", "ESTIMATED"):
                out[f"{'actual' if date.type == 'ACTUAL' else 'planned'}_{stem}"] = dt.date.fromisoformat(date.value)
        return out

    def _protocol_number(self) -> str:
        r = self.record
        candidate = r.org_study_id
        if candidate:
            limit = Study._meta.get_field("protocol_number").max_length
            if len(candidate) > limit:
                self.notes.append(f"The sponsor's study id is longer than {limit} characters; "
                                  f"the protocol number is the NCT id {r.nct_id}.")
            elif Study.all_objects.filter(protocol_number=candidate).exists():
                self.notes.append(f"Protocol number {candidate} is already used by another study; "
                                  f"the protocol number is the NCT id {r.nct_id}.")
            else:
                return candidate
        if Study.all_objects.filter(protocol_number=r.nct_id).exists():
            raise Conflict(f"Another study already uses {r.nct_id} as its protocol number.",
                           errors={"protocol_number": [f"{r.nct_id} is already used by another study."]})
        return r.nct_id

    def _study_create(self, sponsor: Organization | None, collaborators: list[Organization]) -> Study:
        r = self.record
        data = self._registry_fields()
        data.update(self._key_dates())
        if r.enrollment_count:
            data["planned_enrollment"] = r.enrollment_count
        study = Study(protocol_number=self._protocol_number(), sponsor=sponsor,
                      status=map_status(r.overall_status, r.last_known_status), status_changed_at=self.now, **data)
        validate(study)
        try:
            study.save()
        except IntegrityError as exc:  # a concurrent import of the same record won the race
            raise Conflict(f"{r.nct_id} is being imported by someone else; try again ({exc.__class__.__name__}).")
        if collaborators:
            study.collaborators.add(*collaborators)
        self._audit(study, Action.CREATE, _creation_changes(study, {"collaborators": sorted(o.pk for o in
                                                                                              collaborators)}))
        return study

    def _study_update(self, study: Study, sponsor: Organization | None, collaborators: list[Organization]) -> None:
        r = self.record
        new = self._registry_fields()
        if sponsor is not None:
            new["sponsor"] = sponsor
        derived: dict[str, Any] = {}
        start_changed = (new["registry_start_date"], new["registry_start_date_type"]) != \
            (study.registry_start_date, study.registry_start_date_type)
        completion_changed = (new["registry_completion_date"], new["registry_completion_date_type"]) != \
            (study.registry_completion_date, study.registry_completion_date_type)
        for name, value in self._key_dates().items():
            if (start_changed and name.endswith("first_subject_in")) or \
                    (completion_changed and name.endswith("last_subject_last_visit")):
                derived[name] = value
        enrollment_changed = (r.enrollment_count, r.enrollment_type) != \
            (study.registry_enrollment, study.registry_enrollment_type)
        if r.enrollment_count and (study.planned_enrollment is None
                                   or (enrollment_changed and r.enrollment_type == "ESTIMATED")):
            derived["planned_enrollment"] = r.enrollment_count
        status_changed = bool(r.overall_status) and r.overall_status != study.registry_overall_status
        old_status = study.status

        data = {**_given(new), **derived}
        changes = apply_changes(study, data, allowed=frozenset(data))
        old_collaborators = sorted(study.collaborators.values_list("pk", flat=True))
        added = [o for o in collaborators if o.pk not in old_collaborators]
        if added:
            changes["collaborators"] = [old_collaborators, sorted(old_collaborators + [o.pk for o in added])]
        new_status = map_status(r.overall_status, r.last_known_status) if status_changed else old_status
        if not changes and new_status == old_status:
            return
        update_fields = [n for n in changes if n != "collaborators"]
        if new_status != old_status:
            study.status = new_status
            study.status_changed_at = self.now
            update_fields += ["status", "status_changed_at"]
        if changes:
            validate(study)
        study.version += 1
        study.save(update_fields=[*update_fields, "version", "updated_at"])
        if added:
            study.collaborators.add(*added)
        if changes:
            self._audit(study, Action.UPDATE, changes)
        if new_status != old_status:
            self._audit(study, Action.TRANSITION, {"status": [old_status, new_status]})

    # -- arms and interventions ---------------------------------------------------

    def _arms(self, study: Study, created: bool) -> tuple[int, int, dict[str, Arm], dict[str, set[str]]]:
        """Create/update arms; return them by registry label, and intervention name -> arm labels."""
        existing: dict[str, Arm] = {}
        if not created:
            # A live arm wins over a deleted one with the same label.
            for arm in Arm.all_objects.filter(study=study).order_by("-is_deleted", "id"):
                existing[arm.label] = arm
        arms: dict[str, Arm] = {}
        by_intervention: dict[str, set[str]] = {}
        new, updated = [], 0
        for index, parsed in enumerate(self.record.arms, start=1):
            values = _fit(Arm, {"label": parsed.label or parsed.description or f"Arm {index}",
                                "arm_type": parsed.arm_type, "description": parsed.description}, self.warnings)
            label = values["label"]
            if any(a.label == label for a in arms.values()):
                self.notes.append(f"Arm {label!r} appears twice in the record; the first was imported.")
                continue
            arm = existing.get(label)
            if arm is None:
                arm = Arm(study=study, **values)
                new.append(arm)
            elif arm.is_deleted:
                self.notes.append(f"Arm {label!r} was deleted in Trialdesk and was not re-created.")
                continue
            else:
                changes = apply_changes(arm, _given(values), allowed=frozenset(values))
                if changes:
                    arm.version += 1
                    arm.save(update_fields=[*changes, "version", "updated_at"])
                    self._audit(arm, Action.UPDATE, changes)
                    updated += 1
            registry_label = parsed.label or label
            arms[registry_label] = arm
            for name in parsed.intervention_names:
                by_intervention.setdefault(_arm_intervention_name(name), set()).add(registry_label)
        if new:
            Arm.objects.bulk_create(new)
            for arm in new:
                self._audit(arm, Action.CREATE, _creation_changes(arm))
        return len(new), updated, arms, by_intervention

    def _interventions(self, study: Study, created: bool, arms: dict[str, Arm],
                       arms_by_intervention: dict[str, set[str]]) -> tuple[int, int]:
        def key(kind: str, name: str) -> tuple[str, str]:
            return kind.upper(), _normal(name)

        existing: dict[tuple[str, str], Intervention] = {}
        if not created:
            for item in Intervention.all_objects.filter(study=study).order_by("-is_deleted", "-id"):
                existing[key(item.kind, item.name)] = item
        through = Intervention.arms.through
        current_links: dict[int, set[int]] = {}
        if existing:
            for row in through.objects.filter(intervention_id__in=[i.pk for i in existing.values()]):
                current_links.setdefault(row.intervention_id, set()).add(row.arm_id)

        seen: set[tuple[str, str]] = set()
        new: list[tuple[Intervention, list[Arm]]] = []
        links: list[models.Model] = []
        updated = 0
        for parsed in self.record.interventions:
            values = _fit(Intervention, {"kind": parsed.kind, "name": parsed.name, "description": parsed.description,
                                         "other_names": list(parsed.other_names)}, self.warnings)
            k = key(values["kind"], values["name"])
            if k in seen:
                continue
            seen.add(k)
            labels = set(parsed.arm_labels) | arms_by_intervention.get(_normal(parsed.name), set())
            wanted = list({arms[label].pk: arms[label] for label in sorted(labels) if label in arms}.values())
            item = existing.get(k)
            if item is None:
                new.append((Intervention(study=study, **values), wanted))
                continue
            if item.is_deleted:
                self.notes.append(f"Intervention {parsed.name!r} was deleted in Trialdesk and was not re-created.")
                continue
            changes = apply_changes(item, _given(values), allowed=frozenset(values))
            have = current_links.get(item.pk, set())
            missing = [a for a in wanted if a.pk not in have]
            if missing:
                changes["arms"] = [sorted(have), sorted(have | {a.pk for a in missing})]
                links += [through(intervention_id=item.pk, arm_id=a.pk) for a in missing]
            if changes:
                item.version += 1
                item.save(update_fields=[*(n for n in changes if n != "arms"), "version", "updated_at"])
                self._audit(item, Action.UPDATE, changes)
                updated += 1
        if new:
            Intervention.objects.bulk_create([item for item, _ in new])
            for item, wanted in new:
                links += [through(intervention_id=item.pk, arm_id=a.pk) for a in wanted]
                self._audit(item, Action.CREATE, _creation_changes(item, {"arms": sorted(a.pk for a in wanted)}))
        if links:
            through.objects.bulk_create(links)
        return len(new), updated

    # -- sites ------------------------------------------------------------------------

    def _site_values(self, location: Location) -> dict[str, Any]:
        return _fit(StudySite, {
            "country": location.country, "state": location.state, "city": location.city,
            "postal_code": location.zip, "latitude": location.latitude, "longitude": location.longitude,
            "registry_recruitment_status": location.status,
        }, self.warnings)

    def _sites(self, study: Study, existing: list[StudySite], new_locations: list[Location],
               orgs: dict[str, Organization]) -> tuple[int, int]:
        by_key = {s.registry_location_key: s for s in existing if s.registry_location_key}
        updated: list[StudySite] = []
        changed_fields: set[str] = set()
        skipped = 0
        for location in self.record.locations:
            site = by_key.get(location.key)
            if site is None:
                continue
            if site.is_deleted:
                skipped += 1
                continue
            changes = apply_changes(site, _given(self._site_values(location)), allowed=frozenset(_SITE_REGISTRY_FIELDS))
            if changes:
                site.version += 1
                site.updated_at = self.now
                changed_fields |= set(changes)
                updated.append(site)
                self._audit(site, Action.UPDATE, changes)
        if skipped:
            self.notes.append(f"{skipped} site(s) deleted in Trialdesk were left unchanged.")
        if updated:
            StudySite.all_objects.bulk_update(updated, fields=[*sorted(changed_fields), "version", "updated_at"])

        numbers = [int(s.site_number) for s in existing if s.site_number.isdigit()]
        next_number = max(numbers, default=0) + 1
        width = max(3, len(str(next_number + len(new_locations) - 1)))
        new: list[StudySite] = []
        for offset, location in enumerate(new_locations):
            new.append(StudySite(
                study=study, institution=orgs[self._institution_key(location)],
                site_number=str(next_number + offset).zfill(width), status="candidate",
                status_changed_at=self.now, registry_location_key=location.key, **self._site_values(location),
            ))
        if new:
            try:
                StudySite.objects.bulk_create(new)
            except IntegrityError as exc:  # site numbers taken by a concurrent writer
                raise Conflict(f"The sites of {study.protocol_number} were changed while importing; try again "
                               f"({exc.__class__.__name__}).")
            for site in new:
                self._audit(site, Action.CREATE, _creation_changes(site))
        return len(new), len(updated)
