"""Web forms for studies: they parse and render input; the services validate and save."""

from __future__ import annotations

from django import forms
from django.forms.models import fields_for_model

from trialdesk.core.views_utils import EditForm, RecordForm, VersionedForm
from trialdesk.studies.lifecycle import STUDY_STATUSES
from trialdesk.studies.models import KEY_DATES, PHASES, Arm, Intervention, ProtocolVersion, Study

# ClinicalTrials.gov API v2 enumerations, stored as registered.
ALLOCATION = [("RANDOMIZED", "Randomized"), ("NON_RANDOMIZED", "Non-randomized"), ("NA", "Not applicable")]
INTERVENTION_MODEL = [("SINGLE_GROUP", "Single group"), ("PARALLEL", "Parallel"), ("CROSSOVER", "Crossover"),
                      ("FACTORIAL", "Factorial"), ("SEQUENTIAL", "Sequential")]
PRIMARY_PURPOSE = [("TREATMENT", "Treatment"), ("PREVENTION", "Prevention"), ("DIAGNOSTIC", "Diagnostic"),
                   ("ECT", "Educational / counseling / training"), ("SUPPORTIVE_CARE", "Supportive care"),
                   ("SCREENING", "Screening"), ("HEALTH_SERVICES_RESEARCH", "Health services research"),
                   ("BASIC_SCIENCE", "Basic science"), ("DEVICE_FEASIBILITY", "Device feasibility"),
                   ("OTHER", "Other")]
MASKING = [("NONE", "None (open label)"), ("SINGLE", "Single"), ("DOUBLE", "Double"), ("TRIPLE", "Triple"),
           ("QUADRUPLE", "Quadruple")]
WHO_MASKED = [("PARTICIPANT", "Participant"), ("CARE_PROVIDER", "Care provider"), ("INVESTIGATOR", "Investigator"),
              ("OUTCOMES_ASSESSOR", "Outcomes assessor")]
ARM_TYPES = [("EXPERIMENTAL", "Experimental"), ("ACTIVE_COMPARATOR", "Active comparator"),
             ("PLACEBO_COMPARATOR", "Placebo comparator"), ("SHAM_COMPARATOR", "Sham comparator"),
             ("NO_INTERVENTION", "No intervention"), ("OTHER", "Other")]
INTERVENTION_KINDS = [("DRUG", "Drug"), ("BIOLOGICAL", "Biological"), ("DEVICE", "Device"),
                      ("PROCEDURE", "Procedure"), ("RADIATION", "Radiation"), ("BEHAVIORAL", "Behavioral"),
                      ("GENETIC", "Genetic"), ("DIETARY_SUPPLEMENT", "Dietary supplement"),
                      ("COMBINATION_PRODUCT", "Combination product"), ("DIAGNOSTIC_TEST", "Diagnostic test"),
                      ("OTHER", "Other")]

def code_label(choices: list[tuple[str, str]], value) -> str:
    """The label of a registry code, or the code itself when we do not know it."""
    if isinstance(value, list):
        return ", ".join(code_label(choices, v) for v in value)
    return dict(choices).get(value, value or "")


def design_summary(study) -> list[tuple[str, str]]:
    masking = code_label(MASKING, study.masking)
    if study.who_masked:
        masking = f"{masking} ({code_label(WHO_MASKED, study.who_masked)})"
    return [("Allocation", code_label(ALLOCATION, study.allocation)),
            ("Intervention model", code_label(INTERVENTION_MODEL, study.intervention_model)),
            ("Primary purpose", code_label(PRIMARY_PURPOSE, study.primary_purpose)),
            ("Masking", masking)]


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def coded_choice(label: str, choices: list[tuple[str, str]], help_text: str = "") -> forms.ChoiceField:
    """A select over registry codes; `keep_current` later adds an imported value we do not list."""
    return forms.ChoiceField(label=label, required=False, choices=[("", "—"), *choices], help_text=help_text)


def keep_current(field: forms.ChoiceField, current) -> None:
    known = {value for value, _ in field.choices}
    values = current if isinstance(current, list) else [current]
    extra = [(v, v.replace("_", " ").capitalize()) for v in values if v and v not in known]
    if extra:
        field.choices = [*field.choices, *extra]


