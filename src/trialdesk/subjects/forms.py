"""Web forms for subjects: they parse and render input; subjects.services validates and saves."""

from __future__ import annotations

from django import forms

from trialdesk.core.views_utils import EditForm, QuickSelect, RecordForm, VersionedForm, reason_field
from trialdesk.subjects import rules
from trialdesk.subjects.lifecycle import SUBJECT_STATUSES, WITHDRAWAL_REASONS
from trialdesk.subjects.models import ConsentEvent

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _date(label: str, required: bool = False, help_text: str = "") -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DATE_INPUT, help_text=help_text)


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.full_name


class SubjectFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Subject or site number…"}))
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *SUBJECT_STATUSES.items()])
    site = forms.TypedChoiceField(label="Site", required=False, coerce=int, empty_value=None, widget=QuickSelect)
    since = _date("Status since")
    until = _date("Status until")

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        if sites is None:
            del self.fields["site"]
        else:
            self.fields["site"].choices = [("", "Any site"), *((s.pk, s.site_number) for s in sites)]

    def values(self) -> dict:
        self.is_valid()  # invalid values are ignored, valid ones still filter
        return getattr(self, "cleaned_data", {})


class SubjectCreateForm(RecordForm):
    site = forms.ModelChoiceField(label="Site", queryset=None, empty_label="Choose a site…")
    status = forms.ChoiceField(label="Status", choices=[(s, SUBJECT_STATUSES[s]) for s in rules.ENTRY_STATUSES])
    on = _date("Date", help_text="The date of that status; today if empty.")
    subject_number = forms.CharField(label="Subject number", required=False, max_length=60,
                                     help_text="Leave empty to generate it from the study's pattern.")

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["site"].label_from_instance = lambda s: f"{s.site_number} · {s.institution.name}"


