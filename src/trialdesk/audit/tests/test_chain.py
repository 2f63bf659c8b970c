"""The hash chain as pure functions: any edit, removal or reordering is detected."""

from trialdesk.audit.chain import GENESIS_HASH, event_hash, verify_chain


def _chain(n: int) -> list[dict]:
    events, prev = [], GENESIS_HASH
    for i in range(1, n + 1):
        ev = {"id": i, "seq": i, "occurred_at": f"2026-01-01T00:00:{i:02d}+00:00", "actor_id": 1,
              "actor_username": "cpm", "actor_name": "Dr. Ada Lovelace", "action": "update",
              "record_type": "studies.study", "record_id": "7", "record_label": "S-1", "study_id": 7,
              "changes": {"acronym": ["OLD", f"NEW{i}"]}, "reason": "typo", "request_id": f"r{i}",
              "channel": "web", "ip_address": "127.0.0.1", "prev_hash": prev}
        ev["hash"] = event_hash(ev)
        prev = ev["hash"]
        events.append(ev)
    return events


def test_intact_chain_verifies():
    events = _chain(5)
    assert verify_chain(events, head_seq=5, head_hash=events[-1]["hash"]) == (5, None)


def test_empty_chain_verifies():
    assert verify_chain([], head_seq=0, head_hash=GENESIS_HASH) == (0, None)


def test_altered_field_is_named():
    events = _chain(5)
    events[2]["reason"] = "covered up"
    checked, failure = verify_chain(events)
    assert checked == 2
    assert failure.seq == 3 and "altered" in failure.problem


def test_altered_changes_value_detected_even_with_key_order_changes():
    events = _chain(3)
    events[1]["changes"] = {"acronym": ["OLD", "FORGED"]}
    assert verify_chain(events)[1].seq == 2


def test_rehashed_forgery_breaks_the_next_link():
    events = _chain(4)
    events[1]["reason"] = "forged"
    events[1]["hash"] = event_hash(events[1])  # forger recomputes this hash but not the rest
    checked, failure = verify_chain(events)
    assert failure.seq == 3 and "previous-hash" in failure.problem


def test_removed_event_is_a_gap():
    events = _chain(4)
    del events[1]
    assert "sequence gap" in verify_chain(events)[1].problem


def test_truncated_tail_detected_by_head():
    events = _chain(4)
    checked, failure = verify_chain(events[:3], head_seq=4, head_hash=events[-1]["hash"])
    assert checked == 3 and "removed" in failure.problem
