from django.urls import path

from trialdesk.sites import views

urlpatterns = [
    path("studies/<int:study_id>/sites/", views.study_sites, name="study-sites"),
    path("studies/<int:study_id>/sites/new/", views.site_create, name="site-create"),
    path("sites/<int:site_id>/", views.site_detail, name="site-detail"),
    path("sites/<int:site_id>/edit/", views.site_edit, name="site-edit"),
    path("sites/<int:site_id>/transition/", views.site_transition, name="site-transition"),
    path("sites/<int:site_id>/audit/", views.site_audit, name="site-audit"),
]
