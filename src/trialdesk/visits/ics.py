"""A minimal iCalendar (RFC 5545) writer for all-day events. Pure Python, no Django.

Covers what calendar feeds of visits need: TEXT escaping (3.3.11), content-line folding at 75 octets
(3.1), CRLF line ends, DATE values for all-day events and UTC DATE-TIME stamps.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

CRLF = "\r\n"
MAX_OCTETS = 75
# TEXT may not hold control characters other than the escaped line break (RFC 5545 3.3.11 TSAFE-CHAR).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Event:
    uid: str
    dtstamp: dt.datetime            # when the information was last revised (UTC)
    start: dt.date                  # all-day event: DTSTART;VALUE=DATE
    summary: str
    end: dt.date | None = None      # exclusive; defaults to the day after start
    description: str = ""
    location: str = ""
    categories: tuple[str, ...] = ()
    sequence: int = 0
    status: str = ""                # TENTATIVE | CONFIRMED | CANCELLED


def escape_text(value: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and line breaks; drop other control characters."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n"))


def fold(line: str) -> str:
    """Fold one content line into chunks of at most 75 octets (UTF-8), never splitting a character.

    Continuation lines start with a single space, which counts towards their 75 octets.
    """
    chunks: list[str] = []
    current, size, limit = [], 0, MAX_OCTETS
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            chunks.append("".join(current))
            current, size, limit = [], 0, MAX_OCTETS - 1
        current.append(ch)
        size += width
    chunks.append("".join(current))
    return (CRLF + " ").join(chunks)


def _utc_stamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("DTSTAMP needs an aware datetime.")
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def _event_lines(event: Event) -> list[str]:
    end = event.end or (event.start + dt.timedelta(days=1))
    lines = [
        "BEGIN:VEVENT",
        f"UID:{escape_text(event.uid)}",
        f"DTSTAMP:{_utc_stamp(event.dtstamp)}",
        f"LAST-MODIFIED:{_utc_stamp(event.dtstamp)}",
        f"DTSTART;VALUE=DATE:{_date(event.start)}",
        f"DTEND;VALUE=DATE:{_date(end)}",
        f"SEQUENCE:{int(event.sequence)}",
        f"SUMMARY:{escape_text(event.summary)}",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.location:
        lines.append(f"LOCATION:{escape_text(event.location)}")
    if event.categories:
        lines.append("CATEGORIES:" + ",".join(escape_text(c) for c in event.categories))
    if event.status:
        lines.append(f"STATUS:{event.status}")
    lines += ["TRANSP:TRANSPARENT", "END:VEVENT"]
    return lines


def calendar(events: Iterable[Event], *, prodid: str, name: str = "", refresh_hours: int = 1) -> str:
    """A complete VCALENDAR as text: every content line folded and ended with CRLF (encode as UTF-8)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{escape_text(prodid)}", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH"]
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
        lines.append(f"NAME:{escape_text(name)}")  # RFC 7986
    lines.append(f"REFRESH-INTERVAL;VALUE=DURATION:PT{int(refresh_hours)}H")
    lines.append(f"X-PUBLISHED-TTL:PT{int(refresh_hours)}H")
    for event in events:
        lines += _event_lines(event)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines)
