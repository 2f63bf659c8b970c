"""Parse one ClinicalTrials.gov API v2 study record into plain frozen dataclasses.

Deliberately free of Django so it can be unit-tested and fuzzed in isolation.
The input is untrusted (uploaded files, network responses): the only exception
that may escape :func:`parse_study` is :class:`NotAStudyRecord`, raised for
problems that make the whole document unusable. Anything wrong inside optional
modules is dropped or normalised instead, because a partly filled record is
more useful to the importer than a rejected one.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Agency",
    "Arm",
    "CtgovStudy",
    "Intervention",
    "Location",
    "NotAStudyRecord",
    "PartialDate",
    "load_json_bytes",
    "parse_file",
    "parse_study",
    "split_records",
]

NCT_ID_RE = re.compile(r"NCT[0-9]{8}")  # [0-9], not \d: \d would accept e.g. Arabic-Indic digits
_PARTIAL_DATE_RE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_SURROGATES_RE = re.compile("[\ud800-\udfff]")
_DATE_TYPES = frozenset({"ACTUAL", "ESTIMATED"})
# Beyond a 32-bit signed int a count is nonsense and would overflow integer DB columns.
_MAX_ENROLLMENT = 2_147_483_647
_CONTACT_KEYS = ("name", "role", "phone", "phoneExt", "email")


class NotAStudyRecord(ValueError):
    """The document is not a usable ClinicalTrials.gov API v2 study record."""


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class PartialDate:
    """A date as published: "YYYY", "YYYY-MM" or "YYYY-MM-DD" (never padded to a full date)."""

    value: str
    type: str = ""  # "ACTUAL", "ESTIMATED" or "" when the registry gives none

    def __post_init__(self) -> None:
        if not _valid_partial_date(self.value):
            raise ValueError(f"not a YYYY, YYYY-MM or YYYY-MM-DD date: {self.value!r}")

    @property
    def is_full(self) -> bool:
        return len(self.value) == 10

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Agency:
    name: str = ""
    agency_class: str = ""


@dataclass(frozen=True)
class Arm:
    label: str = ""
    arm_type: str = ""
    description: str = ""
    intervention_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Intervention:
    kind: str = ""
    name: str = ""
    description: str = ""
    other_names: tuple[str, ...] = ()
    arm_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Location:
    facility: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    status: str = ""
    latitude: float | None = None
    longitude: float | None = None
    # Dicts are unhashable; leaving them out of the hash keeps Location hashable
    # while equality still compares them.
    contacts: tuple[dict[str, str], ...] = field(default=(), hash=False)

    @property
    def key(self) -> str:
        """Stable identity for recognising the same site on re-import.

        Case, whitespace and Unicode composition differ between registry
        revisions of the same site, so they are normalised away; status,
        contacts and coordinates are not part of the identity.
        """
        parts = (self.facility, self.city, self.state, self.zip, self.country)
        text = "|".join(_normalise_for_key(p) for p in parts)
        return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()

    @property
    def display_name(self) -> str:
        if self.facility:
            return self.facility
        # Many industry records publish only the city (e.g. NCT02210780).
        place = ", ".join(p for p in (self.city, self.state, self.country) if p)
        return f"Facility in {place}" if place else "Unnamed facility"


@dataclass(frozen=True)
class CtgovStudy:
    nct_id: str
    org_study_id: str = ""
    secondary_ids: tuple[tuple[str, str], ...] = ()
    organization: Agency = field(default_factory=Agency)
    brief_title: str = ""
    official_title: str = ""
    acronym: str = ""
    overall_status: str = ""
    last_known_status: str = ""
    why_stopped: str = ""
    start_date: PartialDate | None = None
    primary_completion_date: PartialDate | None = None
    completion_date: PartialDate | None = None
    last_update: str = ""
    lead_sponsor: Agency | None = None
    collaborators: tuple[Agency, ...] = ()
    brief_summary: str = ""
    detailed_description: str = ""
    conditions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    study_type: str = ""
    phases: tuple[str, ...] = ()
    allocation: str = ""
    intervention_model: str = ""
    primary_purpose: str = ""
    masking: str = ""
    who_masked: tuple[str, ...] = ()
    enrollment_count: int | None = None
    enrollment_type: str = ""
    arms: tuple[Arm, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    eligibility_criteria: str = ""
    sex: str = ""
    minimum_age: str = ""
    maximum_age: str = ""
    healthy_volunteers: bool | None = None
    std_ages: tuple[str, ...] = ()
    locations: tuple[Location, ...] = ()
    overall_officials: tuple[dict[str, str], ...] = field(default=(), hash=False)


# --------------------------------------------------------------------------- JSON / top level


def load_json_bytes(data: bytes) -> object:
    """Decode JSON bytes, turning every decoding failure into NotAStudyRecord."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    data = bytes(data)
    try:
        # utf-8-sig: files saved by Windows editors often start with a BOM.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        start = exc.start + bom  # utf-8-sig reports offsets after the BOM
        prefix = data[bom:start].decode("utf-8")  # valid up to the error by definition
        line = prefix.count("\n") + 1
        column = len(prefix) - (prefix.rfind("\n") + 1) + 1
        raise NotAStudyRecord(
            f"not valid JSON: the file is not UTF-8 text (byte 0x{data[start]:02x}) (line {line} column {column})"
        ) from exc
    if text.lstrip().startswith("<"):
        # The retired classic site and many error pages serve XML/HTML.
        raise NotAStudyRecord(
            "not valid JSON: the file looks like XML or HTML; an API v2 study JSON is expected (line 1 column 1)"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotAStudyRecord(f"not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from exc
    except RecursionError as exc:
        raise NotAStudyRecord("not valid JSON: the document is nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer literal longer than Python's digit limit
        raise NotAStudyRecord(f"not valid JSON: {exc}") from exc


def _reject_non_study(obj: object) -> None:
    """Raise NotAStudyRecord with a helpful message for shapes people commonly upload by mistake."""
    if isinstance(obj, list):
        raise NotAStudyRecord(
            f"expected a single ClinicalTrials.gov API v2 study object, got a JSON list ({len(obj)} items)"
        )
    if not isinstance(obj, dict):
        raise NotAStudyRecord(f"expected a ClinicalTrials.gov API v2 study object, got a JSON {_json_type(obj)}")
    v1_keys = ("FullStudiesResponse", "StudyFieldsResponse", "ProtocolSection", "FullStudy")
    study = obj.get("Study")
    if any(k in obj for k in v1_keys) or (isinstance(study, dict) and "ProtocolSection" in study):
        raise NotAStudyRecord(
            "this is the retired ClinicalTrials.gov API v1 format; an API v2 study JSON is expected "
            "(download it from https://clinicaltrials.gov/api/v2/studies/NCTxxxxxxxx)"
        )


def split_records(obj: object) -> list[dict[str, Any]]:
    """Return the study objects contained in a document.

    A single study gives a one-element list; an API v2 search response
    (``{"studies": [...]}``) gives its studies (possibly none). Other shapes
    raise NotAStudyRecord. The studies themselves are validated by parse_study.
    """
    _reject_non_study(obj)
    assert isinstance(obj, dict)
    if "protocolSection" in obj or "studies" not in obj:
        return [obj]
    studies = obj["studies"]
    if not isinstance(studies, list):
        raise NotAStudyRecord(f"'studies' is a JSON {_json_type(studies)}, expected a list of studies")
    for index, study in enumerate(studies):
        if not isinstance(study, dict):
            raise NotAStudyRecord(f"study #{index + 1} in 'studies' is a JSON {_json_type(study)}")
    return list(studies)


def parse_study(obj: dict[str, Any]) -> CtgovStudy:
    """Parse one API v2 study object (the one holding ``protocolSection``)."""
    _reject_non_study(obj)
    if "protocolSection" not in obj and isinstance(obj.get("studies"), list):
        raise NotAStudyRecord(
            f"this is a ClinicalTrials.gov API v2 search response with {len(obj['studies'])} studies, "
            "not a single study record; import each study separately"
        )
    protocol = obj.get("protocolSection")
    if not isinstance(protocol, dict):
        raise NotAStudyRecord(
            "no 'protocolSection' object: not a ClinicalTrials.gov API v2 study record"
            if protocol is None
            else f"'protocolSection' is a JSON {_json_type(protocol)}, expected an object"
        )
    ident = protocol.get("identificationModule")
    if not isinstance(ident, dict):
        raise NotAStudyRecord("the record has no protocolSection.identificationModule object")
    raw_id = ident.get("nctId")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise NotAStudyRecord("the record has no protocolSection.identificationModule.nctId")
    nct_id = raw_id.strip()
    if not NCT_ID_RE.fullmatch(nct_id):
        raise NotAStudyRecord(f"invalid NCT id {_s(nct_id)[:40]!r}: expected 'NCT' followed by 8 digits")

    status = _d(protocol, "statusModule")
    sponsors = _d(protocol, "sponsorCollaboratorsModule")
    description = _d(protocol, "descriptionModule")
    cond = _d(protocol, "conditionsModule")
    design = _d(protocol, "designModule")
    design_info = _d(design, "designInfo")
    masking_info = _d(design_info, "maskingInfo")
    enrollment = _d(design, "enrollmentInfo")
    arms_module = _d(protocol, "armsInterventionsModule")
    eligibility = _d(protocol, "eligibilityModule")
    contacts = _d(protocol, "contactsLocationsModule")

    brief_title = _s(ident.get("briefTitle"))
    official_title = _s(ident.get("officialTitle"))
    org = _d(ident, "organization")
    last_update = _s(_d(status, "lastUpdatePostDateStruct").get("date"))
    if not _valid_partial_date(last_update):
        last_update = _s(status.get("lastUpdateSubmitDate"))
        if not _valid_partial_date(last_update):
            last_update = ""
    healthy = eligibility.get("healthyVolunteers")

    return CtgovStudy(
        nct_id=nct_id,
        org_study_id=_s(_d(ident, "orgStudyIdInfo").get("id")),
        secondary_ids=_secondary_ids(ident.get("secondaryIdInfos")),
        organization=Agency(_s(org.get("fullName")), _s(org.get("class"))),
        brief_title=brief_title or official_title or nct_id,
        official_title=official_title,
        acronym=_s(ident.get("acronym")),
        overall_status=_s(status.get("overallStatus")),
        last_known_status=_s(status.get("lastKnownStatus")),
        why_stopped=_s(status.get("whyStopped")),
        start_date=_partial_date(status.get("startDateStruct")),
        primary_completion_date=_partial_date(status.get("primaryCompletionDateStruct")),
        completion_date=_partial_date(status.get("completionDateStruct")),
        last_update=last_update,
        lead_sponsor=_agency(sponsors.get("leadSponsor")),
        collaborators=tuple(a for a in map(_agency, _dicts(sponsors.get("collaborators"))) if a),
        brief_summary=_s(description.get("briefSummary")),
        detailed_description=_s(description.get("detailedDescription")),
        conditions=_strings(cond.get("conditions")),
        keywords=_strings(cond.get("keywords")),
        study_type=_s(design.get("studyType")),
        phases=_strings(design.get("phases")),
        allocation=_s(design_info.get("allocation")),
        intervention_model=_s(design_info.get("interventionModel")),
        primary_purpose=_s(design_info.get("primaryPurpose")),
        masking=_s(masking_info.get("masking")),
        who_masked=_strings(masking_info.get("whoMasked")),
        enrollment_count=_count(enrollment.get("count")),
        enrollment_type=_s(enrollment.get("type")),
        arms=_arms(arms_module.get("armGroups")),
        interventions=_interventions(arms_module.get("interventions")),
        eligibility_criteria=_s(eligibility.get("eligibilityCriteria")),
        sex=_s(eligibility.get("sex")),
        minimum_age=_s(eligibility.get("minimumAge")),
        maximum_age=_s(eligibility.get("maximumAge")),
        healthy_volunteers=healthy if isinstance(healthy, bool) else None,
        std_ages=_strings(eligibility.get("stdAges")),
        locations=_locations(contacts.get("locations")),
        overall_officials=_officials(contacts.get("overallOfficials")),
    )


def parse_file(path: str | Path) -> list[CtgovStudy]:
    """Parse a file holding one study or an API v2 search response.

    Every failure (including an unreadable file) is a NotAStudyRecord whose
    message starts with the file name, so callers can report it as is.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotAStudyRecord(f"{path.name}: cannot read the file: {exc.strerror or exc}") from exc
    try:
        records = split_records(load_json_bytes(data))
    except NotAStudyRecord as exc:
        raise NotAStudyRecord(f"{path.name}: {exc}") from exc
    studies = []
    for index, record in enumerate(records):
        try:
            studies.append(parse_study(record))
        except NotAStudyRecord as exc:
            where = f"study #{index + 1}: " if len(records) > 1 else ""
            raise NotAStudyRecord(f"{path.name}: {where}{exc}") from exc
    return studies


# --------------------------------------------------------------------------- helpers


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


def _d(container: dict[str, Any], key: str) -> dict[str, Any]:
    """The sub-object at key, or {} when missing or of the wrong type."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def _s(value: object) -> str:
    """A stripped string, or "" for non-strings.

    NULs are removed (PostgreSQL rejects them in text) and lone surrogates,
    which json.loads produces from escapes like "\\ud800", are replaced because
    they cannot be encoded as UTF-8 for storage or hashing.
    """
    if not isinstance(value, str):
        return ""
    value = value.replace("\x00", "")
    if not value.isascii():
        value = _SURROGATES_RE.sub("\ufffd", value)
    return value.strip()


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _strings(value: object) -> tuple[str, ...]:
    """Non-empty stripped strings of a list, de-duplicated in order."""
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(s for s in map(_s, value) if s))


def _valid_partial_date(value: str) -> bool:
    match = _PARTIAL_DATE_RE.fullmatch(value)
    if not match:
        return False
    year, month, day = match.groups()
    try:
        datetime.date(int(year), int(month or 1), int(day or 1))
    except ValueError:  # month 13, 30 February, year 0000...
        return False
    return True


def _partial_date(struct: object) -> PartialDate | None:
    if not isinstance(struct, dict):
        return None
    value = _s(struct.get("date"))
    if not _valid_partial_date(value):
        return None
    kind = _s(struct.get("type")).upper()
    return PartialDate(value, kind if kind in _DATE_TYPES else "")


def _agency(value: object) -> Agency | None:
    if not isinstance(value, dict):
        return None
    name = _s(value.get("name"))
    return Agency(name, _s(value.get("class"))) if name else None


def _secondary_ids(value: object) -> tuple[tuple[str, str], ...]:
    result = []
    for info in _dicts(value):
        ident = _s(info.get("id"))
        if ident:
            result.append((_s(info.get("type")) or _s(info.get("domain")), ident))
    return tuple(dict.fromkeys(result))


def _count(value: object) -> int | None:
    if isinstance(value, bool):  # bool is an int subclass; True is not an enrollment of 1
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int) and 0 <= value <= _MAX_ENROLLMENT:
        return value
    return None


def _arms(value: object) -> tuple[Arm, ...]:
    arms = []
    for group in _dicts(value):
        arm = Arm(
            label=_s(group.get("label")),
            arm_type=_s(group.get("type")),
            description=_s(group.get("description")),
            intervention_names=_strings(group.get("interventionNames")),
        )
        if arm.label or arm.description:
            arms.append(arm)
    return tuple(arms)


def _interventions(value: object) -> tuple[Intervention, ...]:
    result = []
    for item in _dicts(value):
        name = _s(item.get("name"))
        if not name:
            continue
        result.append(
            Intervention(
                kind=_s(item.get("type")),
                name=name,
                description=_s(item.get("description")),
                other_names=_strings(item.get("otherNames")),
                arm_labels=_strings(item.get("armGroupLabels")),
            )
        )
    return tuple(result)


def _coordinate(value: object, limit: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None


def _contacts(value: object) -> tuple[dict[str, str], ...]:
    result = []
    for item in _dicts(value):
        contact = {k: _s(item.get(k)) for k in _CONTACT_KEYS}
        contact = {k: v for k, v in contact.items() if v}
        if contact:
            result.append(contact)
    return tuple(result)


def _locations(value: object) -> tuple[Location, ...]:
    """Locations, de-duplicated by key (first wins) so the key is unique within a study."""
    seen: dict[str, Location] = {}
    for item in _dicts(value):
        geo = _d(item, "geoPoint")
        lat, lon = _coordinate(geo.get("lat"), 90.0), _coordinate(geo.get("lon"), 180.0)
        if lat is None or lon is None:  # half a coordinate pair is useless for a map
            lat = lon = None
        location = Location(
            facility=_s(item.get("facility")),
            city=_s(item.get("city")),
            state=_s(item.get("state")),
            zip=_s(item.get("zip")),
            country=_s(item.get("country")),
            status=_s(item.get("status")),
            latitude=lat,
            longitude=lon,
            contacts=_contacts(item.get("contacts")),
        )
        if not (location.facility or location.city or location.state or location.zip or location.country):
            continue  # nothing to identify or show
        seen.setdefault(location.key, location)
    return tuple(seen.values())


def _officials(value: object) -> tuple[dict[str, str], ...]:
    result = []
    for item in _dicts(value):
        official = {k: _s(item.get(k)) for k in ("name", "affiliation", "role")}
        if official["name"] or official["affiliation"]:
            result.append(official)
    return tuple(result)


def _normalise_for_key(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).lower().split())
