"""Pure rules of the screening log (no Django): subject number patterns, status paths, consent-form scope.

Shared by the services (one subject at a time) and the bulk import (a whole file), so both apply
exactly the same rules.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Iterable
from typing import Any

from trialdesk.subjects.lifecycle import STATUS_DATE_FIELD, SUBJECT_STATUSES, SUBJECT_TRANSITIONS

PLACEHOLDERS = ("site", "seq", "study")
# Subjects may be entered in one of these; consent and later steps are recorded as events afterwards.
ENTRY_STATUSES = ("pre_screened", "screened")
# Enrollment is possible only at a site in one of these statuses.
ENROLLING_SITE_STATUSES = frozenset({"activated", "enrolling"})
REASON_CODE_RE = re.compile(r"^[a-z0-9_]{1,40}$")

# The usual order of the screening log, used to tell "dates out of order" apart from "step not allowed".
# Consent and screening may come in either order (same rank).
STATUS_RANK = {"pre_screened": 0, "screened": 1, "consented": 1, "screen_failed": 2, "enrolled": 3,
               "randomized": 4, "active": 5, "lost_to_follow_up": 6, "completed": 7, "withdrawn": 7}


# --- Subject numbers ----------------------------------------------------------------------------------

def _fields(pattern: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return list(string.Formatter().parse(pattern))


def id_pattern_errors(pattern: str, *, site_number: str = "101", protocol_number: str = "PROTO-1") -> list[str]:
    """What is wrong with a subject number pattern (empty list: usable)."""
    if not pattern or not pattern.strip():
        return ["The pattern is empty."]
    try:
        fields = _fields(pattern)
    except ValueError as exc:
        return [f"The pattern is not valid ({exc}); write placeholders as {{site}}, {{seq}} or {{seq:03d}}, "
                "and a literal brace as {{ or }}."]
    errors: list[str] = []
    names = [name for _, name, _, _ in fields if name is not None]
    for _, name, _spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            errors.append(f"Unknown placeholder {{{name}}}: use {{site}}, {{seq}} and {{study}}.")
        elif conversion:
            errors.append(f"Conversions such as !{conversion} are not allowed in {{{name}}}.")
    if "seq" not in names:
        errors.append("The pattern must contain {seq} (the per-site sequence number), e.g. {seq:03d}.")
    if "site" not in names:
        errors.append("The pattern must contain {site}: the sequence restarts at every site, so without the "
                      "site number two sites would produce the same subject number.")
    if errors:
        return errors
    try:
        longest = pattern.format(site=site_number, seq=99999, study=protocol_number)
        pattern.format(site=site_number, seq=1, study=protocol_number)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        return [f"A format in the pattern does not fit its value ({exc}); {{seq}} is a number "
                "(e.g. {seq:04d}), {site} and {study} are text."]
    if len(longest) > 60:
        errors.append(f"Subject numbers from this pattern can be longer than 60 characters ({longest!r}).")
    return errors


def format_subject_number(pattern: str, *, site_number: str, seq: int, protocol_number: str) -> str:
    return pattern.format(site=site_number, seq=seq, study=protocol_number)


def subject_number_regex(pattern: str, *, site_number: str, protocol_number: str) -> re.Pattern | None:
    """A regex that matches numbers the pattern makes for this site, capturing the sequence; None if unusable."""
    try:
        parts = []
        seen_seq = False
        for literal, name, spec, _ in _fields(pattern):
            parts.append(re.escape(literal))
            if name is None:
                continue
            if name == "seq":
                parts.append(r" *(?P=seq)" if seen_seq else r" *(?P<seq>\d+)")
                seen_seq = True
            elif name == "site":
                parts.append(re.escape(format(site_number, spec or "")))
            elif name == "study":
                parts.append(re.escape(format(protocol_number, spec or "")))
            else:
                return None
        return re.compile("".join(parts) + r"\Z") if seen_seq else None
    except (ValueError, TypeError):
        return None


def sequence_in_number(number: str, regex: re.Pattern | None) -> int | None:
    """The sequence a pattern-made number carries (so numbering continues after it), else None."""
    if regex is None:
        return None
    match = regex.match(number)
    return int(match.group("seq")) if match else None


# --- Screen-fail reasons ---------------------------------------------------------------------------------

def screen_fail_reason_errors(reasons: Any) -> list[str]:
    if not isinstance(reasons, list) or not reasons:
        return ["Give at least one screen-failure reason."]
    errors = []
    seen: set[str] = set()
    for i, item in enumerate(reasons, start=1):
        if not isinstance(item, dict):
            errors.append(f"Reason {i} must have a code and a label.")
            continue
        code = str(item.get("code", "")).strip()
        label = str(item.get("label", "")).strip()
        if not REASON_CODE_RE.match(code):
            errors.append(f"Reason {i}: the code {code!r} must be 1-40 lower-case letters, digits or underscores.")
        elif code in seen:
            errors.append(f"Reason {i}: the code {code!r} is used twice.")
        seen.add(code)
        if not label or len(label) > 200:
            errors.append(f"Reason {i} ({code or 'no code'}): the label must be 1-200 characters.")
    return errors


def reason_codes(reasons: Iterable[dict]) -> dict[str, str]:
    return {str(r.get("code")): str(r.get("label") or r.get("code")) for r in reasons if isinstance(r, dict)}


# --- Status paths -----------------------------------------------------------------------------------------

def status_label(status: str) -> str:
    return SUBJECT_STATUSES.get(status, status)


def allowed_next(status: str) -> frozenset[str]:
    return SUBJECT_TRANSITIONS.get(status, frozenset())


def recorded_dates(values: dict[str, dt.date | None]) -> list[tuple[str, dt.date]]:
    """(status, date) for every status whose date field is set, in time order (lifecycle order on ties)."""
    events = [(status, values[field]) for status, field in STATUS_DATE_FIELD.items() if values.get(field)]
    return sorted(events, key=lambda e: (e[1], STATUS_RANK[e[0]]))


def path_problems(values: dict[str, dt.date | None], final_status: str) -> list[tuple[str, str]]:
    """Check that the recorded status dates form an allowed path ending in final_status.

    values: {date field: date or None}. Returns (date field or "status", message) problems.
    """
    problems: list[tuple[str, str]] = []
    events = recorded_dates(values)
    present = dict(events)
    # Dates out of the usual order (e.g. enrolled before consented) are reported as such.
    for a, date_a in events:
        for b, date_b in events:
            if STATUS_RANK[a] < STATUS_RANK[b] and date_b < date_a:
                problems.append((STATUS_DATE_FIELD[b],
                                 f"{status_label(b)} on {date_b} is before {status_label(a)} on {date_a} "
                                 f"({STATUS_DATE_FIELD[a]})."))
    if problems:
        return problems
    if final_status in STATUS_DATE_FIELD and final_status not in present:
        problems.append((STATUS_DATE_FIELD[final_status],
                         f"The date of the status {status_label(final_status)} is required."))
        return problems
    if not events:
        return problems
    first = events[0][0]
    if first not in ENTRY_STATUSES and first not in allowed_next("pre_screened"):
        problems.append((STATUS_DATE_FIELD[first],
                         f"A subject cannot start the screening log as {status_label(first)}: record the "
                         "screening or consent date first."))
        return problems
    previous = first
    for status, _date in events[1:]:
        if status not in allowed_next(previous):
            options = ", ".join(status_label(s) for s in sorted(allowed_next(previous))) or "none (final status)"
            problems.append((STATUS_DATE_FIELD[status],
                             f"A subject cannot go from {status_label(previous)} to {status_label(status)} "
                             f"(allowed next: {options})."))
            return problems
        previous = status
    if previous != final_status:
        latest = f"{STATUS_DATE_FIELD[previous]} ({status_label(previous)}, {present[previous]})"
        problems.append(("status", f"The status {status_label(final_status)} does not match the dates: the latest "
                                   f"is {latest}."))
    return problems


# --- Consent form scope ---------------------------------------------------------------------------------

def icf_scope_label(icf) -> str:
    if icf.site_id:
        return f"site {icf.site.site_number}"
    if icf.country:
        return icf.country
    return "all sites"


def icf_applies(icf, site) -> bool:
    """A site-specific form applies to its site, a country form to that country's sites, others everywhere."""
    if icf.site_id:
        return icf.site_id == site.pk
    if icf.country:
        return icf.country.strip().casefold() == (site.country or "").strip().casefold()
    return True


def icf_specificity(icf) -> int:
    return 2 if icf.site_id else (1 if icf.country else 0)


def current_icf(site, approved: Iterable) -> Any | None:
    """The consent form that applies at a site: the most specific approved one, the newest on ties."""
    candidates = [icf for icf in approved if icf.status == "approved" and icf_applies(icf, site)]
    if not candidates:
        return None
    return max(candidates, key=lambda i: (icf_specificity(i), i.version_date, i.pk))
