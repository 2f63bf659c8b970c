"""Web forms for feasibility and start-up: parse and render only; startup.services validates and saves."""

from __future__ import annotations

from django import forms

from trialdesk.core.views_utils import EditForm, RecordForm, VersionedForm, reason_field
from trialdesk.startup import scoring
from trialdesk.startup.models import APPLIES_WHEN, OWNER_ROLES, QUESTION_KINDS, YES_NO

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
OPTIONAL_REASON_HELP = ("Required when you change something saved before. The audit trail records your name, the "
                        "time, the old and new values and this reason.")


class DraftVersionForm(forms.Form):
    """The version of a record that may not exist yet (0)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, initial=0)

    def clean(self):
        cleaned = super().clean()
        if "version" in self._errors:
            del self._errors["version"]
            self.add_error(None, "The record version is missing from the form. Reload the page and try again.")
        return cleaned


# --- Questionnaire -----------------------------------------------------------------------------------------

class QuestionForm(RecordForm):
    text = forms.CharField(label="Question", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(label="Answer type", choices=list(QUESTION_KINDS.items()))
    help_text = forms.CharField(label="Help for the site", required=False, max_length=500)
    required = forms.BooleanField(label="An answer is required before submitting", required=False)
    weight = forms.DecimalField(label="Weight", min_value=0, max_value=1000, decimal_places=2, initial=1,
                                help_text="How much the question counts in the score; 0: not scored. Text answers "
                                          "are never scored.")
    preferred_answer = forms.ChoiceField(label="Yes/no: the answer that scores", required=False,
                                         choices=[("", "— not scored —"), *YES_NO.items()])
    score_min = forms.FloatField(label="Number: answer scoring 0", required=False, min_value=-1e12, max_value=1e12)
    score_max = forms.FloatField(label="Number: answer scoring full marks", required=False, min_value=-1e12,
                                 max_value=1e12,
                                 help_text="Linear in between. Lower than the 0-mark when lower is better.")
    choices = forms.CharField(label="Choice: options", required=False, max_length=10000,
                              widget=forms.Textarea(attrs={"rows": 4}),
                              help_text='One option per line as "Label | score", the score between 0 and 1 '
                                        '(e.g. "Yes, on site | 1").')
    order = forms.IntegerField(label="Order", required=False, min_value=0, max_value=100_000,
                               help_text="Questions are listed by this number.")

    def clean_choices(self):
        parsed, error = scoring.parse_choices(self.cleaned_data.get("choices") or "")
        if error:
            raise forms.ValidationError(error)
        return parsed

    def record_data(self, *, only_changed: bool = False, exclude: tuple[str, ...] = ()) -> dict:
        data = super().record_data(only_changed=only_changed, exclude=exclude)
        if data.get("order") is None:
            data.pop("order", None)
        return data


class QuestionEditForm(EditForm, QuestionForm):
    pass


class DeleteForm(VersionedForm):
    reason = reason_field(label="Reason for deleting")


class ConfirmForm(forms.Form):
    """A confirmation with an optional note (invitations, template creation)."""

    reason = forms.CharField(label="Note for the audit trail", required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"id": "reason", "rows": 2}))


class VersionConfirmForm(VersionedForm):
    reason = forms.CharField(label="Note for the audit trail", required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"id": "reason", "rows": 2}))


class ReopenForm(VersionedForm):
    reason = reason_field(label="Why is the questionnaire reopened?")


class AnswersForm(DraftVersionForm):
    """One field per question (q_<id>), built from the questionnaire."""

    def __init__(self, *args, questions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for question in self.questions:
            name = f"q_{question.pk}"
            label = question.text
            help_text = question.help_text
            if question.kind == "yes_no":
                field = forms.ChoiceField(choices=[("", "—"), *YES_NO.items()], required=False)
            elif question.kind == "number":
                field = forms.CharField(max_length=40, required=False, widget=forms.TextInput(
                    attrs={"inputmode": "decimal"}))
            elif question.kind == "choice":
                field = forms.ChoiceField(choices=[("", "—"), *((c["label"], c["label"])
                                                                for c in question.choices)], required=False)
            else:
                field = forms.CharField(max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
            field.label = label + (" (required to submit)" if question.required else "")
            field.help_text = help_text
            self.fields[name] = field
        self.fields["reason"] = forms.CharField(
            label="Reason for change", required=False, max_length=2000, help_text=OPTIONAL_REASON_HELP,
            widget=forms.Textarea(attrs={"id": "reason", "rows": 2}))

    def answers(self) -> dict[int, object]:
        return {q.pk: self.cleaned_data.get(f"q_{q.pk}") for q in self.questions
                if f"q_{q.pk}" in self.cleaned_data}

    @property
    def question_fields(self):
        return [self[f"q_{q.pk}"] for q in self.questions]


# --- Decision -----------------------------------------------------------------------------------------------

class DecisionForm(VersionedForm):
    decision = forms.ChoiceField(label="Decision", widget=forms.RadioSelect,
                                 choices=[("selected", "Selected"), ("not_selected", "Not selected")])
    reason = reason_field(label="Reason for the decision",
                          help_text="Required. Recorded with the site's status change in the audit trail.")


# --- Template --------------------------------------------------------------------------------------------------

class DefinitionForm(RecordForm):
    key = forms.SlugField(label="Key", max_length=40,
                          help_text="Short identifier, unique in the template (lower-case letters, digits, _ or -). "
                                    "It cannot change later.")
    label = forms.CharField(label="Label", max_length=200)
    order = forms.IntegerField(label="Order", required=False, min_value=0, max_value=100_000)
    mandatory = forms.BooleanField(label="Mandatory: activation is refused until it is done", required=False,
                                   initial=True)
    applies_when = forms.ChoiceField(label="Applies", choices=list(APPLIES_WHEN.items()),
                                     help_text="Where needed: a site may mark it not applicable, with a reason.")
    target_days = forms.IntegerField(label="Target duration (days)", required=False, min_value=0, max_value=3650,
                                     help_text="Planned this many days after its dependencies are done (or after "
                                               "the site's selection when it has none). Empty: planned by hand.")
    depends_on = forms.ModelMultipleChoiceField(label="Depends on", required=False, queryset=None,
                                                widget=forms.CheckboxSelectMultiple,
                                                help_text="It cannot be recorded before these are done.")
    owner_role = forms.ChoiceField(label="Usually owned by", required=False,
                                   choices=[("", "—"), *OWNER_ROLES.items()])

    def __init__(self, *args, definitions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["depends_on"].queryset = definitions
        self.fields["depends_on"].label_from_instance = lambda d: d.label

    def record_data(self, *, only_changed: bool = False, exclude: tuple[str, ...] = ()) -> dict:
        data = super().record_data(only_changed=only_changed, exclude=("depends_on", *exclude))
        if data.get("order") is None:
            data.pop("order", None)
        return data


class DefinitionEditForm(EditForm, DefinitionForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["key"]


# --- Site milestones -----------------------------------------------------------------------------------------

class MilestoneForm(RecordForm, DraftVersionForm):
    planned_date = forms.DateField(label="Planned date", required=False, widget=DATE_INPUT,
                                   help_text="Empty: derived from the template's target durations.")
    actual_date = forms.DateField(label="Actual date", required=False, widget=DATE_INPUT,
                                  help_text="When it was done. Its dependencies must be done first.")
    owner = forms.ModelChoiceField(label="Owner", required=False, queryset=None,
                                   help_text="Empty: everyone who edits start-up at this site sees it in their work.")
    not_applicable = forms.BooleanField(label="Not applicable at this site", required=False)
    not_applicable_reason = forms.CharField(label="Why it does not apply", required=False, max_length=2000,
                                            widget=forms.Textarea(attrs={"rows": 2}))
    notes = forms.CharField(label="Notes", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    reason = forms.CharField(label="Reason for change", required=False, max_length=2000,
                             help_text=OPTIONAL_REASON_HELP, widget=forms.Textarea(attrs={"id": "reason", "rows": 3}))

    def __init__(self, *args, owners=None, applicable_choice: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners
        self.fields["owner"].label_from_instance = lambda u: u.display_name
        if not applicable_choice:
            del self.fields["not_applicable"]
            del self.fields["not_applicable_reason"]
