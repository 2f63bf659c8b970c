"""Web forms for organizations and people: parse and render only; the services validate and save."""

from __future__ import annotations

from django import forms
from django.db import models
from django.forms.models import fields_for_model

from trialdesk.core.views_utils import EditForm, RecordForm
from trialdesk.organizations.models import Organization, Person

ORG_FORM_FIELDS = ["name", "kind", "address", "city", "state", "postal_code", "country", "phone", "email", "website"]
PERSON_FORM_FIELDS = ["title", "first_name", "last_name", "degrees", "job_title", "organization", "email", "phone"]


class OrganizationForm(RecordForm):
    pass


def _formfield(model_field, **kwargs):
    if isinstance(model_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return model_field.formfield(**kwargs)


OrganizationForm.base_fields.update(fields_for_model(Organization, fields=ORG_FORM_FIELDS,
                                                     formfield_callback=_formfield))


class OrganizationEditForm(EditForm, OrganizationForm):
    pass


class PersonForm(RecordForm):
    def __init__(self, *args, organizations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations


PersonForm.base_fields.update(fields_for_model(Person, fields=PERSON_FORM_FIELDS))


class PersonEditForm(EditForm, PersonForm):
    pass


class OrganizationFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or city…"}))
    kind = forms.ChoiceField(label="Type", required=False, choices=[("", "Any type"), *Organization.Kind.choices])
    country = forms.CharField(label="Country", required=False, max_length=100)


class PersonFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or e-mail…"}))
