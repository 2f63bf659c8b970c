from __future__ import annotations

from typing import Any

from django.db import transaction

from trialdesk.accounts import permissions
from trialdesk.core.crud import editable_fields, record_create, record_soft_delete, record_update
from trialdesk.organizations.models import Organization, Person

ORG_FIELDS = editable_fields(Organization, exclude={"match_key"})
PERSON_FIELDS = editable_fields(Person)


def organization_match_key(name: str, city: str = "", state: str = "", country: str = "") -> str:
    return "|".join(" ".join(part.lower().split()) for part in (name, city, state, country))[:400]


@transaction.atomic
def organization_create(*, user, data: dict[str, Any], reason: str = "") -> Organization:
    permissions.require(user, "org.edit")
    org = Organization()
    record_create(actor=user, instance=org, data=data, allowed=ORG_FIELDS, reason=reason)
    org.match_key = organization_match_key(org.name, org.city, org.state, org.country)
    org.save(update_fields=["match_key"])
    return org


@transaction.atomic
def organization_update(*, user, organization: Organization, data: dict[str, Any], version: int | None,
                        reason: str) -> Organization:
    permissions.require(user, "org.edit", organization)
    org, changes = record_update(actor=user, instance=organization, data=data, allowed=ORG_FIELDS,
                                 version=version, reason=reason)
    if changes:
        org.match_key = organization_match_key(org.name, org.city, org.state, org.country)
        org.save(update_fields=["match_key"])
    return org


@transaction.atomic
def organization_delete(*, user, organization: Organization, version: int | None, reason: str) -> Organization:
    permissions.require(user, "org.edit", organization)
    return record_soft_delete(actor=user, instance=organization, version=version, reason=reason)


@transaction.atomic
def person_create(*, user, data: dict[str, Any], reason: str = "", check: bool = True) -> Person:
    """check=False only for trusted bootstrap code (create_user command) acting as the system."""
    if check:
        permissions.require(user, "person.edit")
    return record_create(actor=user, instance=Person(), data=data, allowed=PERSON_FIELDS, reason=reason)


@transaction.atomic
def person_update(*, user, person: Person, data: dict[str, Any], version: int | None, reason: str) -> Person:
    permissions.require(user, "person.edit", person)
    return record_update(actor=user, instance=person, data=data, allowed=PERSON_FIELDS, version=version,
                         reason=reason)[0]


@transaction.atomic
def person_delete(*, user, person: Person, version: int | None, reason: str) -> Person:
    permissions.require(user, "person.edit", person)
    return record_soft_delete(actor=user, instance=person, version=version, reason=reason)
