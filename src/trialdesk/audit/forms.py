"""The audit history filter (parsing only; audit.selectors does the filtering)."""

from __future__ import annotations

import datetime as dt

from django import forms

from trialdesk.audit.models import AuditEvent
from trialdesk.audit.selectors import AuditFilter


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label="Action", required=False,
                               choices=[("", "All actions"), *AuditEvent.Action.choices])
    actor = forms.ChoiceField(label="User", required=False)
    since = forms.DateField(label="From (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To (UTC, inclusive)", required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, actors=None, **kwargs):
        """actors: (username, printed name) pairs to offer; None accepts any user name (CSV export links)."""
        super().__init__(*args, **kwargs)
        if actors is None:
            self.fields["actor"] = forms.CharField(label="User", required=False, max_length=150)
        else:
            self.fields["actor"].choices = [("", "All users"), *((u, f"{n} ({u})" if n and n != u else u)
                                                                 for u, n in actors)]

    def audit_filter(self) -> AuditFilter:
        """The valid part of the input as a selector filter (invalid values are ignored)."""
        self.is_valid()
        data = self.cleaned_data  # holds only the fields that validated
        since, until = data.get("since"), data.get("until")
        return AuditFilter(
            action=data.get("action") or None,
            actor=data.get("actor") or None,
            since=dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC) if since else None,
            until=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC) if until else None,
        )

    @property
    def active(self) -> bool:
        return any(self.data.get(name) for name in self.fields)
