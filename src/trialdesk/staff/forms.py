"""Web forms for the roster and the delegation log: they parse and render input; staff.services validates and
saves."""

from __future__ import annotations

from django import forms

from trialdesk.core.views_utils import EditForm, RecordForm, VersionedForm, reason_field
from trialdesk.staff import tasks

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _date(label: str, required: bool = False, help_text: str = "") -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DATE_INPUT, help_text=help_text)


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.full_name


class StaffFieldsForm(RecordForm):
    role = forms.ChoiceField(label="Role at the site", choices=list(tasks.ROLES.items()))
    role_detail = forms.CharField(label="Role (when Other)", required=False, max_length=120)
    start_date = _date("Start date", required=True)
    end_date = _date("End date", help_text="Empty while the person works on the study.")
    cv_date = _date("CV date", help_text="Date of the signed CV on file.")
    cv_expiry = _date("CV renewal due")
    licence_number = forms.CharField(label="Licence number", required=False, max_length=100)
    licence_expiry = _date("Licence expiry")
    gcp_certificate_date = _date("GCP certificate date")
    gcp_expiry = _date("GCP certificate expiry")
    notes = forms.CharField(label="Notes", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    def record_data(self, *, only_changed: bool = False, exclude: tuple[str, ...] = ()) -> dict:
        data = super().record_data(only_changed=only_changed, exclude=exclude)
        for name in ("role_detail", "licence_number", "notes"):
            if name in data and data[name] is None:
                data[name] = ""
        return data


class StaffCreateForm(StaffFieldsForm):
    person = PersonChoiceField(label="Person", queryset=None, empty_label="Choose a person…",
                               help_text="People are kept under People; add the person there first if missing.")
    field_order = ["person", "role"]

    def __init__(self, *args, people=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people


class StaffEditForm(EditForm, StaffFieldsForm):
    pass


class StaffDeleteForm(VersionedForm):
    reason = reason_field(label="Reason for deleting", help_text="Required: why this entry was made in error.")


class DelegationCreateForm(forms.Form):
    staff = forms.ModelChoiceField(label="Staff member", queryset=None, empty_label="Choose a person on the roster…")
    tasks = forms.MultipleChoiceField(label="Tasks", choices=list(tasks.TASKS.items()),
                                      widget=forms.CheckboxSelectMultiple)
    task_detail = forms.CharField(label="Study-specific task", required=False, max_length=300,
                                  help_text="Describe it when you tick Study-specific task.")
    start_date = _date("Start date", required=True)
    end_date = _date("End date", help_text="Empty: until ended.")

    def __init__(self, *args, staff=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = staff
        self.fields["staff"].label_from_instance = lambda s: f"{s.person.full_name} · {s.role_label}"


class DelegationEditForm(EditForm):
    task = forms.ChoiceField(label="Task", choices=list(tasks.TASKS.items()))
    task_detail = forms.CharField(label="Study-specific task", required=False, max_length=300)
    start_date = _date("Start date", required=True)
    end_date = _date("End date")

    def record_data(self, *, only_changed: bool = False, exclude: tuple[str, ...] = ()) -> dict:
        data = super().record_data(only_changed=only_changed, exclude=exclude)
        if "task_detail" in data and data["task_detail"] is None:
            data["task_detail"] = ""
        return data


class SignForm(VersionedForm):
    """Electronic signature: the password is re-entered for every signature (21 CFR 11.200(a))."""

    password = forms.CharField(
        label="Your password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "id": "signature-password"}),
        help_text="Re-enter your password to sign. This is your legally binding electronic signature.")
    comment = forms.CharField(label="Comment (optional)", required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))


class DelegationEndForm(VersionedForm):
    ended_on = _date("Last day covered", required=True)
    reason = reason_field(label="Reason for ending", help_text="Required. Recorded in the audit trail and the log.")


class DelegationWithdrawForm(VersionedForm):
    reason = reason_field(label="Reason for withdrawing", help_text="Required. Recorded in the audit trail.")
