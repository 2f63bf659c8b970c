"""Web forms for the schedule of events and visit recording: they parse input; the services validate and save."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from trialdesk.core.views_utils import EditForm, RecordForm, VersionedForm, reason_field
from trialdesk.visits.models import ANCHORS, MODALITIES, SubjectVisit

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NARROW = {"style": "width:5em"}


class VisitDefinitionForm(RecordForm):
    code = forms.CharField(max_length=20, help_text='Short code, e.g. "V1", "SCR", "EOT"',
                           widget=forms.TextInput(attrs={"size": 6}))
    name = forms.CharField(max_length=120)
    anchor = forms.ChoiceField(choices=ANCHORS, initial="enrollment", help_text="The date the day counts from")
    target_day = forms.IntegerField(label="Day", min_value=-365, max_value=3650, initial=0,
                                    help_text="Days after the anchor (0 = anchor day; negative = before)",
                                    widget=forms.NumberInput(attrs={"style": "width:6em"}))
    window_before = forms.IntegerField(label="Window −", min_value=0, max_value=365, initial=0,
                                       help_text="Days allowed before", widget=forms.NumberInput(attrs=NARROW))
    window_after = forms.IntegerField(label="Window +", min_value=0, max_value=365, initial=0,
                                      help_text="Days allowed after", widget=forms.NumberInput(attrs=NARROW))
    modality = forms.ChoiceField(choices=MODALITIES, initial="on_site")
    required = forms.BooleanField(required=False, initial=True, help_text="Missing it is a protocol deviation")
    order = forms.IntegerField(min_value=0, max_value=2_147_483_647, initial=0,
                               widget=forms.NumberInput(attrs=NARROW))


class VisitDefinitionEditForm(EditForm, VisitDefinitionForm):
    pass


class DeleteForm(VersionedForm):
    reason = reason_field(label="Reason for removing this visit")


class ScheduleCopyForm(forms.Form):
    source = forms.TypedChoiceField(label="Copy the schedule of", coerce=int)
    reason = forms.CharField(label="Note for the audit trail", required=False, max_length=2000,
                             widget=forms.TextInput())

    def __init__(self, *args, sources=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = [(pv.pk, f"{pv} ({pv.get_status_display().lower()})") for pv in sources]


class VisitRecordForm(VersionedForm):
    actual_on = forms.DateField(label="Visit date", widget=DATE_INPUT, initial=timezone.localdate)
    modality = forms.ChoiceField(choices=MODALITIES)
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    reason = reason_field(help_text="Required: the visit is already recorded (or marked missed) and this corrects it.")
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class VisitMissedForm(VersionedForm):
    reason = reason_field(label="Why the visit did not take place")
    next = forms.CharField(required=False, widget=forms.HiddenInput)


VIEW_CHOICES = [("month", "Month"), ("agenda", "Agenda")]


class CalendarFilterForm(forms.Form):
    site = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    modality = forms.ChoiceField(required=False, choices=[("", "All modalities"), *MODALITIES])
    status = forms.ChoiceField(required=False, choices=[("", "All statuses"), *SubjectVisit.STATUSES])
    month = forms.RegexField(required=False, regex=r"^\d{4}-(0[1-9]|1[0-2])$", widget=forms.HiddenInput)
    view = forms.ChoiceField(required=False, choices=VIEW_CHOICES, widget=forms.HiddenInput)

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", "All sites"), *((s.pk, f"Site {s.site_number}") for s in sites)]


class DeviationFilterForm(forms.Form):
    site = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [("", "All sites"), *((s.pk, f"Site {s.site_number}") for s in sites)]
