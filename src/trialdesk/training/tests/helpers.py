"""Test helpers other areas' tests use too: give a person a protocol-training certificate through the real
training services (training, session, attendance recorded by the trainer, acknowledged by the attendee's own
e-signature)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from conftest import PASSWORD


def attendee_user(person, study):
    """The person's login (made with the test password if they have none) holding training.attend on the study."""
    from trialdesk.accounts import permissions
    from trialdesk.accounts.services import membership_grant, user_create

    user = getattr(person, "user", None)
    if user is None:
        user = user_create(actor=None, username=f"attendee{person.pk}", email=person.email, person=person,
                           password=PASSWORD)
    if not permissions.has_perm(user, "training.attend", study):
        membership_grant(actor=None, user=user, role="site_coordinator", study=study)
        permissions.forget(user)
    return user


def complete_protocol_training(actor, study, person, *, protocol_version=None, validity_months=None,
                               days_ago: int = 1, kind: str = "protocol"):
    """A certificate for `person` on the study's current approved protocol version (or the one given)."""
    from trialdesk.training import services
    from trialdesk.training.selectors import current_protocol_version

    pv = protocol_version or current_protocol_version(study)
    label = f"version {pv.version_number}" if pv else study.protocol_number
    training = services.training_create(user=actor, study=study, data={
        "title": f"Protocol training, {label}", "kind": kind, "protocol_version": pv,
        "validity_months": validity_months})
    training = services.training_transition(user=actor, training=training, status="open", version=training.version,
                                            reason="Sessions scheduled")
    session = services.training_session_create(user=actor, training=training, data={
        "mode": "virtual", "trainer_name": "Tess Trainer", "duration_minutes": 90,
        "starts_at": timezone.now() - dt.timedelta(days=days_ago)})
    attendance = services.attendance_invite(user=actor, session=session, people=[person])[0]
    attendance = services.attendance_record(user=actor, attendance=attendance, status="attended",
                                            version=attendance.version)
    user = attendee_user(person, study)
    services.attendance_acknowledge(user=user, attendance=attendance, password=PASSWORD)
    return training.certificates.get(person=person)
