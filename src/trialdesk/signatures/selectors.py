"""Reading signatures and checking they still match their record."""

from __future__ import annotations

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


def signatures_for(record: Model) -> list[SignatureView]:
    rows = Signature.objects.filter(record_type=record_type_of(record), record_id=str(record.pk)) \
        .select_related("signer").order_by("signed_at")
    return [signature_check(sig, record) for sig in rows]
