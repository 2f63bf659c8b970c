from django.urls import path

from trialdesk.startup import views

urlpatterns = [
    path("studies/<int:study_id>/startup/", views.startup_tracker, name="startup-tracker"),
    path("studies/<int:study_id>/startup/tracker.xlsx", views.startup_tracker_export, name="startup-tracker-export"),
    path("studies/<int:study_id>/startup/candidates/", views.startup_candidates, name="startup-candidates"),
    path("studies/<int:study_id>/startup/questionnaire/", views.startup_questions, name="startup-questions"),
    path("studies/<int:study_id>/startup/questionnaire/new/", views.startup_question_create,
         name="startup-question-create"),
    path("startup/questions/<int:question_id>/edit/", views.startup_question_edit, name="startup-question-edit"),
    path("startup/questions/<int:question_id>/delete/", views.startup_question_delete,
         name="startup-question-delete"),
    path("studies/<int:study_id>/startup/template/", views.startup_template, name="startup-template"),
    path("studies/<int:study_id>/startup/template/create/", views.startup_template_ensure,
         name="startup-template-ensure"),
    path("studies/<int:study_id>/startup/template/new/", views.startup_definition_create,
         name="startup-definition-create"),
    path("startup/milestones/<int:definition_id>/edit/", views.startup_definition_edit,
         name="startup-definition-edit"),
    path("startup/milestones/<int:definition_id>/delete/", views.startup_definition_delete,
         name="startup-definition-delete"),
    path("sites/<int:site_id>/startup/", views.site_startup, name="site-startup"),
    path("sites/<int:site_id>/startup/feasibility/", views.site_feasibility, name="site-feasibility"),
    path("sites/<int:site_id>/startup/feasibility/invite/", views.site_feasibility_invite,
         name="site-feasibility-invite"),
    path("sites/<int:site_id>/startup/feasibility/reopen/", views.site_feasibility_reopen,
         name="site-feasibility-reopen"),
    path("sites/<int:site_id>/startup/decision/", views.site_selection_decide, name="site-selection-decide"),
    path("sites/<int:site_id>/startup/milestones/<int:definition_id>/", views.site_milestone_edit,
         name="site-milestone-edit"),
]
