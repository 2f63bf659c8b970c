"""Keyset ("seek") pagination: the next page is the rows after the last row shown, found through an index.

OFFSET pagination reads and throws away every row before the page, so the 1,000th page of a long list costs
a thousand pages of work. A keyset page filters on the ordering key instead,
`WHERE (study_id, subject_number) > (12, '104-017') ORDER BY study_id, subject_number LIMIT 50`, which the
database answers with one range scan of the matching index however deep the page is.

The key columns must identify a row (a unique index): otherwise rows sharing a key would be skipped.

A cursor is an opaque URL-safe string naming a key, the direction (the rows after it, or the rows before it
for "previous") and the position of the page's first row in the list (display only: "51-100 of 4,210").
Garbage cursors are a ValidationFailed on the `cursor` field (422), never a database error.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan, TupleLookupMixin

from trialdesk.core.errors import ValidationFailed

MAX_CURSOR_LENGTH = 500


class _RowValue:
    """Compare as a row value, `(a, b) > (x, y)`, on every backend. Django spells it out as
    `a > x OR (a = x AND b > y)` where it thinks row values are unsupported (SQLite), which SQLite then
    cannot answer from the index; SQLite has supported row values, with index range scans, since 3.15."""

    def as_sql(self, compiler, connection):
        return super(TupleLookupMixin, self).as_sql(compiler, connection)


class RowAfter(_RowValue, TupleGreaterThan):
    pass


class RowBefore(_RowValue, TupleLessThan):
    pass


@dataclass
class Cursor:
    key: tuple
    before: bool        # True: the rows before `key` (a "previous" link)
    position: int       # 0-based index in the list of the first row this cursor leads to


def encode_cursor(key: tuple, *, before: bool = False, position: int = 0) -> str:
    raw = json.dumps({"k": list(key), "b": int(before), "p": max(0, int(position))}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str, size: int) -> Cursor:
    """The cursor's contents; ValidationFailed for anything this module did not produce."""
    invalid = ValidationFailed.field("cursor", "Invalid cursor: use the next/previous cursor of a page.")
    if not value or len(value) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(data, dict):
        raise invalid
    key, before, position = data.get("k"), data.get("b", 0), data.get("p", 0)
    if (not isinstance(key, list) or len(key) != size
            or any(isinstance(v, bool) or not isinstance(v, int | str) for v in key)
            or any(isinstance(v, int) and not -2**63 <= v < 2**63 for v in key)
            or any(isinstance(v, str) and "\x00" in v for v in key)
            or before not in (0, 1) or not isinstance(position, int) or not 0 <= position < 2**31):
        raise invalid
    return Cursor(key=tuple(key), before=bool(before), position=position)


@dataclass
class KeysetPage:
    """One page of a keyset-paginated list. Mirrors the bits of Django's Page the templates use."""

    items: list
    limit: int
    position: int                 # 0-based index of items[0] in the whole list
    next_cursor: str | None
    previous_cursor: str | None
    count: int | None = None      # rows in the whole list, when the caller knows it

    @property
    def object_list(self) -> list:
        return self.items

    def start_index(self) -> int:
        return self.position + 1 if self.items else 0

    def end_index(self) -> int:
        return self.position + len(self.items)

    def has_next(self) -> bool:
        return self.next_cursor is not None

    def has_previous(self) -> bool:
        return self.previous_cursor is not None

    @property
    def number(self) -> int:
        return self.position // self.limit + 1

    @property
    def num_pages(self) -> int | None:
        if self.count is None:
            return None
        return max(1, -(-self.count // self.limit))


def _key(obj: Any, fields: list[str]) -> tuple:
    return tuple(getattr(obj, name) for name in fields)


def keyset_page(qs: QuerySet, fields: list[str], *, cursor: str | None, limit: int,
                count: int | None = None) -> KeysetPage:
    """The page of `qs` (any filters, no ordering needed) after/before `cursor`, ordered by `fields` (ascending
    model field names whose values identify a row). One query; `count` is passed through for display."""
    expr = Tuple(*(F(name) for name in fields))
    limit = max(1, int(limit))
    if cursor:
        cur = decode_cursor(cursor, len(fields))
    else:
        cur = None
    if cur is not None and cur.before:
        rows = list(qs.filter(RowBefore(expr, list(cur.key))).order_by(*(f"-{n}" for n in fields))[: limit + 1])
        more_before = len(rows) > limit
        rows = rows[:limit][::-1]
        position = max(cur.position - len(rows), 0) if more_before else 0
        next_cursor = encode_cursor(_key(rows[-1], fields), position=position + len(rows)) if rows else \
            encode_cursor(cur.key, position=0)
        previous_cursor = encode_cursor(_key(rows[0], fields), before=True, position=position) \
            if more_before else None
        return KeysetPage(items=rows, limit=limit, position=position, next_cursor=next_cursor,
                          previous_cursor=previous_cursor, count=count)
    page_qs = qs.order_by(*fields)
    if cur is not None:
        page_qs = page_qs.filter(RowAfter(expr, list(cur.key)))
    rows = list(page_qs[: limit + 1])
    position = cur.position if cur is not None else 0
    more_after = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(_key(rows[-1], fields), position=position + len(rows)) if more_after else None
    previous_cursor = None
    if cur is not None and (position > 0 or rows):
        anchor = _key(rows[0], fields) if rows else cur.key
        previous_cursor = encode_cursor(anchor, before=True, position=position)
    return KeysetPage(items=rows, limit=limit, position=position, next_cursor=next_cursor,
                      previous_cursor=previous_cursor, count=count)
