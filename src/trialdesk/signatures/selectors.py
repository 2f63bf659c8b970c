"""Reading signatures and checking they still match their record."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Model

from trialdesk.audit.services import record_type_of
from trialdesk.signatures.models import Signature
from trialdesk.signatures.services import binding_hash, content_hash


@dataclass(frozen=True)
class SignatureView:
    signature: Signature
    matches: bool           # the record's content is unchanged since signing
    binding_valid: bool     # the signature row itself is intact and belongs to this record

    @property
    def valid(self) -> bool:
        return self.matches and self.binding_valid

    @property
    def status_label(self) -> str:
        if not self.binding_valid:
            return "Invalid signature (does not belong to this record)"
        if not self.matches:
            return "Record changed after signing: signature no longer matches"
        return "Valid"


def signature_check(sig: Signature, record: Model) -> SignatureView:
    rtype = record_type_of(record)
    binding_ok = (
        sig.record_type == rtype
        and sig.record_id == str(record.pk)
        and sig.binding_hash == binding_hash(record_type=sig.record_type, record_id=sig.record_id,
                                             content_hash=sig.content_hash, username=sig.username,
                                             meaning=sig.meaning, signed_at_iso=sig.signed_at.isoformat())
    )
    return SignatureView(signature=sig, matches=binding_ok and sig.content_hash == content_hash(record),
                         binding_valid=binding_ok)


_PREFETCHED = "_trialdesk_signatures"


def signatures_prefetch(records: list[Model]) -> None:
    """Load the signatures of many records of one model in one query; `signatures_for` then reads none.

    For lists (an API page of protocol versions): without it each record costs a query.
    """
    if not records:
        return
    rtype = record_type_of(records[0])
    by_record: dict[str, list[Signature]] = defaultdict(list)
    rows = (Signature.objects.filter(record_type=rtype, record_id__in=[str(r.pk) for r in records])
            .select_related("signer").order_by("signed_at", "id"))
    for sig in rows:
        by_record[sig.record_id].append(sig)
    for record in records:
        setattr(record, _PREFETCHED, by_record.get(str(record.pk), []))


def signatures_for(record: Model) -> list[SignatureView]:
    rows = getattr(record, _PREFETCHED, None)
    if rows is None:
        rows = Signature.objects.filter(record_type=record_type_of(record), record_id=str(record.pk)) \
            .select_related("signer").order_by("signed_at")
    return [signature_check(sig, record) for sig in rows]
