"""Web forms for enrollment: parse and render only; enrollment.services validates and saves."""

from __future__ import annotations

from django import forms

from trialdesk.core.views_utils import EditForm, QuickSelect, RecordForm, VersionedForm, reason_field

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
RATE_HELP = "Subjects per month once active."

SORTS = {
    "site": ("Site", lambda r: r["site_number"]),
    "enrolled": ("Enrolled", lambda r: r["enrolled"]),
    "rate": ("Rate per month", lambda r: -1 if r["rate_per_month"] is None else r["rate_per_month"]),
    "screen_failure": ("Screen-failure rate",
                       lambda r: -1 if r["screen_failure_rate"] is None else r["screen_failure_rate"]),
}


class EnrollmentFilterForm(forms.Form):
    """The country / site switch above the chart, and the per-site table's sort order."""

    country = forms.ChoiceField(label="Country", required=False)
    site = forms.TypedChoiceField(label="Site", required=False, coerce=int, empty_value=None, widget=QuickSelect)
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput,
                             choices=[("", "")] + [(k, k) for k in SORTS] + [(f"-{k}", k) for k in SORTS])

    def __init__(self, *args, countries=(), sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "All countries"), *((c, c) for c in countries)]
        self.fields["site"].choices = [("", "All sites"), *((s.pk, f"{s.site_number} · {s.institution.name}")
                                                            for s in sites)]


class PlanForm(RecordForm):
    label = forms.CharField(label="Label", required=False, max_length=120,
                            help_text='e.g. "Original plan" or "After amendment 2".')
    target = forms.IntegerField(label="Enrollment target", required=False, min_value=1, max_value=1_000_000,
                                help_text="Subjects to enroll under this plan; empty: the study's target.")
    planned_last_subject_in = forms.DateField(label="Planned last subject in", required=False, widget=DATE_INPUT)


class PlanEditForm(EditForm, PlanForm):
    pass


class RebaselineForm(PlanForm, VersionedForm):
    reason = reason_field(label="Reason for re-baselining",
                          help_text="Required. The current baseline is kept; the audit trail records this reason.")


class EntryForm(RecordForm):
    site = forms.ModelChoiceField(label="Site", required=False, queryset=None,
                                  help_text="Plan a site, or leave empty and enter a country.")
    country = forms.CharField(label="Country", required=False, max_length=100,
                              help_text="For a country planned as a whole (its sites without their own entry).")
    planned_activation = forms.DateField(label="Planned activation", widget=DATE_INPUT)
    planned_rate_per_month = forms.FloatField(label="Planned rate per month", min_value=0, max_value=1000,
                                              help_text=RATE_HELP)
    planned_subjects = forms.IntegerField(label="Planned subjects (cap)", required=False, min_value=0,
                                          max_value=1_000_000, help_text="Empty: no cap for this entry.")

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["site"].label_from_instance = lambda s: f"{s.site_number} · {s.institution.name}"


class EntryEditForm(EditForm, EntryForm):
    pass


class EntryDeleteForm(VersionedForm):
    reason = reason_field(label="Reason for deleting this entry")


class GenerateEntriesForm(forms.Form):
    rate_per_month = forms.FloatField(label="Planned rate per month", min_value=0, max_value=1000,
                                      help_text="Used for every generated entry.")
    activation_date = forms.DateField(label="Activation date for sites without one", required=False,
                                      widget=DATE_INPUT,
                                      help_text="Sites use their own planned activation date when they have one.")
    planned_subjects = forms.IntegerField(label="Planned subjects per site (cap)", required=False, min_value=0,
                                          max_value=1_000_000)


class WhatIfForm(forms.Form):
    target = forms.IntegerField(label="Different target", required=False, min_value=1, max_value=1_000_000)
    drop_sites = forms.TypedMultipleChoiceField(label="Drop sites", required=False, coerce=int,
                                                widget=forms.CheckboxSelectMultiple,
                                                help_text="An active site stops recruiting now; a planned one is "
                                                          "removed.")

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["drop_sites"].choices = [(s.pk, f"{s.site_number} · {s.institution.name}") for s in sites]


class AddSiteForm(forms.Form):
    label = forms.CharField(label="New site", max_length=40, required=False)
    country = forms.CharField(label="Country", max_length=100, required=False)
    planned_activation = forms.DateField(label="Activation", required=False, widget=DATE_INPUT)
    rate_per_month = forms.FloatField(label="Rate per month", required=False, min_value=0, max_value=1000)

    def clean(self):
        data = super().clean()
        given = [data.get(n) not in (None, "") for n in ("label", "planned_activation", "rate_per_month")]
        if any(given) and not all(given):
            raise forms.ValidationError("Give the new site a label, an activation date and a rate.")
        return data


class RateChangeForm(forms.Form):
    site = forms.TypedChoiceField(label="Site", required=False, coerce=int, empty_value=None, widget=QuickSelect)
    rate_per_month = forms.FloatField(label="New rate per month", required=False, min_value=0, max_value=1000)

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", "—"), *((s.pk, s.site_number) for s in sites)]

    def clean(self):
        data = super().clean()
        if (data.get("site") is None) != (data.get("rate_per_month") is None):
            raise forms.ValidationError("Choose a site and give its new rate.")
        return data


AddSiteFormSet = forms.formset_factory(AddSiteForm, extra=3, max_num=20, validate_max=True)
RateChangeFormSet = forms.formset_factory(RateChangeForm, extra=3, max_num=50, validate_max=True)
