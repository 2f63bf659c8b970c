"""The iCalendar writer: CRLF, folding at 75 octets, TEXT escaping, all-day DATE values."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialdesk.visits import ics

STAMP = dt.datetime(2025, 3, 1, 12, 30, 5, tzinfo=dt.UTC)


def unfold(text: str) -> list[str]:
    """Content lines of an iCalendar text (RFC 5545 3.1): CRLF followed by one space or tab continues a line."""
    assert text.endswith("\r\n")
    return re.sub(r"\r\n[ \t]", "", text).split("\r\n")[:-1]


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def props(lines: list[str]) -> list[tuple[str, str, str]]:
    """(name, parameters, value) per line; the value starts after the first unquoted colon."""
    out = []
    for line in lines:
        head, _, value = line.partition(":")
        name, _, params = head.partition(";")
        out.append((name, params, value))
    return out


def test_escape_text():
    assert ics.escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    assert ics.escape_text("one\r\ntwo\rthree") == "one\\ntwo\\nthree"
    assert ics.escape_text("bell\x07 and nul\x00 dropped\ttab kept") == "bell and nul dropped\ttab kept"


def test_short_lines_are_not_folded():
    assert ics.fold("SUMMARY:short") == "SUMMARY:short"
    line = "X" * 75
    assert ics.fold(line) == line


def test_fold_at_75_octets_with_leading_space():
    line = "DESCRIPTION:" + "x" * 200
    folded = ics.fold(line)
    parts = folded.split("\r\n")
    assert len(parts[0].encode()) == 75
    assert all(p.startswith(" ") and len(p.encode()) <= 75 for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == line


def test_fold_never_splits_a_multibyte_character():
    line = "SUMMARY:" + "é—漢🙂" * 40
    folded = ics.fold(line)
    for part in folded.split("\r\n"):
        assert len(part.encode("utf-8")) <= 75
        part.encode("utf-8").decode("utf-8")  # each physical line is valid UTF-8 on its own
    assert unfold(folded + "\r\n") == [line]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_fold_roundtrip_any_text(text):
    line = "DESCRIPTION:" + ics.escape_text(text)
    folded = ics.fold(line)
    assert all(len(p.encode("utf-8")) <= 75 for p in folded.split("\r\n"))
    assert unfold(folded + "\r\n") == [line]


def test_calendar_document():
    events = [
        ics.Event(uid="visit-1@trialdesk", dtstamp=STAMP, start=dt.date(2025, 3, 29),
                  summary="V3 Week 4 — subject 101-007 (site 101)",
                  description="Window: 2025-03-27 to 2025-04-03\nModality: Home visit; nurse, bring kit",
                  categories=("Home visit",), sequence=2, status="CONFIRMED"),
        ics.Event(uid="visit-2@trialdesk", dtstamp=STAMP.astimezone(dt.timezone(dt.timedelta(hours=2))),
                  start=dt.date(2025, 12, 31), summary="Long " + "ü" * 100),
    ]
    text = ics.calendar(events, prodid="-//Trialdesk//Visit calendar//EN", name="Site 101, visits")
    raw = text.encode("utf-8")
    assert b"\n" not in raw.replace(b"\r\n", b"")          # every line ends with CRLF
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert "X-WR-CALNAME:Site 101\\, visits" in lines
    parsed = props(lines)
    assert [p[0] for p in parsed].count("BEGIN") == 3 and [p[0] for p in parsed].count("END") == 3
    first = parsed[parsed.index(("BEGIN", "", "VEVENT")):]
    by_name = {}
    for name, params, value in first[:first.index(("END", "", "VEVENT")) + 1]:
        by_name[name] = (params, value)
    assert by_name["UID"] == ("", "visit-1@trialdesk")
    assert by_name["DTSTART"] == ("VALUE=DATE", "20250329")
    assert by_name["DTEND"] == ("VALUE=DATE", "20250330")      # all-day: exclusive end the next day
    assert by_name["DTSTAMP"] == ("", "20250301T123005Z")
    assert by_name["SEQUENCE"] == ("", "2")
    assert unescape(by_name["SUMMARY"][1]) == "V3 Week 4 — subject 101-007 (site 101)"
    assert by_name["DESCRIPTION"][1] == ("Window: 2025-03-27 to 2025-04-03\\nModality: Home visit\\; nurse\\, "
                                         "bring kit")
    assert unescape(by_name["DESCRIPTION"][1]) == events[0].description
    # A non-UTC stamp is converted to UTC.
    assert "DTSTAMP:20250301T123005Z" in lines[lines.index("UID:visit-2@trialdesk"):]
    assert "DTEND;VALUE=DATE:20260101" in lines


def test_naive_stamp_refused():
    event = ics.Event(uid="x", dtstamp=dt.datetime(2025, 1, 1), start=dt.date(2025, 1, 1), summary="x")
    with pytest.raises(ValueError):
        ics.calendar([event], prodid="p")
