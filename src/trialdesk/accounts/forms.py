"""Web forms for sign-in, API tokens and study team membership (parsing only)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from trialdesk.accounts.roles import ROLE_LABELS, Role
from trialdesk.core.views_utils import VersionedForm, reason_field


class LoginForm(forms.Form):
    username = forms.CharField(label="User name", max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True,
                                                             "autocapitalize": "none"}))
    password = forms.CharField(label="Password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class ApiTokenForm(forms.Form):
    name = forms.CharField(label="Token name", max_length=100, required=False,
                           help_text="What the token is for, e.g. “EDC nightly sync”.")
    expires_days = forms.IntegerField(label="Expires after (days)", min_value=1, max_value=3650,
                                      help_text="Between 1 and 3650 days.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expires_days"].initial = settings.API_TOKEN_DEFAULT_DAYS


class TokenRevokeForm(forms.Form):
    reason = reason_field(label="Reason (optional)", required=False,
                          help_text="Recorded in the audit trail, e.g. “laptop replaced”.")


class MembershipGrantForm(forms.Form):
    username = forms.CharField(label="User name", max_length=150,
                               help_text="The user name of the person who should get the role.")
    role = forms.ChoiceField(label="Role", choices=[("", "Choose a role…"), *((r.value, ROLE_LABELS[r]) for r in Role)])
    sites = forms.ModelMultipleChoiceField(
        label="Limit to sites", required=False, queryset=None, widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty for access to every site of the study. CRAs, coordinators and investigators "
                  "normally work on named sites only.")
    reason = reason_field(label="Reason (optional)", required=False,
                          help_text="Recorded in the audit trail with the grant.")

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sites"].queryset = sites
        self.fields["sites"].label_from_instance = lambda site: f"{site.site_number} · {site.institution.name}"


class MembershipRevokeForm(VersionedForm):
    reason = reason_field(label="Reason for revoking", help_text="Required. Recorded in the audit trail.")
