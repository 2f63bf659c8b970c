"""Partial dates as registries publish them: "2015", "2015-09" or "2015-09-15"."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError

_PATTERN = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_partial_date(text: str) -> tuple[int, int | None, int | None]:
    match = _PATTERN.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = (int(g) if g else None for g in match.groups())
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"{text!r} has an invalid month")
    if day is not None:
        dt.date(year, month, day)  # raises ValueError on 2015-02-30
    return year, month, day


def is_full_date(text: str) -> bool:
    return bool(text) and len(text) == 10


def validate_partial_date(value: str) -> None:
    if not value:
        return
    try:
        parse_partial_date(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