class LinesField(forms.CharField):
    """A list of short texts entered one per line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(v) for v in value)
        return value


class RegistryIdsField(forms.CharField):
    """Other registry identifiers, one "type: id" per line (e.g. "EudraCT: 2015-001234-12")."""

    widget = forms.Textarea(attrs={"rows": 2})

    def to_python(self, value):
        items = []
        for line in (super().to_python(value) or "").splitlines():
            if not line.strip():
                continue
            kind, sep, ident = line.partition(":")
            items.append({"type": kind.strip(), "id": ident.strip()} if sep else {"type": "", "id": kind.strip()})
        return items

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(f"{v.get('type')}: {v.get('id')}" if v.get("type") else str(v.get("id", ""))
                             for v in value if isinstance(v, dict))
        return value


class CodeSetField(forms.MultipleChoiceField):
    """Checkboxes for a set of codes; order is canonical so re-saving unchanged input is no change."""

    widget = forms.CheckboxSelectMultiple

    def clean(self, value):
        chosen = set(super().clean(value))
        return [code for code, _ in self.choices if code in chosen]

    def has_changed(self, initial, data):
        return set(initial or []) != set(data or [])


def _model_fields(model, names: list[str], **widgets) -> dict:
    return fields_for_model(model, fields=names, widgets=widgets)


GENERAL_FIELDS = ["protocol_number", "nct_id", "acronym", "brief_title", "official_title", "summary",
                  "study_type", "therapeutic_area", "planned_enrollment", "sponsor"]


class StudyForm(RecordForm):
    """Identification, design, enrollment target, sponsor and collaborators."""

    phases = CodeSetField(label="Phase", required=False, choices=PHASES)
    conditions = LinesField(label="Conditions", required=False, help_text="One condition per line.")
    keywords = LinesField(label="Keywords", required=False, help_text="One keyword per line.")
    other_ids = RegistryIdsField(label="Other registry IDs", required=False,
                                 help_text='One per line as "type: id", e.g. "EudraCT: 2015-001234-12".')
    collaborators = forms.ModelMultipleChoiceField(label="Collaborators", required=False, queryset=None,
                                                   help_text="Hold Ctrl (Cmd on a Mac) to choose several.")
    allocation = coded_choice("Allocation", ALLOCATION)
    intervention_model = coded_choice("Intervention model", INTERVENTION_MODEL)
    primary_purpose = coded_choice("Primary purpose", PRIMARY_PURPOSE)
    masking = coded_choice("Masking", MASKING)
    who_masked = CodeSetField(label="Who is masked", required=False, choices=WHO_MASKED)

    def __init__(self, *args, organizations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sponsor"].queryset = organizations
        self.fields["collaborators"].queryset = organizations
        self.fields["nct_id"].help_text = "ClinicalTrials.gov identifier, e.g. NCT01234567."
        for name in ("allocation", "intervention_model", "primary_purpose", "masking", "who_masked"):
            keep_current(self.fields[name], self.initial.get(name))

    def clean_nct_id(self):
        value = self.cleaned_data.get("nct_id")
        return value.strip().upper() if value else None


StudyForm.base_fields.update(_model_fields(Study, GENERAL_FIELDS, summary=forms.Textarea(attrs={"rows": 4}),
                                           official_title=forms.Textarea(attrs={"rows": 2})))


class StudyEditForm(EditForm, StudyForm):
    pass


class EligibilityEditForm(EditForm):
    field_order = ["eligibility_criteria", "sex", "minimum_age", "maximum_age", "healthy_volunteers"]
    healthy_volunteers = forms.NullBooleanField(label="Accepts healthy volunteers", required=False)


EligibilityEditForm.base_fields.update(
    _model_fields(Study, ["eligibility_criteria", "sex", "minimum_age", "maximum_age"],
                  eligibility_criteria=forms.Textarea(attrs={"rows": 12})))

KEY_DATE_FIELDS = [f"{kind}_{key}" for key, _ in KEY_DATES for kind in ("planned", "actual")]


class KeyDatesEditForm(EditForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(KEY_DATES)
        for key, label in labels.items():
            self.fields[f"planned_{key}"].label = f"{label}: planned"
            self.fields[f"actual_{key}"].label = f"{label}: actual"


KeyDatesEditForm.base_fields.update(
    _model_fields(Study, KEY_DATE_FIELDS, **dict.fromkeys(KEY_DATE_FIELDS, DATE_INPUT)))


class ArmForm(RecordForm):
    field_order = ["label", "arm_type", "planned_enrollment", "description"]
    arm_type = coded_choice("Arm type", ARM_TYPES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        keep_current(self.fields["arm_type"], self.initial.get("arm_type"))


ArmForm.base_fields.update(_model_fields(Arm, ["label", "description", "planned_enrollment"],
                                         description=forms.Textarea(attrs={"rows": 3})))
ArmForm.base_fields["label"].label = "Arm label"


class ArmEditForm(EditForm, ArmForm):
    pass


class InterventionForm(RecordForm):
    field_order = ["name", "kind", "other_names", "description", "arms"]
    kind = coded_choice("Type", INTERVENTION_KINDS)
    other_names = LinesField(label="Other names", required=False, help_text="One name per line.")
    arms = forms.TypedMultipleChoiceField(label="Given in arms", required=False, coerce=int,
                                          widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, arms=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["arms"].choices = [(arm.pk, arm.label) for arm in arms]
        keep_current(self.fields["kind"], self.initial.get("kind"))

    def record_data(self, **kwargs) -> dict:
        return super().record_data(exclude=("arms",), **kwargs)


InterventionForm.base_fields.update(_model_fields(Intervention, ["name", "description"],
                                                  description=forms.Textarea(attrs={"rows": 3})))
InterventionForm.base_fields["name"].label = "Intervention name"


class InterventionEditForm(EditForm, InterventionForm):
    pass


PROTOCOL_FORM_FIELDS = ["version_number", "version_date", "amendment_number", "summary_of_changes"]


class ProtocolVersionForm(RecordForm):
    pass


ProtocolVersionForm.base_fields.update(
    _model_fields(ProtocolVersion, PROTOCOL_FORM_FIELDS, version_date=DATE_INPUT,
                  summary_of_changes=forms.Textarea(attrs={"rows": 5})))


class ProtocolVersionEditForm(EditForm, ProtocolVersionForm):
    pass


class ApproveForm(VersionedForm):
    """Electronic signature: the password is re-entered for every signature (21 CFR 11.200(a))."""

    password = forms.CharField(
        label="Your password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "id": "signature-password"}),
        help_text="Re-enter your password to sign. This is your legally binding electronic signature.")
    comment = forms.CharField(label="Comment (optional)", required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 2}))


class PortfolioFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Protocol, title, NCT ID…"}))
    phase = forms.ChoiceField(label="Phase", required=False, choices=[("", "Any phase"), *PHASES])

    status = forms.ChoiceField(label="Status", required=False,
                               choices=[("", "Any status"), *STUDY_STATUSES.items()])
