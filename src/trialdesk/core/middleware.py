from __future__ import annotations

import re
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect

from trialdesk.core import request_context

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    """Gives every request an id (or keeps a sane X-Request-ID) for the audit trail and logs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        channel = "api" if request.path.startswith("/api/") else "web"
        token = request_context.activate(
            request_context.RequestContext(
                request_id=request_id, ip_address=request.META.get("REMOTE_ADDR"), channel=channel
            )
        )
        request.request_id = request_id
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class LoginRequiredMiddleware:
    """Every web page needs a logged-in user; the API answers 401 itself."""

    # /visits/feed/: calendar apps cannot log in; the signed token in the URL is checked by the view.
    OPEN_PREFIXES = ("/login/", "/static/", "/api/", "/healthz", "/certificates/verify", "/visits/feed/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(self.OPEN_PREFIXES):
            if request.htmx:
                response = HttpResponse(status=401)
                response["HX-Redirect"] = settings.LOGIN_URL
                return response
            return redirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
