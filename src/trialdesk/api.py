"""The JSON API at /api/v1: one NinjaAPI, one router per area, one error format."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from trialdesk.accounts.services import api_token_authenticate
from trialdesk.core.errors import ServiceError


class BearerToken(HttpBearer):
    """`Authorization: Bearer td_...` tokens created with `trialdesk create_api_token`."""

    def authenticate(self, request, token):
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class Session(APIKeyCookie):
    """The web UI's session cookie (CSRF enforced for unsafe methods)."""

    param_name = "sessionid"

    def __init__(self):
        super().__init__(csrf=True)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


api = NinjaAPI(
    title="Trialdesk API",
    version="1",
    description=(
        "Clinical Trial Management System API. Authenticate with `Authorization: Bearer <token>` "
        "(create one with `trialdesk create_api_token USERNAME`). Updates carry the record's `version` "
        "(409 when stale) and a `reason` for change."
    ),
    urls_namespace="api-v1",
    auth=[BearerToken(), Session()],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(request, status: int, detail: str, errors: dict | None = None):
    return api.create_response(request, {"detail": detail, "errors": errors or {}}, status=status)


@api.exception_handler(ServiceError)
def _service_error(request, exc: ServiceError):
    return _error(request, exc.status_code, exc.message, exc.errors)


@api.exception_handler(NinjaValidationError)
def _validation_error(request, exc: NinjaValidationError):
    errors: dict[str, list[str]] = {}
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "query", "path", "payload", "data")]
        errors.setdefault(".".join(loc) or "request", []).append(err.get("msg", "Invalid value"))
    first = next(iter(errors.items()), ("request", ["Invalid input"]))
    return _error(request, 422, f"Invalid input: {first[0]}: {first[1][0]}", errors)


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return _error(request, 401, "Authentication required: send 'Authorization: Bearer <token>' or log in.")


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _error(request, 404, "Not found.")


@api.exception_handler(TooManyFieldsSent)
def _too_many_fields(request, exc):
    # Django would answer a bare HTML 400; say what is wrong in the API's error format instead.
    return _error(request, 422, "Invalid input: too many parameters in one request.",
                  {"request": ["Too many parameters (the limit is DATA_UPLOAD_MAX_NUMBER_FIELDS)."]})


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return _error(request, 422, "Invalid input: the request body is too large.",
                  {"request": ["The request body is larger than the upload limit."]})


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return _error(request, exc.status_code, str(exc.message))


def register_routers() -> None:
    """Mount each area's router. Import here so the module graph stays acyclic."""
    from importlib import import_module

    # (area, module attribute, prefix, tag): an area may mount more than one router (organizations: people).
    for area, attr, prefix, tag in [
        ("studies", "router", "/studies", "studies"),
        ("sites", "router", "/sites", "sites"),
        ("organizations", "router", "/organizations", "organizations"),
        ("organizations", "people_router", "/people", "people"),
        ("accounts", "router", "/accounts", "accounts"),
        ("audit", "router", "/audit", "audit"),
        ("ctgov", "router", "/imports", "ctgov"),
        ("subjects", "router", "/subjects", "subjects"),
        ("enrollment", "router", "/enrollment", "enrollment"),
        ("visits", "router", "/visits", "visits"),
        ("startup", "router", "/startup", "startup"),
        ("staff", "router", "/staff", "staff"),
        ("training", "router", "/training", "training"),
        ("workqueue", "router", "/my-work", "my work"),
    ]:
        try:
            module = import_module(f"trialdesk.{area}.api")
        except ModuleNotFoundError as exc:
            if exc.name != f"trialdesk.{area}.api":
                raise
            continue
        api.add_router(prefix, getattr(module, attr), tags=[tag])


register_routers()
