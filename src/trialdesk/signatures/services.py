"""The signature service: re-authenticate, bind to a record's content, audit.

Later features (monitoring reports, document approval, delegation log) sign
through `signature_create`, giving any model with a `signature_content()` method.
"""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from trialdesk.audit.chain import canonical_json
from trialdesk.audit.services import Action, audit_event_create, record_type_of
from trialdesk.core.errors import AccessDenied, ValidationFailed
from trialdesk.signatures.models import Signature

MEANINGS = dict(Signature.Meaning.choices)


def content_hash(record: Model) -> str:
    """SHA-256 of the record's type, id and signable content."""
    payload = {"type": record_type_of(record), "id": str(record.pk), "content": record.signature_content()}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def binding_hash(*, record_type: str, record_id: str, content_hash: str, username: str, meaning: str,
                 signed_at_iso: str) -> str:
    payload = [record_type, record_id, content_hash, username, meaning, signed_at_iso]
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def signature_create(*, user, password: str, record: Model, meaning: str, comment: str = "",
                     study_id: int | None = None) -> Signature:
    """Sign `record`. The password is checked every time (11.200(a)(1)); failures are audited.

    Runs the check outside the atomic block so a failed attempt's audit event is kept.
    """
    if meaning not in MEANINGS:
        raise ValidationFailed.field("meaning", f"Meaning must be one of: {', '.join(MEANINGS)}.")
    if user is None or not user.is_authenticated or not user.is_active:
        raise AccessDenied("Only an active, logged-in user can sign.")
    if not password or not user.check_password(password):
        audit_event_create(actor=user, action=Action.SIGNATURE_FAILED, record=record,
                           changes={"meaning": meaning}, reason="Wrong password at signature")
        raise ValidationFailed.field("password", "The password is not correct. The record was not signed.")
    return _signature_store(user=user, record=record, meaning=meaning, comment=comment, study_id=study_id)


@transaction.atomic
def _signature_store(*, user, record: Model, meaning: str, comment: str, study_id: int | None) -> Signature:
    signed_at = timezone.now()
    digest = content_hash(record)
    rtype = record_type_of(record)
    sig = Signature(
        signer=user,
        printed_name=user.display_name,
        username=user.get_username(),
        meaning=meaning,
        signed_at=signed_at,
        record_type=rtype,
        record_id=str(record.pk),
        study_id=study_id if study_id is not None else getattr(record, "audit_study_id", None),
        content_hash=digest,
        binding_hash=binding_hash(record_type=rtype, record_id=str(record.pk), content_hash=digest,
                                  username=user.get_username(), meaning=meaning,
                                  signed_at_iso=signed_at.isoformat()),
        comment=(comment or "").strip(),
    )
    sig.save()
    audit_event_create(
        actor=user, action=Action.SIGN, record=record,
        changes={"signature_id": [None, sig.pk], "meaning": [None, meaning], "content_hash": [None, digest]},
        reason=sig.comment,
    )
    return sig
