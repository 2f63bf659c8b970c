from __future__ import annotations

from django.db.models import Q, QuerySet

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound
from trialdesk.organizations.models import Organization, Person


def organization_list(user, *, kind: str | None = None, text: str | None = None,
                      country: str | None = None) -> QuerySet[Organization]:
    if not permissions.has_perm(user, "org.view"):
        return Organization.objects.none()
    qs = Organization.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    if country:
        qs = qs.filter(country__iexact=country)
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(city__icontains=text))
    return qs.order_by("name", "id")


def organization_get(user, org_id: int) -> Organization:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None or not permissions.has_perm(user, "org.view", org):
        raise NotFound("Organization not found.")
    return org


def person_list(user, *, text: str | None = None, organization_id: int | None = None) -> QuerySet[Person]:
    if not permissions.has_perm(user, "person.view"):
        return Person.objects.none()
    qs = Person.objects.select_related("organization")
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    if text:
        qs = qs.filter(Q(first_name__icontains=text) | Q(last_name__icontains=text) | Q(email__icontains=text))
    return qs.order_by("last_name", "first_name", "id")


def person_get(user, person_id: int) -> Person:
    person = Person.objects.select_related("organization").filter(pk=person_id).first()
    if person is None or not permissions.has_perm(user, "person.view", person):
        raise NotFound("Person not found.")
    return person
