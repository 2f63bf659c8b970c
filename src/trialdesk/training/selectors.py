"""Reads for training. Lists are limited to what the user may see; `protocol_training_gap` is a rule read."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from trialdesk.studies.models import ProtocolVersion
from trialdesk.training.models import PROTOCOL_KINDS, Certificate

# --- Rules other areas read -----------------------------------------------------------------------


def current_protocol_version(study) -> ProtocolVersion | None:
    """The study's approved protocol version (the latest approved one, should there be several)."""
    return (ProtocolVersion.objects.filter(study_id=study.pk, status="approved")
            .order_by("-approved_at", "-version_date", "-id").first())


def _valid_on(on: dt.date) -> Q:
    return Q(revoked_at__isnull=True) & (Q(valid_until__isnull=True) | Q(valid_until__gte=on))


def protocol_training_gap(person, study, on: dt.date | None = None) -> str | None:
    """None when `person` holds a certificate, valid on `on`, for protocol training (or retraining) on the
    study's current approved protocol version; otherwise a message naming exactly what is missing.

    A study without an approved protocol version: any valid protocol-training certificate of the study counts.
    The certificate's date is not compared with `on` (a delegation may be recorded after the fact); its expiry is.
    """
    on = on or timezone.localdate()
    pv = current_protocol_version(study)
    label = f"Protocol training for {study.protocol_number}"
    if pv is not None:
        label += f" protocol version {pv.version_number}"
    if person is None:
        return f"{label} is not complete: no person is recorded."
    certs = Certificate.objects.filter(person_id=person.pk, study_id=study.pk, training_kind__in=PROTOCOL_KINDS)
    if pv is not None:
        certs = certs.filter(protocol_version_id=pv.pk)
    if certs.filter(_valid_on(on)).exists():
        return None
    expired = certs.filter(revoked_at__isnull=True, valid_until__lt=on).order_by("-valid_until").first()
    if expired is not None:
        return f"{label} expired on {expired.valid_until.isoformat()} (certificate {expired.number})."
    if pv is not None:
        older = (Certificate.objects.filter(person_id=person.pk, study_id=study.pk, training_kind__in=PROTOCOL_KINDS,
                                            revoked_at__isnull=True)
                 .exclude(protocol_version_id=pv.pk).exclude(protocol_version_label="")
                 .order_by("-training_date").first())
        if older is not None:
            return (f"{label} is not complete (last completed: protocol version "
                    f"{older.protocol_version_label}).")
    return f"{label} is not complete."
