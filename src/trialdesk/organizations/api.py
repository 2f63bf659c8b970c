"""Organizations API (/organizations) and people API (/people, mounted from `people_router`)."""

from ninja import Query, Router, Status

from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, DeleteIn, PathId, paginate, resolve_ref
from trialdesk.organizations import selectors, services
from trialdesk.organizations.schemas import (
    OrganizationCreateIn,
    OrganizationFilterIn,
    OrganizationListOut,
    OrganizationOut,
    OrganizationUpdateIn,
    PersonCreateIn,
    PersonFilterIn,
    PersonListOut,
    PersonOut,
    PersonUpdateIn,
)

router = Router()
people_router = Router()


def _split(payload) -> tuple[dict, str]:
    data = payload.dict(exclude_unset=True)
    data.pop("version", None)
    return data, data.pop("reason", "") or ""


# --- Organizations --------------------------------------------------------------------

@router.get("", response={200: OrganizationListOut, **READ_ERRORS}, summary="List organizations")
def organization_list(request, filters: Query[OrganizationFilterIn]):
    qs = selectors.organization_list(request.auth, kind=filters.kind, text=filters.q, country=filters.country)
    return paginate(qs, limit=filters.limit, offset=filters.offset)


@router.post("", response={201: OrganizationOut, **WRITE_ERRORS}, summary="Create an organization")
def organization_create(request, payload: OrganizationCreateIn):
    data, reason = _split(payload)
    return Status(201, services.organization_create(user=request.auth, data=data, reason=reason))


@router.get("/{org_id}", response={200: OrganizationOut, **READ_ERRORS}, summary="Get an organization")
def organization_get(request, org_id: PathId):
    return selectors.organization_get(request.auth, org_id)


@router.patch("/{org_id}", response={200: OrganizationOut, **WRITE_ERRORS}, summary="Update an organization")
def organization_update(request, org_id: PathId, payload: OrganizationUpdateIn):
    org = selectors.organization_get(request.auth, org_id)
    data, reason = _split(payload)
    return services.organization_update(user=request.auth, organization=org, data=data, version=payload.version,
                                        reason=reason)


@router.delete("/{org_id}", response={200: OrganizationOut, **WRITE_ERRORS}, summary="Delete an organization (soft)")
def organization_delete(request, org_id: PathId, payload: DeleteIn):
    org = selectors.organization_get(request.auth, org_id)
    return services.organization_delete(user=request.auth, organization=org, version=payload.version,
                                        reason=payload.reason)


# --- People --------------------------------------------------------------------------------

def _person_input(user, payload) -> tuple[dict, str]:
    data, reason = _split(payload)
    if "organization_id" in data:
        data["organization"] = resolve_ref("organization_id", selectors.organization_get, user,
                                           data.pop("organization_id"))
    return data, reason


@people_router.get("", response={200: PersonListOut, **READ_ERRORS}, summary="List people")
def person_list(request, filters: Query[PersonFilterIn]):
    qs = selectors.person_list(request.auth, text=filters.q, organization_id=filters.organization_id)
    return paginate(qs, limit=filters.limit, offset=filters.offset)


@people_router.post("", response={201: PersonOut, **WRITE_ERRORS}, summary="Create a person")
def person_create(request, payload: PersonCreateIn):
    data, reason = _person_input(request.auth, payload)
    return Status(201, services.person_create(user=request.auth, data=data, reason=reason))


@people_router.get("/{person_id}", response={200: PersonOut, **READ_ERRORS}, summary="Get a person")
def person_get(request, person_id: PathId):
    return selectors.person_get(request.auth, person_id)


@people_router.patch("/{person_id}", response={200: PersonOut, **WRITE_ERRORS}, summary="Update a person")
def person_update(request, person_id: PathId, payload: PersonUpdateIn):
    person = selectors.person_get(request.auth, person_id)
    data, reason = _person_input(request.auth, payload)
    return services.person_update(user=request.auth, person=person, data=data, version=payload.version,
                                  reason=reason)


@people_router.delete("/{person_id}", response={200: PersonOut, **WRITE_ERRORS}, summary="Delete a person (soft)")
def person_delete(request, person_id: PathId, payload: DeleteIn):
    person = selectors.person_get(request.auth, person_id)
    return services.person_delete(user=request.auth, person=person, version=payload.version, reason=payload.reason)
