"""Fixtures for this area's API tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def api_client(db):
    """api_client(user): a django.test.Client that authenticates as `user` with a new API token."""
    from django.test import Client

    from trialdesk.accounts.services import api_token_create

    def _client(user):
        _, secret = api_token_create(actor=None, user=user, name="api tests")
        return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    return _client
