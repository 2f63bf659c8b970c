"""Web forms for study sites: parse and render only; sites.services validates and saves."""

from __future__ import annotations

from django import forms
from django.forms.models import fields_for_model

from trialdesk.core.views_utils import EditForm, RecordForm
from trialdesk.sites.lifecycle import SITE_MILESTONES, SITE_STATUSES
from trialdesk.sites.models import StudySite

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MILESTONE_FIELDS = [f"{kind}_{key}" for key, _ in SITE_MILESTONES for kind in ("planned", "actual")]
DETAIL_FIELDS = ["site_number", "institution", "principal_investigator", "target_enrollment", "address", "city",
                 "state", "postal_code", "country", "latitude", "longitude"]


class SiteForm(RecordForm):
    def __init__(self, *args, institutions=None, people=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = institutions
        self.fields["principal_investigator"].queryset = people
        self.fields["principal_investigator"].label = "Principal investigator"
        self.fields["latitude"].help_text = "Decimal degrees, −90 to 90."
        self.fields["longitude"].help_text = "Decimal degrees, −180 to 180."
        for key, label in SITE_MILESTONES:
            self.fields[f"planned_{key}"].label = f"{label}: planned"
            self.fields[f"actual_{key}"].label = f"{label}: actual"

    @property
    def detail_fields(self):
        return [self[name] for name in DETAIL_FIELDS]

    @property
    def milestone_rows(self):
        return [(label, self[f"planned_{key}"], self[f"actual_{key}"]) for key, label in SITE_MILESTONES]


SiteForm.base_fields.update(fields_for_model(StudySite, fields=DETAIL_FIELDS + MILESTONE_FIELDS,
                                             widgets=dict.fromkeys(MILESTONE_FIELDS, DATE_INPUT)))


class SiteEditForm(EditForm, SiteForm):
    pass


class SiteFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search",
                                                      "placeholder": "Site number, institution, city, PI…"}))
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *SITE_STATUSES.items()])
    country = forms.ChoiceField(label="Country", required=False)

    def __init__(self, *args, countries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "Any country"), *((c, c) for c in countries)]
