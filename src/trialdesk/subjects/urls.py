from django.urls import path

from trialdesk.subjects import views

urlpatterns = [
    path("studies/<int:study_id>/subjects/", views.study_subjects, name="study-subjects"),
    path("studies/<int:study_id>/subjects/new/", views.subject_create, name="subject-create"),
    path("studies/<int:study_id>/subjects/export.csv", views.subject_export, name="subject-export"),
    path("studies/<int:study_id>/subjects/import/", views.subject_import, name="subject-import"),
    path("studies/<int:study_id>/subjects/import/template.<str:fmt>", views.subject_import_template,
         name="subject-import-template"),
    path("studies/<int:study_id>/subjects/settings/", views.subject_settings, name="subject-settings"),
    path("studies/<int:study_id>/consent-forms/", views.study_icf_versions, name="study-icf-versions"),
    path("studies/<int:study_id>/consent-forms/new/", views.icf_version_create, name="icf-version-create"),
    path("consent-forms/<int:icf_id>/edit/", views.icf_version_edit, name="icf-version-edit"),
    path("consent-forms/<int:icf_id>/approve/", views.icf_version_approve, name="icf-version-approve"),
    path("sites/<int:site_id>/subjects/", views.site_subjects, name="site-subjects"),
    path("subjects/<int:subject_id>/", views.subject_detail, name="subject-detail"),
    path("subjects/<int:subject_id>/transition/", views.subject_transition, name="subject-transition"),
    path("subjects/<int:subject_id>/randomize/", views.subject_randomize, name="subject-randomize"),
    path("subjects/<int:subject_id>/consents/new/", views.subject_consent, name="subject-consent"),
    path("subjects/<int:subject_id>/first-dose/", views.subject_first_dose, name="subject-first-dose"),
    path("subjects/<int:subject_id>/delete/", views.subject_delete, name="subject-delete"),
    path("subjects/<int:subject_id>/audit/", views.subject_audit, name="subject-audit"),
]
