from django.urls import path

from trialdesk.enrollment import views

urlpatterns = [
    path("studies/<int:study_id>/enrollment/", views.study_enrollment, name="study-enrollment"),
    path("studies/<int:study_id>/enrollment/plan/", views.enrollment_plan, name="enrollment-plan"),
    path("studies/<int:study_id>/enrollment/plan/new/", views.enrollment_plan_create, name="enrollment-plan-create"),
    path("studies/<int:study_id>/enrollment/plan/edit/", views.enrollment_plan_edit, name="enrollment-plan-edit"),
    path("studies/<int:study_id>/enrollment/plan/rebaseline/", views.enrollment_plan_rebaseline,
         name="enrollment-plan-rebaseline"),
    path("studies/<int:study_id>/enrollment/plan/entries/new/", views.enrollment_entry_create,
         name="enrollment-entry-create"),
    path("studies/<int:study_id>/enrollment/plan/entries/generate/", views.enrollment_entries_generate,
         name="enrollment-entries-generate"),
    path("enrollment/entries/<int:entry_id>/edit/", views.enrollment_entry_edit, name="enrollment-entry-edit"),
    path("enrollment/entries/<int:entry_id>/delete/", views.enrollment_entry_delete, name="enrollment-entry-delete"),
    path("studies/<int:study_id>/enrollment/what-if/", views.enrollment_what_if, name="enrollment-what-if"),
]
