"""The audit hash chain, as pure functions (no Django), so it can be checked alone.

Each event's hash covers its own content and the previous event's hash; changing,
removing or reordering any stored event breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64

HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_username",
    "actor_name",
    "action",
    "record_type",
    "record_id",
    "record_label",
    "study_id",
    "changes",
    "reason",
    "request_id",
    "channel",
    "ip_address",
    "prev_hash",
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(fields: Mapping[str, Any]) -> str:
    payload = {name: fields.get(name) for name in HASHED_FIELDS}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainFailure:
    seq: int | None
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        return f"audit event seq={self.seq} id={self.event_id}: {self.problem}"


def verify_chain(events: Iterable[Mapping[str, Any]], *, head_seq: int | None = None,
                 head_hash: str | None = None) -> tuple[int, ChainFailure | None]:
    """Walk events in seq order; return (events checked, first failure or None)."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last = None
    for event in events:
        seq = event.get("seq")
        eid = event.get("id")
        if seq != expected_seq:
            return checked, ChainFailure(seq, eid, f"sequence gap: expected seq {expected_seq}, found {seq}")
        if event.get("prev_hash") != expected_prev:
            return checked, ChainFailure(seq, eid, "previous-hash link does not match the preceding event")
        recomputed = event_hash(event)
        if recomputed != event.get("hash"):
            return checked, ChainFailure(seq, eid, "content does not match its stored hash (altered)")
        expected_prev = event["hash"]
        expected_seq += 1
        checked += 1
        last = event
    if head_seq is not None and (last or {}).get("seq", 0) != head_seq:
        return checked, ChainFailure(
            head_seq, None, f"chain head says {head_seq} events but {checked} were found (events removed)"
        )
    if head_hash is not None and expected_prev != head_hash:
        return checked, ChainFailure(head_seq, None, "chain head hash does not match the last event")
    return checked, None
