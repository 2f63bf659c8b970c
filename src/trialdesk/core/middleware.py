from __future__ import annotations

import re
import time
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
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


class IdleSessionMiddleware(SessionMiddleware):
    """Django's session middleware with the idle timeout kept cheaply.

    SESSION_SAVE_EVERY_REQUEST would push an unchanged session's expiry forward with a database write on
    every page and API call (on SQLite a write-lock round trip per request, which then queues concurrent
    requests). Here an unchanged session is saved at most once per SESSION_REFRESH_SECONDS: the idle
    timeout is then between SESSION_COOKIE_AGE - SESSION_REFRESH_SECONDS and SESSION_COOKIE_AGE. Changed
    sessions (login, messages) are saved as usual.
    """

    REFRESHED_KEY = "_trialdesk_refreshed"

    def process_response(self, request, response):
        session = getattr(request, "session", None)
        if session is not None and not session.modified and not session.is_empty() and session.session_key:
            now = int(time.time())
            if now - int(session.get(self.REFRESHED_KEY, 0)) >= settings.SESSION_REFRESH_SECONDS:
                session[self.REFRESHED_KEY] = now  # marks it modified: saved, with a new expiry
        return super().process_response(request, response)
