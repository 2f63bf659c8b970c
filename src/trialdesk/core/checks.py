"""`trialdesk check --deploy`: warnings about settings that would keep state in one app server."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Info, Warning, register

from trialdesk.conf import cache_is_shared


@register("trialdesk", deploy=True)
def stateless_app_tier(app_configs=None, **kwargs):
    messages = []
    if not (os.environ.get("TRIALDESK_SECRET_KEY") or "").strip():
        messages.append(Warning(
            "TRIALDESK_SECRET_KEY is not set: the key was generated into TRIALDESK_HOME on this machine.",
            hint="Set TRIALDESK_SECRET_KEY, the same on every app server: a session or signed link made by one "
                 "server is otherwise refused by the others (and lost when TRIALDESK_HOME is).",
            id="trialdesk.W001"))
    if not cache_is_shared(settings.CACHES["default"]):
        messages.append(Warning(
            f"The cache ({settings.CACHES['default']['BACKEND']}) lives in each process's memory.",
            hint="Use the database cache (the default, TRIALDESK_CACHE_URL unset or db://) or a cache server, so "
                 "every worker and app server sees the same entries and invalidations.",
            id="trialdesk.W002"))
    if settings.DATABASE_ENGINE == "sqlite":
        messages.append(Info(
            "The database is SQLite: every app process must run on this one machine (the file is not shared).",
            hint="For several app servers use PostgreSQL (TRIALDESK_DATABASE_URL=postgres://...).",
            id="trialdesk.I001"))
    return messages
