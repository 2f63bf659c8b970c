from django.urls import path

from trialdesk.audit import views

urlpatterns = [
    path("audit/<str:record_type>/<str:record_id>/", views.record_history, name="audit-record"),
    path("audit/<str:record_type>/<str:record_id>/export.csv", views.record_history_export,
         name="audit-record-export"),
    path("studies/<int:study_id>/audit/", views.study_history, name="study-audit"),
    path("studies/<int:study_id>/audit/export.csv", views.study_history_export, name="study-audit-export"),
]
