"""Screening-log files (CSV and XLSX): the template, reading, and the dry-run check of every row.

`check_screening_log` reads the file and checks every row against the same rules as the services
(subjects/rules.py, delegation_check), collecting every problem with its row and column; it writes
nothing. `services.screening_log_import` writes the checked rows in one transaction.

Row numbers are spreadsheet row numbers: the header is row 1, the first subject row 2.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.core.errors import ValidationFailed
from trialdesk.sites.lifecycle import SITE_STATUSES
from trialdesk.subjects import rules
from trialdesk.subjects.lifecycle import STATUS_DATE_FIELD, SUBJECT_STATUSES, WITHDRAWAL_REASONS

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
SHEET_NAME = "Screening log"

DATE_COLUMNS = ["prescreened_on", "screened_on", "consented_on", "enrolled_on", "randomized_on", "first_dose_on",
                "active_on", "completed_on", "screen_failed_on", "withdrawn_on", "lost_on"]
COLUMNS: list[tuple[str, str]] = [
    ("site_number", "Required. The site number as in Trialdesk (e.g. 101)."),
    ("subject_number", "Optional. Empty: generated from the study's pattern. Numbers are never reused."),
    ("status", "Required. The subject's current status: " + ", ".join(SUBJECT_STATUSES) + "."),
    ("prescreened_on", "Date (YYYY-MM-DD) of pre-screening."),
    ("screened_on", "Date of screening."),
    ("consented_on", "Date of informed consent (record the consent form and who obtained it on the subject "
                     "page or API)."),
    ("enrolled_on", "Date of enrollment. Needs eligibility_confirmed_by and an Activated or Enrolling site."),
    ("eligibility_confirmed_by", "E-mail or Trialdesk username of the PI or site coordinator who confirmed "
                                 "eligibility (required with enrolled_on)."),
    ("randomized_on", "Date of randomization (needs arm)."),
    ("arm", "Randomized arm, as labelled in the study (required with randomized_on)."),
    ("stratum", "Randomization stratum (optional)."),
    ("irt_reference", "IRT/EDC randomization reference (optional)."),
    ("first_dose_on", "Date of first dose (optional)."),
    ("active_on", "Date the subject became active on study."),
    ("completed_on", "Date the subject completed the study."),
    ("screen_failed_on", "Date of screen failure."),
    ("screen_fail_reason_code", "Required with screen_failed_on: a code from the study's list."),
    ("screen_fail_reason_text", "Free text (required when the code is 'other')."),
    ("withdrawn_on", "Date of withdrawal."),
    ("withdrawal_reason", "Required with withdrawn_on: " + ", ".join(WITHDRAWAL_REASONS) + "."),
    ("withdrawal_text", "Free text (required when the reason is 'other')."),
    ("lost_on", "Date the subject was lost to follow-up."),
]
COLUMN_NAMES = [name for name, _ in COLUMNS]
REQUIRED_COLUMNS = ("site_number", "status")
ALIASES = {"site": "site_number", "site_no": "site_number", "subject": "subject_number", "subject_id": "subject_number",
           "lost_to_follow_up_on": "lost_on"}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Problem:
    row: int | None       # spreadsheet row (1 = header); None for the file as a whole
    column: str           # a column name, or "file"
    value: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.row else (
            f"column {self.column}" if self.column != "file" else "file")
        return f"{where}: {self.message}"


@dataclass
class PlannedRow:
    row: int
    site_number: str
    subject_number: str   # "" when it will be generated
    status: str


@dataclass
class ImportReport:
    filename: str
    digest: str
    dry_run: bool
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    planned: list[PlannedRow] = field(default_factory=list)
    created: list = field(default_factory=list)   # Subjects, after a committed import

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.planned:
            counts[row.status] = counts.get(row.status, 0) + 1
        return {s: counts[s] for s in SUBJECT_STATUSES if s in counts}

    def error_dict(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for p in self.problems:
            key = f"row {p.row}: {p.column}" if p.row else p.column
            errors.setdefault(key, []).append(p.message)
        return errors


class FileUnreadable(ValidationFailed):
    pass


# --- Reading ------------------------------------------------------------------------------------------------

def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(content: bytes) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise FileUnreadable.field("file", f"The file is not a readable XLSX workbook ({exc.__class__.__name__}).")
    except Exception as exc:  # openpyxl raises its own exception types for damaged workbooks
        raise FileUnreadable.field("file", f"The file is not a readable XLSX workbook ({exc.__class__.__name__}).")
    try:
        sheet = book[SHEET_NAME] if SHEET_NAME in book.sheetnames else book.worksheets[0]
        rows = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > MAX_ROWS + 1:
                raise FileUnreadable.field("file", f"The file has more than {MAX_ROWS} rows; split it.")
            rows.append((number, [_cell(v) for v in values]))
        return rows
    except FileUnreadable:
        raise
    except Exception as exc:
        raise FileUnreadable.field("file", f"The workbook could not be read ({exc.__class__.__name__}).")
    finally:
        book.close()


def _read_csv(content: bytes) -> list[tuple[int, list[Any]]]:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FileUnreadable.field("file", "The CSV file is not UTF-8 (or Windows-1252) text.")
    if "\x00" in text:
        raise FileUnreadable.field("file", "The file contains binary data; upload a CSV or XLSX file.")
    first = text.split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=first.count)
    rows = []
    try:
        for number, values in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            if number > MAX_ROWS + 1:
                raise FileUnreadable.field("file", f"The file has more than {MAX_ROWS} rows; split it.")
            rows.append((number, [_cell(v) for v in values]))
    except csv.Error as exc:
        raise FileUnreadable.field("file", f"The CSV file could not be read ({exc}).")
    return rows


def read_table(content: bytes, filename: str) -> list[tuple[int, list[Any]]]:
    """(spreadsheet row number, cells) for every row of the file, header included."""
    if len(content) > MAX_BYTES:
        raise FileUnreadable.field("file", f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    name = (filename or "").lower()
    if name.endswith(".xls") or content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileUnreadable.field("file", "Old Excel (.xls) files are not supported: save the sheet as .xlsx or "
                                           ".csv.")
    if content[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        return _read_xlsx(content)
    return _read_csv(content)


def _header_name(value: Any) -> str:
    name = re.sub(r"[\s\-]+", "_", str(value or "").strip().lower())
    return ALIASES.get(name, name)


# --- Checking -------------------------------------------------------------------------------------------------

class _Context:
    """Everything the row checks look up, loaded once per file."""

    def __init__(self, user, study, settings):
        from trialdesk.accounts.models import User
        from trialdesk.organizations.models import Person
        from trialdesk.studies.models import Arm
        from trialdesk.subjects.models import Subject

        self.user = user
        self.study = study
        self.settings = settings
        self.today = timezone.localdate()
        self.sites = {s.site_number: s for s in study.sites.all()}
        self.reason_codes = rules.reason_codes(settings.screen_fail_reasons)
        self.arms = {a.label.strip().casefold(): a for a in Arm.objects.filter(study=study)}
        numbers = Subject.all_objects.filter(study=study).values_list("subject_number", "is_deleted")
        self.numbers = dict(numbers)
        self._people: dict[str, Any] = {}
        self._delegation: dict[tuple[int, int], str | None] = {}
        self._user_model, self._person_model = User, Person

    def site(self, value: str):
        site = self.sites.get(value)
        if site is None:
            matches = [s for n, s in self.sites.items() if n.casefold() == value.casefold()
                       or (n.isdigit() and value.isdigit() and int(n) == int(value))]
            site = matches[0] if len(matches) == 1 else None
        return site

    def person(self, value: str):
        """The person named by e-mail or username: a Person, or a message saying why not."""
        key = value.strip().casefold()
        if key not in self._people:
            user = self._user_model.objects.select_related("person").filter(username__iexact=key).first()
            if user is not None and user.person_id:
                self._people[key] = user.person
            elif user is not None:
                self._people[key] = f"the user {user.username!r} has no person record"
            else:
                people = list(self._person_model.objects.filter(email__iexact=key)[:2])
                self._people[key] = (people[0] if len(people) == 1 else
                                     f"several people have the e-mail {value!r}" if people else
                                     f"no person or user {value!r} is known")
        return self._people[key]

    def delegation_problem(self, person, site, on) -> str | None:
        from trialdesk.subjects.services import DelegationRefused, delegation_check

        key = (person.pk, site.pk, on)
        if key not in self._delegation:
            try:
                delegation_check(person, site, "eligibility", on)
                self._delegation[key] = None
            except DelegationRefused as exc:
                self._delegation[key] = exc.message
        return self._delegation[key]


def _status(value: str) -> str | None:
    key = _header_name(value)
    if key in SUBJECT_STATUSES:
        return key
    for status, label in SUBJECT_STATUSES.items():
        if label.casefold() == value.strip().casefold() or _header_name(label) == key:
            return status
    return None


def _check_row(ctx: _Context, number: int, cells: dict[str, Any], problems: list[Problem]) -> dict | None:
    """Check one row; append its problems; return the values to write when it has none."""
    start = len(problems)

    def problem(column: str, message: str) -> None:
        value = cells.get(column, "")
        problems.append(Problem(number, column, value.isoformat() if isinstance(value, dt.date) else str(value),
                                message))

    def text(column: str, limit: int | None = None) -> str:
        value = cells.get(column, "")
        value = value.isoformat() if isinstance(value, dt.date) else str(value)
        if limit and len(value) > limit:
            problem(column, f"is longer than {limit} characters.")
        return value

    def has(column: str) -> bool:
        return cells.get(column, "") not in ("", None)

    site_number = text("site_number")
    site = None
    if not site_number:
        problem("site_number", "is required.")
    else:
        site = ctx.site(site_number)
        if site is None:
            problem("site_number", f"{site_number!r} is not a site of {ctx.study.protocol_number}.")
        elif not permissions.has_perm(ctx.user, "subject.import", site):
            problem("site_number", f"you may not import subjects at site {site.site_number}.")
            site = None
    subject_number = text("subject_number", 60)
    raw_status = text("status")
    status = _status(raw_status) if raw_status else None
    if not raw_status:
        problem("status", "is required.")
    elif status is None:
        problem("status", f"{raw_status!r} is not a subject status ({', '.join(SUBJECT_STATUSES)}).")

    dates: dict[str, dt.date | None] = {}
    dates_ok = True
    for column in DATE_COLUMNS:
        value = cells.get(column, "")
        if value in ("", None):
            dates[column] = None
            continue
        if isinstance(value, dt.date):
            parsed = value
        else:
            parsed = None
            if DATE_RE.match(value):
                try:
                    parsed = dt.date.fromisoformat(value)
                except ValueError:
                    parsed = None
            if parsed is None:
                problem(column, f"{value!r} is not a date (YYYY-MM-DD).")
                dates[column] = None
                dates_ok = False
                continue
        if parsed > ctx.today:
            problem(column, f"{parsed} is in the future.")
            dates_ok = False
        dates[column] = parsed
    if status and dates_ok:
        for column, message in rules.path_problems(dates, status):
            problem(column, message)

    values: dict[str, Any] = {"status": status, **{STATUS_DATE_FIELD[s]: dates[STATUS_DATE_FIELD[s]]
                                                   for s in STATUS_DATE_FIELD}}
    if dates.get("first_dose_on"):
        values["first_dose_on"] = dates["first_dose_on"]
        earliest = max((d for d in (dates["enrolled_on"], dates["randomized_on"]) if d), default=None)
        if earliest is None:
            problem("first_dose_on", "a first dose needs an enrollment date.")
        elif dates["first_dose_on"] < earliest:
            problem("first_dose_on", f"the first dose cannot be before enrollment or randomization ({earliest}).")

    code = text("screen_fail_reason_code", 40)
    sf_text = text("screen_fail_reason_text")
    if dates.get("screen_failed_on"):
        if not code:
            problem("screen_fail_reason_code", "is required for a screen failure.")
        elif code not in ctx.reason_codes:
            problem("screen_fail_reason_code", f"{code!r} is not one of the study's screen-failure reasons "
                                               f"({', '.join(ctx.reason_codes)}).")
        elif code == "other" and not sf_text:
            problem("screen_fail_reason_text", "describe the reason when the code is 'other'.")
    elif (code or sf_text) and not has("screen_failed_on"):
        problem("screen_fail_reason_code" if code else "screen_fail_reason_text",
                "is given but the row has no screen_failed_on date.")
    values.update(screen_fail_reason_code=code, screen_fail_reason_text=sf_text)

    withdrawal = text("withdrawal_reason")
    wd_text = text("withdrawal_text")
    if dates.get("withdrawn_on"):
        if withdrawal not in WITHDRAWAL_REASONS:
            problem("withdrawal_reason", ("is required" if not withdrawal else f"{withdrawal!r} is not a withdrawal "
                                          "reason") + f" ({', '.join(WITHDRAWAL_REASONS)}).")
        elif withdrawal == "other" and not wd_text:
            problem("withdrawal_text", "describe the reason when it is 'other'.")
    elif (withdrawal or wd_text) and not has("withdrawn_on"):
        problem("withdrawal_reason" if withdrawal else "withdrawal_text",
                "is given but the row has no withdrawn_on date.")
    values.update(withdrawal_reason=withdrawal, withdrawal_text=wd_text)

    confirmed_by = text("eligibility_confirmed_by")
    if dates.get("enrolled_on") and site is not None:
        if site.status not in rules.ENROLLING_SITE_STATUSES:
            problem("enrolled_on", f"site {site.site_number} is {SITE_STATUSES.get(site.status, site.status)}: "
                                   "subjects can be enrolled only at an Activated or Enrolling site.")
        elif site.actual_activated and dates["enrolled_on"] < site.actual_activated:
            problem("enrolled_on", f"{dates['enrolled_on']} is before the site's activation "
                                   f"({site.actual_activated}).")
        if not confirmed_by:
            problem("eligibility_confirmed_by", "is required for an enrolled subject (e-mail or username of the "
                                                "investigator who confirmed eligibility).")
        else:
            person = ctx.person(confirmed_by)
            if isinstance(person, str):
                problem("eligibility_confirmed_by", person + ".")
            else:
                refused = ctx.delegation_problem(person, site, dates["enrolled_on"])
                if refused:
                    problem("eligibility_confirmed_by", refused)
                values["eligibility_confirmed_by"] = person
    elif confirmed_by and not has("enrolled_on"):
        problem("eligibility_confirmed_by", "is given but the row has no enrolled_on date.")

    arm_label = text("arm")
    stratum = text("stratum", 120)
    reference = text("irt_reference", 80)
    if dates.get("randomized_on"):
        arm = ctx.arms.get(arm_label.casefold()) if arm_label else None
        if getattr(ctx.user, "is_blinded", False):
            problem("randomized_on", "blinded users cannot import randomizations (they would see the arms).")
        elif not arm_label:
            problem("arm", "is required with randomized_on.")
        elif arm is None:
            problem("arm", f"{arm_label!r} is not an arm of {ctx.study.protocol_number}.")
        values["randomization"] = {"arm": arm, "stratum": stratum, "randomized_on": dates["randomized_on"],
                                   "irt_reference": reference}
    elif (arm_label or stratum or reference) and not has("randomized_on"):
        problem("arm" if arm_label else ("stratum" if stratum else "irt_reference"),
                "is given but the row has no randomized_on date.")

    if len(problems) > start or site is None or status is None:
        return None
    values["site"] = site
    values["subject_number"] = subject_number
    return values


def check_screening_log(*, user, study, settings, content: bytes, filename: str, dry_run: bool
                        ) -> tuple[ImportReport, list[dict]]:
    """Read and check a whole file. Returns the report (every problem) and the rows ready to write."""
    report = ImportReport(filename=filename or "upload", digest=hashlib.sha256(content).hexdigest(),
                          dry_run=dry_run)
    try:
        table = read_table(content, filename)
    except FileUnreadable as exc:
        report.problems.append(Problem(None, "file", filename or "", exc.message))
        return report, []
    table = [(n, cells) for n, cells in table if any(c not in ("", None) for c in cells)]
    if not table:
        report.problems.append(Problem(None, "file", filename or "", "The file is empty: it needs a header row "
                                                                       "and one row per subject."))
        return report, []
    header_row, header = table[0]
    names = [_header_name(h) for h in header]
    for required in REQUIRED_COLUMNS:
        if required not in names:
            report.problems.append(Problem(header_row, required, "", "this column is missing from the header row "
                                                                     "(download the template)."))
    seen: set[str] = set()
    for name in names:
        if name and name in seen and name in COLUMN_NAMES:
            report.problems.append(Problem(header_row, name, name, "this column appears twice in the header row."))
        seen.add(name)
    unknown = [str(h) for h, n in zip(header, names, strict=True) if n and n not in COLUMN_NAMES]
    if unknown:
        report.warnings.append("Ignored columns: " + ", ".join(unknown) + ".")
    if report.problems:
        return report, []
    ctx = _Context(user, study, settings)
    rows_out: list[dict] = []
    first_seen: dict[str, int] = {}
    for number, values in table[1:]:
        cells = {name: (values[i] if i < len(values) else "") for i, name in enumerate(names)
                 if name in COLUMN_NAMES}
        report.rows += 1
        subject_number = str(cells.get("subject_number", "") or "").strip()
        if subject_number:
            if subject_number in first_seen:
                report.problems.append(Problem(number, "subject_number", subject_number,
                                               f"{subject_number!r} also appears in row {first_seen[subject_number]}."))
            else:
                first_seen[subject_number] = number
            if subject_number in ctx.numbers:
                report.problems.append(Problem(number, "subject_number", subject_number, (
                    f"{subject_number!r} was used by a deleted subject of this study; numbers are never reused."
                    if ctx.numbers[subject_number] else f"{subject_number!r} already exists in this study.")))
        row = _check_row(ctx, number, cells, report.problems)
        if row is not None:
            rows_out.append(row)
            report.planned.append(PlannedRow(row=number, site_number=row["site"].site_number,
                                             subject_number=subject_number, status=row["status"]))
    if report.rows == 0:
        report.problems.append(Problem(None, "file", filename or "", "The file has a header row but no subjects."))
    if report.problems:
        return report, []
    return report, rows_out


# --- Template -------------------------------------------------------------------------------------------------

def template_csv() -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(COLUMN_NAMES)
    return buffer.getvalue().encode("utf-8")


def template_xlsx(study, settings) -> bytes:
    """The template workbook: the screening-log sheet with drop-down lists, and an instructions sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_NAME
    sheet.append(COLUMN_NAMES)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    last = 1000
    lists = {"status": list(SUBJECT_STATUSES), "withdrawal_reason": list(WITHDRAWAL_REASONS),
             "screen_fail_reason_code": list(rules.reason_codes(settings.screen_fail_reasons))}
    site_numbers = list(study.sites.values_list("site_number", flat=True))
    if site_numbers and len(",".join(site_numbers)) < 250:  # Excel limits inline lists to 255 characters
        lists["site_number"] = site_numbers
    for index, name in enumerate(COLUMN_NAMES, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = max(14, len(name) + 2)
        if name in lists:
            validation = DataValidation(type="list", formula1='"' + ",".join(lists[name]) + '"', allow_blank=True)
            validation.add(f"{letter}2:{letter}{last}")
            sheet.add_data_validation(validation)
        if name in DATE_COLUMNS or name == "site_number" or name == "subject_number":
            # Text cells keep "001" and "2025-03-01" exactly as typed.
            for row in range(2, last + 1):
                sheet.cell(row=row, column=index).number_format = "@"
    notes = book.create_sheet("Instructions")
    notes.append(["Column", "How to fill it"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for name, description in COLUMNS:
        notes.append([name, description])
    notes.append([])
    notes.append(["Study", f"{study.protocol_number} {study.acronym}".strip()])
    notes.append(["Sites", ", ".join(site_numbers) or "(none yet)"])
    notes.append(["Screen-failure codes", "; ".join(f"{c} = {label}" for c, label
                                                     in rules.reason_codes(settings.screen_fail_reasons).items())])
    notes.append(["Withdrawal reasons", "; ".join(f"{c} = {label}" for c, label in WITHDRAWAL_REASONS.items())])
    notes.append(["Dates", "YYYY-MM-DD (or Excel date cells). The header is row 1; problems are reported by row "
                           "and column."])
    notes.column_dimensions["A"].width = 26
    notes.column_dimensions["B"].width = 110
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
