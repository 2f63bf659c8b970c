"""The visits services as the subjects services call them: enrollment plans visits, randomization re-anchors
them, re-consent to a form of a new protocol version moves the subject to the new schedule."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.audit.selectors import audit_chain_verify
from trialdesk.staff.tests.helpers import make_site_pi
from trialdesk.visits.models import SubjectVisit
from trialdesk.visits.tests.test_services import NEW_SCHEDULE


def schedule_of(subject) -> dict[tuple[str, str], tuple[str, dt.date]]:
    return {(v.definition.protocol_version.version_number, v.definition.code): (v.status, v.planned_on)
            for v in SubjectVisit.objects.filter(subject=subject).select_related("definition__protocol_version")}


def test_enroll_randomize_reconsent(admin_user, make_user, study, sites, protocol, make_protocol):
    from trialdesk.sites.services import site_transition
    from trialdesk.studies.services import arm_create
    from trialdesk.subjects import services as subjects

    today = timezone.localdate()
    site = sites[0]
    for status in ("selected", "start_up", "activated"):
        site = site_transition(user=admin_user, site=site, status=status, version=site.version, reason="Ready")
    investigator_user = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, sites=[site])
    make_site_pi(admin_user, site, investigator_user, start=today)  # delegated for consent and eligibility
    investigator = investigator_user.person
    arm = arm_create(user=admin_user, study=study, data={"label": "Active"})
    icf1 = subjects.icf_version_create(user=admin_user, study=study, data={
        "version_number": "1", "version_date": today, "protocol_version": protocol, "irb_approval_date": today})
    icf1 = subjects.icf_version_approve(user=admin_user, icf_version=icf1, version=icf1.version)

    subject = subjects.subject_create(user=admin_user, site=site)
    subjects.consent_record(user=admin_user, subject=subject, icf_version=icf1, consented_on=today, method="paper",
                            obtained_by=investigator)
    subject.refresh_from_db()
    subject = subjects.subject_transition(user=admin_user, subject=subject, status="enrolled", version=subject.version,
                                          reason="Eligible", on=today, eligibility_confirmed_by=investigator)
    assert schedule_of(subject) == {("1.0", "SCR"): ("planned", today), ("1.0", "V1"): ("planned", today)}
    subject.refresh_from_db()
    assert subject.protocol_version_id == protocol.pk

    subjects.subject_randomize(user=admin_user, subject=subject, arm=arm, version=subject.version,
                               randomized_on=today)
    subject.refresh_from_db()
    planned = schedule_of(subject)
    assert planned[("1.0", "V2")] == ("planned", today + dt.timedelta(days=14))
    assert planned[("1.0", "V3")] == ("planned", today + dt.timedelta(days=28))

    amendment = make_protocol("2.0", schedule=NEW_SCHEDULE)
    icf2 = subjects.icf_version_create(user=admin_user, study=study, data={
        "version_number": "2", "version_date": today, "protocol_version": amendment, "irb_approval_date": today})
    icf2 = subjects.icf_version_approve(user=admin_user, icf_version=icf2, version=icf2.version)
    subjects.consent_record(user=admin_user, subject=subject, icf_version=icf2, consented_on=today, method="econsent",
                            obtained_by=investigator)
    subject.refresh_from_db()
    assert subject.protocol_version_id == amendment.pk
    after = schedule_of(subject)
    assert after[("1.0", "SCR")] == ("planned", today) and after[("1.0", "V1")] == ("planned", today)
    assert after[("1.0", "V2")][0] == "cancelled" and after[("1.0", "V3")][0] == "cancelled"
    assert after[("2.0", "V2")] == ("planned", today + dt.timedelta(days=14))
    assert after[("2.0", "V2B")] == ("planned", today + dt.timedelta(days=21))
    assert after[("2.0", "V3")] == ("planned", today + dt.timedelta(days=42))
    assert ("2.0", "V1") not in after   # day 0 of enrollment is not after the re-consent
    assert audit_chain_verify()[1] is None

    # Withdrawal ends the schedule: planned visits after the withdrawal date are cancelled, earlier ones stay.
    subject.refresh_from_db()
    subjects.subject_transition(user=admin_user, subject=subject, status="withdrawn", version=subject.version,
                                reason="Withdrew consent", on=today, withdrawal_reason="withdrew_consent")
    ended = schedule_of(subject)
    assert all(status == "cancelled" for status, on in ended.values() if on > today)
    assert ended[("1.0", "SCR")] == ("planned", today)
    assert not SubjectVisit.objects.filter(subject=subject, status="planned", planned_on__gt=today).exists()
    assert audit_chain_verify()[1] is None
