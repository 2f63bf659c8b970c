"""Plain rules of the training area (no Django): outline shapes, validity dates, who may be certified."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

MAX_ITEMS = 100
MAX_TEXT = 500


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def valid_until(training_date: dt.date, validity_months: int | None) -> dt.date | None:
    """Last day a certificate is valid: the day before the same date `validity_months` later."""
    if not validity_months:
        return None
    return add_months(training_date, validity_months) - dt.timedelta(days=1)


def _text_list(value: Any, field: str, errors: dict[str, list[str]], *, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.setdefault(field, []).append(f"{what} must be a list of texts.")
        return []
    items = [v.strip() for v in value]
    if any(not v for v in items):
        errors.setdefault(field, []).append(f"{what} cannot contain empty entries.")
    if any(len(v) > MAX_TEXT for v in items):
        errors.setdefault(field, []).append(f"Each entry of {what.lower()} is at most {MAX_TEXT} characters.")
    if len(items) > MAX_ITEMS:
        errors.setdefault(field, []).append(f"{what} has at most {MAX_ITEMS} entries.")
    return items


def checklist_items(value: Any) -> tuple[list[str], dict[str, list[str]]]:
    """A template's checklist (list of texts), cleaned, and field errors."""
    errors: dict[str, list[str]] = {}
    items = _text_list(value, "checklist", errors, what="The checklist")
    return items, errors


def agenda(value: Any) -> tuple[list[dict], dict[str, list[str]]]:
    """An agenda: [{"topic": str, "items": [str]}], cleaned, and field errors."""
    errors: dict[str, list[str]] = {}
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        return [], {"agenda": ['The agenda must be a list of {"topic": ..., "items": [...]} entries.']}
    out = []
    for n, entry in enumerate(value, start=1):
        unknown = set(entry) - {"topic", "items"}
        if unknown:
            errors.setdefault("agenda", []).append(f"Agenda topic {n}: unknown keys {sorted(unknown)}.")
        topic = entry.get("topic")
        if not isinstance(topic, str) or not topic.strip():
            errors.setdefault("agenda", []).append(f"Agenda topic {n} needs a title.")
            topic = ""
        elif len(topic) > MAX_TEXT:
            errors.setdefault("agenda", []).append(f"Agenda topic {n}: the title is at most {MAX_TEXT} characters.")
        items = _text_list(entry.get("items", []), "agenda", errors, what=f"Agenda topic {n}'s items")
        out.append({"topic": topic.strip(), "items": items})
    if len(out) > MAX_ITEMS:
        errors.setdefault("agenda", []).append(f"The agenda has at most {MAX_ITEMS} topics.")
    return out, errors


def checklist_from_items(items: list[str], previous: list[dict] | None = None) -> list[dict]:
    """A training's checklist state from item texts, keeping the ticks of items that stay the same."""
    done = {row.get("item"): row for row in (previous or []) if isinstance(row, dict)}
    return [dict(done[item]) if item in done else {"item": item, "done": False, "done_by": "", "done_at": None}
            for item in items]


def agenda_text(entries: list[dict]) -> str:
    """The agenda as editable text: one topic per line, its items indented below with "- "."""
    lines = []
    for entry in entries or []:
        lines.append(entry.get("topic", ""))
        lines.extend(f"  - {item}" for item in entry.get("items", []))
    return "\n".join(lines)


def agenda_from_text(text: str) -> list[dict]:
    """Parse `agenda_text` back: unindented lines are topics, lines starting with "-" are its items."""
    out: list[dict] = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(("-", "*", "•")):
            item = line.lstrip("-*• ").strip()
            if not out:
                out.append({"topic": "General", "items": []})
            if item:
                out[-1]["items"].append(item)
        else:
            out.append({"topic": line, "items": []})
    return out


def lines(text: str) -> list[str]:
    """Non-empty lines of a textarea (checklists, quiz options)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]
