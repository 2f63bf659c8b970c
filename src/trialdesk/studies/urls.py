from django.urls import path

from trialdesk.studies import views

urlpatterns = [
    path("", views.portfolio, name="portfolio"),
    path("studies/new/", views.study_create, name="study-create"),
    path("studies/<int:study_id>/", views.study_detail, name="study-detail"),
    path("studies/<int:study_id>/edit/", views.study_edit, name="study-edit"),
    path("studies/<int:study_id>/transition/", views.study_transition, name="study-transition"),
    path("studies/<int:study_id>/arms/", views.study_arms, name="study-arms"),
    path("studies/<int:study_id>/arms/new/", views.arm_create, name="arm-create"),
    path("studies/<int:study_id>/interventions/new/", views.intervention_create, name="intervention-create"),
    path("studies/<int:study_id>/eligibility/", views.study_eligibility, name="study-eligibility"),
    path("studies/<int:study_id>/eligibility/edit/", views.study_eligibility_edit, name="study-eligibility-edit"),
    path("studies/<int:study_id>/protocol-versions/", views.study_protocols, name="study-protocols"),
    path("studies/<int:study_id>/protocol-versions/new/", views.protocol_version_create,
         name="protocol-version-create"),
    path("studies/<int:study_id>/dates/", views.study_dates, name="study-dates"),
    path("studies/<int:study_id>/dates/edit/", views.study_dates_edit, name="study-dates-edit"),
    path("arms/<int:arm_id>/edit/", views.arm_edit, name="arm-edit"),
    path("interventions/<int:intervention_id>/edit/", views.intervention_edit, name="intervention-edit"),
    path("protocol-versions/<int:pv_id>/edit/", views.protocol_version_edit, name="protocol-version-edit"),
    path("protocol-versions/<int:pv_id>/approve/", views.protocol_version_approve, name="protocol-version-approve"),
]
