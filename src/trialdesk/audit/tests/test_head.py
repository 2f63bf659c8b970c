"""The chain head: appends continue from the newest event; on PostgreSQL the head row moves once, at commit."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from trialdesk.audit.models import AuditChainHead, AuditEvent
from trialdesk.audit.selectors import audit_chain_verify
from trialdesk.audit.services import audit_event_create


def _append(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        audit_event_create(actor=None, action="create", record_type="tests.thing", record_id=str(i))


@pytest.mark.django_db
def test_many_appends_in_one_transaction_leave_a_verifiable_chain():
    before = AuditChainHead.objects.get(id=1)
    _append(300)
    head = AuditChainHead.objects.get(id=1)
    if connection.vendor == "postgresql":
        # Not touched per append (each UPDATE would leave a row version every later lock walks) ...
        assert (head.seq, head.hash) == (before.seq, before.hash)
    else:
        assert head.seq == before.seq + 300
    # ... yet verification inside the transaction sees the head its commit would leave.
    checked, failure = audit_chain_verify()
    assert failure is None and checked == before.seq + 300
    head.refresh_from_db()
    last = AuditEvent.objects.order_by("-seq").first()
    assert (head.seq, head.hash) == (last.seq, last.hash)
    # Appending after a verification still works and still verifies.
    _append(5, start=300)
    assert audit_chain_verify() == (before.seq + 305, None)


@pytest.mark.django_db
def test_appends_rolled_back_with_a_savepoint_leave_no_gap():
    _append(3)
    with pytest.raises(IntegrityError), transaction.atomic():
        _append(4, start=3)
        raise IntegrityError("the service failed after auditing")
    _append(2, start=10)
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert audit_chain_verify() == (len(seqs), None)


@pytest.mark.django_db
def test_a_head_altered_by_hand_is_not_repaired_by_later_appends():
    from django.db.models import F

    _append(2)
    audit_chain_verify()  # head now at the newest event
    AuditChainHead.objects.filter(id=1).update(seq=F("seq") + 1)
    _append(3, start=2)
    checked, failure = audit_chain_verify()
    assert failure is not None and "events removed" in failure.problem
