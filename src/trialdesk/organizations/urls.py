from django.urls import path

from trialdesk.organizations import views

urlpatterns = [
    path("organizations/", views.organization_list, name="organization-list"),
    path("organizations/new/", views.organization_create, name="organization-create"),
    path("organizations/<int:org_id>/", views.organization_detail, name="organization-detail"),
    path("organizations/<int:org_id>/edit/", views.organization_edit, name="organization-edit"),
    path("organizations/<int:org_id>/audit/", views.organization_audit, name="organization-audit"),
    path("people/", views.person_list, name="person-list"),
    path("people/new/", views.person_create, name="person-create"),
    path("people/<int:person_id>/", views.person_detail, name="person-detail"),
    path("people/<int:person_id>/edit/", views.person_edit, name="person-edit"),
    path("people/<int:person_id>/audit/", views.person_audit, name="person-audit"),
]
