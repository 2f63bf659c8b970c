"""Web forms for training: parse and render only; training.services validates and saves."""

from __future__ import annotations

from django import forms

from trialdesk.core.views_utils import EditForm, RecordForm, VersionedForm, reason_field
from trialdesk.training import rules
from trialdesk.training.models import ATTENDANCE_STATUSES, REQUIREMENT_KINDS, SESSION_MODES, TRAINING_KINDS

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
AGENDA_HELP = ("One topic per line; put its items on the lines below it, each starting with “-”. "
               "Example: “Study introduction” then “- Objectives”.")


class TrainingForm(RecordForm):
    template = forms.ModelChoiceField(queryset=None, required=False, label="Start from template",
                                      empty_label="(no template)",
                                      help_text="Copies the template's preparation checklist and agenda.")
    title = forms.CharField(max_length=200, required=False,
                            help_text="Empty: the template's name.")
    kind = forms.ChoiceField(choices=list(TRAINING_KINDS.items()), initial="protocol")
    protocol_version = forms.ModelChoiceField(queryset=None, required=False, label="Protocol version",
                                              help_text="Protocol training is given on an approved version.")
    objectives = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
                                 label="Session objectives")
    pass_mark = forms.IntegerField(min_value=0, max_value=100, initial=80, label="Quiz pass mark (%)")
    quiz_required = forms.BooleanField(required=False, label="A passed quiz is required for the certificate")
    validity_months = forms.IntegerField(min_value=1, max_value=120, required=False,
                                         label="Certificate validity (months)",
                                         help_text="Empty: certificates do not expire. Otherwise a refresher is "
                                                   "scheduled before they do.")

    def __init__(self, *args, templates=None, protocol_versions=None, **kwargs):
        super().__init__(*args, **kwargs)
        if "template" in self.fields:
            self.fields["template"].queryset = templates
        self.fields["protocol_version"].queryset = protocol_versions

    def clean(self):
        cleaned = super().clean()
        if "template" in self.fields and not cleaned.get("title") and not cleaned.get("template"):
            self.add_error("title", "Give the training a title (or start from a template).")
        return cleaned

    def service_data(self, *, only_changed: bool = False) -> dict:
        data = self.record_data(only_changed=only_changed, exclude=("template", "agenda_text", "checklist_text"))
        if not data.get("title", True):
            data.pop("title")
        return data


class TrainingEditForm(EditForm, TrainingForm):
    agenda_text = forms.CharField(required=False, label="Agenda", widget=forms.Textarea(attrs={"rows": 12}),
                                  help_text=AGENDA_HELP)
    checklist_text = forms.CharField(required=False, label="Preparation checklist",
                                     widget=forms.Textarea(attrs={"rows": 6}),
                                     help_text="One item per line. Ticks of unchanged items are kept.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["template"]
        self.fields["title"].required = True


class TemplateForm(EditForm):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=list(TRAINING_KINDS.items()))
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    checklist_text = forms.CharField(required=False, label="Preparation checklist",
                                     widget=forms.Textarea(attrs={"rows": 7}), help_text="One item per line.")
    agenda_text = forms.CharField(required=False, label="Agenda", widget=forms.Textarea(attrs={"rows": 14}),
                                  help_text=AGENDA_HELP)

    def service_data(self) -> dict:
        data = {k: self.cleaned_data[k] for k in ("name", "kind", "description")}
        data["checklist"] = rules.lines(self.cleaned_data["checklist_text"])
        data["agenda"] = rules.agenda_from_text(self.cleaned_data["agenda_text"])
        return data


class CopyTemplateForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, label="Name of the copy",
                           help_text="Empty: the template's name with “(copy)”.")


class TransitionForm(VersionedForm):
    status = forms.ChoiceField(label="New status")
    reason = reason_field(label="Reason for status change",
                          help_text="Required. Recorded in the audit trail with the status change.")

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Choose…"), *choices]


class ChecklistTickForm(VersionedForm):
    index = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    done = forms.BooleanField(required=False, widget=forms.HiddenInput)


