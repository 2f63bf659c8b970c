from django.urls import path

from trialdesk.visits import views

urlpatterns = [
    path("protocol-versions/<int:pv_id>/schedule/", views.protocol_schedule, name="protocol-schedule"),
    path("protocol-versions/<int:pv_id>/schedule/new/", views.visit_definition_create,
         name="visit-definition-create"),
    path("protocol-versions/<int:pv_id>/schedule/copy/", views.protocol_schedule_copy, name="protocol-schedule-copy"),
    path("visit-definitions/<int:definition_id>/edit/", views.visit_definition_edit, name="visit-definition-edit"),
    path("visit-definitions/<int:definition_id>/delete/", views.visit_definition_delete,
         name="visit-definition-delete"),
    path("studies/<int:study_id>/visits/", views.study_visits, name="study-visits"),
    path("studies/<int:study_id>/visits.ics", views.study_visits_ics, name="study-visits-ics"),
    path("studies/<int:study_id>/visits/deviations/", views.study_visit_deviations, name="study-visit-deviations"),
    path("sites/<int:site_id>/visits/", views.site_visits, name="site-visits"),
    path("visits/<int:visit_id>/record/", views.subject_visit_record, name="subject-visit-record"),
    path("visits/<int:visit_id>/missed/", views.subject_visit_missed, name="subject-visit-missed"),
    path("visits/my-feed/", views.visits_feed_info, name="visits-feed-info"),
    # Open to calendar apps (no login): the signed token is the credential. See core.middleware.
    path("visits/feed/<str:token>.ics", views.visits_feed, name="visits-feed"),
]
