"""Reads the demo loader needs before it starts (system-level: no user yet)."""

from __future__ import annotations

from trialdesk.accounts.models import User
from trialdesk.studies.models import Study


def database_has_studies() -> bool:
    """True when any study exists, deleted ones included: `load_demo --if-empty` then leaves the data alone."""
    return Study.all_objects.exists()


def demo_usernames_taken(usernames: list[str]) -> list[str]:
    return sorted(User.objects.filter(username__in=usernames).values_list("username", flat=True))