class SubjectTransitionForm(VersionedForm):
    status = forms.ChoiceField(label="New status")
    on = _date("Date", help_text="Today if empty. Not in the future, not before the previous status date.")
    screen_fail_reason_code = forms.ChoiceField(label="Screen-failure reason", required=False)
    screen_fail_reason_text = forms.CharField(label="Screen-failure details", required=False, max_length=2000,
                                              widget=forms.Textarea(attrs={"rows": 2}))
    withdrawal_reason = forms.ChoiceField(label="Withdrawal reason", required=False,
                                          choices=[("", "—"), *WITHDRAWAL_REASONS.items()])
    withdrawal_text = forms.CharField(label="Withdrawal details", required=False, max_length=2000,
                                      widget=forms.Textarea(attrs={"rows": 2}))
    eligibility_confirmed_by = PersonChoiceField(label="Eligibility confirmed by", required=False, queryset=None,
                                                 help_text="Required for enrollment: a PI or site coordinator of "
                                                           "this site.")
    reason = reason_field(label="Reason for status change",
                          help_text="Required. Recorded in the audit trail with the status change.")

    def __init__(self, *args, choices=(), reasons=(), people=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Choose the next status…"), *choices]
        self.fields["screen_fail_reason_code"].choices = [("", "—"), *reasons]
        self.fields["eligibility_confirmed_by"].queryset = people


class RandomizeForm(VersionedForm):
    arm = forms.ModelChoiceField(label="Arm", queryset=None, empty_label="Choose the arm…")
    randomized_on = _date("Randomization date", help_text="Today if empty.")
    stratum = forms.CharField(label="Stratum", required=False, max_length=120)
    irt_reference = forms.CharField(label="IRT/EDC reference", required=False, max_length=80)
    reason = reason_field(label="Comment (optional)", required=False,
                          help_text="Recorded in the audit trail; by default the IRT/EDC reference.")

    def __init__(self, *args, arms=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["arm"].queryset = arms


class ConsentForm(forms.Form):
    icf_version = forms.TypedChoiceField(label="Consent form version", coerce=int)
    consented_on = _date("Consent date", required=True)
    method = forms.ChoiceField(label="Method", choices=ConsentEvent.METHODS)
    obtained_by = PersonChoiceField(label="Obtained by", queryset=None, empty_label="Choose the person…",
                                    help_text="A principal investigator or site coordinator of this site.")
    reason = reason_field(label="Comment (optional)", required=False,
                          help_text="Recorded in the audit trail with the consent.")

    def __init__(self, *args, icfs=(), people=None, **kwargs):
        super().__init__(*args, **kwargs)
        # A plain choice list keeps the order the selector decided (the current form first).
        self.icfs = {icf.pk: icf for icf in icfs}
        self.fields["icf_version"].choices = [
            (icf.pk, f"{icf.version_number} ({rules.icf_scope_label(icf)}, approved {icf.irb_approval_date})")
            for icf in icfs]
        self.fields["obtained_by"].queryset = people

    def clean_icf_version(self):
        return self.icfs.get(self.cleaned_data["icf_version"])


class FirstDoseForm(EditForm):
    first_dose_on = _date("First dose date", help_text="Visits anchored on first dose are planned from it.")


class SubjectDeleteForm(VersionedForm):
    reason = reason_field(label="Reason for deleting",
                          help_text="Required. The subject number stays used; it is never given out again.")


class IcfVersionForm(RecordForm):
    version_number = forms.CharField(label="Version number", max_length=40)
    version_date = _date("Version date", required=True)
    country = forms.CharField(label="Country", required=False, max_length=100,
                              help_text="Empty for all countries; or the country this form is for.")
    site = forms.ModelChoiceField(label="Site", required=False, queryset=None, empty_label="All sites",
                                  help_text="Set only for a site-specific form.")
    protocol_version = forms.ModelChoiceField(label="Protocol version", required=False, queryset=None,
                                              empty_label="—")
    irb_approval_date = _date("IRB/IEC approval date", help_text="Required before the form can be approved.")

    def __init__(self, *args, sites=None, protocol_versions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites
        self.fields["site"].label_from_instance = lambda s: f"{s.site_number} · {s.institution.name}"
        self.fields["protocol_version"].queryset = protocol_versions
        self.fields["protocol_version"].label_from_instance = lambda pv: f"{pv.version_number} ({pv.status})"


class IcfVersionEditForm(EditForm, IcfVersionForm):
    pass


class IcfApproveForm(VersionedForm):
    reason = reason_field(label="Comment (optional)", required=False,
                          help_text="Recorded with the approval; by default the IRB/IEC approval date.")


class ReasonsField(forms.CharField):
    """Screen-failure reasons, one "code: label" per line."""

    widget = forms.Textarea(attrs={"rows": 6})

    def to_python(self, value):
        items = []
        for line in (super().to_python(value) or "").splitlines():
            if not line.strip():
                continue
            code, sep, label = line.partition(":")
            items.append({"code": code.strip(), "label": label.strip() if sep else code.strip()})
        return items

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(f"{v.get('code')}: {v.get('label')}" for v in value if isinstance(v, dict))
        return value

    def has_changed(self, initial, data):
        return self.prepare_value(initial) != self.prepare_value(self.to_python(data))


class SettingsForm(EditForm):
    id_pattern = forms.CharField(label="Subject number pattern", max_length=60,
                                 help_text="Placeholders: {site} site number, {seq} per-site sequence (e.g. "
                                           "{seq:03d} for 001), {study} protocol number. Numbers already given "
                                           "keep their value.")
    screen_fail_reasons = ReasonsField(label="Screen-failure reasons",
                                       help_text='One per line as "code: label", e.g. "lab_out_of_range: '
                                                 'Laboratory value out of range". Codes in use must stay.')
    no_enrollment_alert_days = forms.IntegerField(label="Warn when an active site has enrolled no one for (days)",
                                                  min_value=0, max_value=730)
    on_time_probability_threshold = forms.FloatField(label="Warn when the probability of finishing enrollment on "
                                                           "time drops below", min_value=0, max_value=1,
                                                     help_text="0 to 1; 0.5 = 50%.")
    screen_fail_alert_ratio = forms.FloatField(label="Warn when a site's screen-failure rate exceeds the study's by "
                                                     "this factor", min_value=1, max_value=10)


class ImportForm(forms.Form):
    file = forms.FileField(label="Screening log file (CSV or XLSX)",
                           help_text="Laid out like the template: one row per subject, the header in row 1.")
    action = forms.ChoiceField(choices=[("check", "Check"), ("import", "Import")], required=False)
    digest = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)
