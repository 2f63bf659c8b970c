"""The reminder e-mail's text and the digest recorded for it (pure, no Django)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence

from trialdesk.workqueue.items import WorkItem

HEADINGS = {"overdue": "Overdue", "due": "Due", "upcoming": "Upcoming", "info": "For information"}


def items_digest(items: Sequence[WorkItem]) -> str:
    """SHA-256 over what the e-mail listed (key or kind, severity, due date, title of each item, in order)."""
    rows = [[i.key or i.kind, i.severity, i.due_date.isoformat() if i.due_date else None, i.title] for i in items]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def _link(base_url: str, path: str) -> str:
    if not path:
        return ""
    if path.startswith(("http://", "https://")) or not base_url:
        return path
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def _count(n: int, word: str) -> str:
    return f"{n} {word}"


def reminder_subject(items: Sequence[WorkItem], today: dt.date, *, prefix: str = "") -> str:
    overdue = sum(1 for i in items if i.severity == "overdue")
    due = sum(1 for i in items if i.severity == "due")
    parts = [p for p in (_count(overdue, "overdue") if overdue else "", _count(due, "due") if due else "") if p]
    noun = "item" if len(items) == 1 else "items"
    return f"{prefix}Your work for {today.isoformat()}: {' and '.join(parts) or 'no'} {noun}"


def reminder_body(items: Sequence[WorkItem], today: dt.date, *, name: str, base_url: str = "",
                  my_work_path: str = "/my-work/", notices: Sequence[str] = ()) -> str:
    """Plain text: a greeting, the items grouped by severity (each with study, site, due date, detail and
    link), notices about areas that could not be loaded, and where to see everything."""
    lines = [f"Hello {name},", "", f"These Trialdesk items need your attention as of {today.isoformat()}:"]
    for severity, heading in HEADINGS.items():
        group = [i for i in items if i.severity == severity]
        if not group:
            continue
        lines += ["", f"{heading} ({len(group)})", "-" * (len(heading) + len(str(len(group))) + 3)]
        for item in group:
            where = " · ".join(p for p in (item.study_label, f"site {item.site_label}" if item.site_label else "")
                               if p)
            lines.append(f"* {item.title}" + (f" [{where}]" if where else ""))
            if item.due_date:
                lines.append(f"  Due {item.due_date.isoformat()}")
            if item.detail:
                lines.append(f"  {item.detail}")
            link = _link(base_url, item.url)
            if link:
                lines.append(f"  {link}")
    if notices:
        lines += ["", "Note: this list may be incomplete."] + [f"  {n}" for n in notices]
    lines += ["", f"Everything on your list, including upcoming items: {_link(base_url, my_work_path)}", "",
              "You receive this e-mail once a day while items are due or overdue.", "-- ", "Trialdesk"]
    return "\n".join(lines) + "\n"
