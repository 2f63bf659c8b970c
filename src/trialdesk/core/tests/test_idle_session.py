"""The idle timeout without a session write per request: an unchanged session is saved (its expiry pushed
forward) at most once a minute; an idle session still expires."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from trialdesk.core.middleware import IdleSessionMiddleware

pytestmark = pytest.mark.django_db


def _session_writes(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries
            if "django_session" in q["sql"] and q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))]


def _session(client) -> Session:
    return Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


def test_unchanged_session_is_saved_at_most_once_a_minute(client, cpm):
    client.force_login(cpm)
    client.get("/")                                    # first request: stamps the refresh time (a save)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
        assert client.get("/api/v1/studies").status_code == 200
    assert _session_writes(queries) == []

    # A minute later the next request pushes the expiry forward again.
    session = _session(client)
    store = session.get_decoded()
    store[IdleSessionMiddleware.REFRESHED_KEY] -= settings.SESSION_REFRESH_SECONDS
    Session.objects.filter(pk=session.pk).update(session_data=Session.objects.encode(store),
                                                 expire_date=timezone.now() + dt.timedelta(minutes=5))
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    assert len(_session_writes(queries)) == 1
    assert _session(client).expire_date > timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


def test_idle_session_still_expires(client, cpm):
    client.force_login(cpm)
    assert client.get("/").status_code == 200
    Session.objects.filter(pk=_session(client).pk).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL)


def test_token_requests_create_no_session(api_client_factory, cpm):
    client = api_client_factory(cpm)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/studies").status_code == 200
    assert _session_writes(queries) == []


@pytest.fixture
def api_client_factory(db):
    from django.test import Client

    from trialdesk.accounts.services import api_token_create

    def _client(user):
        _, secret = api_token_create(actor=None, user=user, name="idle session test")
        return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    return _client