class SessionForm(RecordForm):
    mode = forms.ChoiceField(choices=list(SESSION_MODES.items()))
    starts_at = forms.DateTimeField(label="Starts at (UTC)", widget=DATETIME_INPUT,
                                    input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])
    duration_minutes = forms.IntegerField(min_value=1, max_value=1440, initial=60, label="Duration (minutes)")
    trainer = forms.ModelChoiceField(queryset=None, required=False, label="Trainer")
    trainer_name = forms.CharField(max_length=200, required=False, label="…or the trainer's name",
                                   help_text="When the trainer is not in the people list.")
    sites = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
                                           label="For sites")
    location = forms.CharField(max_length=300, required=False, help_text="Room, address or meeting link")
    materials = forms.CharField(max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                help_text="Protocol version, slides, manuals handed out")

    def __init__(self, *args, people=None, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trainer"].queryset = people
        self.fields["sites"].queryset = sites


class SessionEditForm(EditForm, SessionForm):
    pass


class InviteForm(forms.Form):
    people = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple,
                                            label="Invite people", help_text="The study's site staff roster.")

    def __init__(self, *args, people=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["people"].queryset = people
        self.fields["people"].label_from_instance = lambda p: p.full_name


class AttendanceRecordForm(VersionedForm):
    attendance = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(choices=list(ATTENDANCE_STATUSES.items()))


class AcknowledgeForm(forms.Form):
    """Electronic signature: the password is re-entered for every signature (21 CFR 11.200(a))."""

    password = forms.CharField(
        label="Your password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "id": "signature-password"}),
        help_text="Re-enter your password to sign. This is your legally binding electronic signature.")
    comment = forms.CharField(label="Comment (optional)", required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))


class QuestionForm(RecordForm):
    order = forms.IntegerField(min_value=0, max_value=10000, required=False,
                               help_text="Position in the quiz (empty: last).")
    text = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Question")
    options_text = forms.CharField(label="Answer options", widget=forms.Textarea(attrs={"rows": 4}),
                                   help_text="One option per line; mark the correct one(s) with a leading “*”.")

    def service_data(self) -> dict:
        options, correct = [], []
        for i, line in enumerate(rules.lines(self.cleaned_data["options_text"])):
            if line.startswith("*"):
                correct.append(i)
                line = line.lstrip("*").strip()
            options.append(line)
        data = {"text": self.cleaned_data["text"], "options": options, "correct": correct}
        if self.cleaned_data.get("order") is not None:
            data["order"] = self.cleaned_data["order"]
        return data

    @staticmethod
    def options_initial(question) -> str:
        return "\n".join(("* " if i in question.correct else "") + o for i, o in enumerate(question.options))


class QuestionEditForm(EditForm, QuestionForm):
    pass


class DeleteForm(VersionedForm):
    reason = reason_field(label="Reason for deletion", help_text="Required. Recorded in the audit trail.")


class RequirementForm(forms.Form):
    person = forms.ModelChoiceField(queryset=None, label="Person")
    kind = forms.ChoiceField(choices=list(REQUIREMENT_KINDS.items()), initial="other")
    training = forms.ModelChoiceField(queryset=None, required=False,
                                      help_text="The training that fulfils it (empty: any training of this kind).")
    due_date = forms.DateField(widget=DATE_INPUT)
    reason = forms.CharField(max_length=2000, required=False, label="Why it is required",
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, people=None, trainings=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people
        self.fields["person"].label_from_instance = lambda p: p.full_name
        self.fields["training"].queryset = trainings


class WaiveForm(VersionedForm):
    reason = reason_field(label="Why the requirement is waived", help_text="Required. Recorded in the audit trail.")


class RevokeForm(forms.Form):
    reason = reason_field(label="Why the certificate is revoked", help_text="Required. Recorded in the audit trail.")


class VerifyForm(forms.Form):
    number = forms.CharField(max_length=64, label="Certificate number",
                             widget=forms.TextInput(attrs={"placeholder": "TC-XXXX-XXXX-00", "autocomplete": "off"}))


class QuizForm(forms.Form):
    """One choice field per question (checkboxes where several options are correct)."""

    def __init__(self, *args, questions=(), **kwargs):
        super().__init__(*args, **kwargs)
        for q in questions:
            choices = [(str(i), o) for i, o in enumerate(q.options)]
            if len(q.correct) > 1:
                field = forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple,
                                                  label=q.text, help_text="Choose all that apply.")
            else:
                field = forms.ChoiceField(choices=choices, widget=forms.RadioSelect, label=q.text)
            field.question_id = q.pk
            self.fields[f"q{q.pk}"] = field

    def answers(self) -> dict[int, list[int]]:
        out = {}
        for name, field in self.fields.items():
            value = self.cleaned_data.get(name)
            values = value if isinstance(value, list) else [value] if value not in (None, "") else []
            out[field.question_id] = [int(v) for v in values]
        return out
