from django.urls import path

from trialdesk.staff import views

urlpatterns = [
    path("sites/<int:site_id>/staff/", views.site_staff, name="site-staff"),
    path("sites/<int:site_id>/staff/new/", views.staff_create, name="staff-create"),
    path("sites/<int:site_id>/staff/roster.xlsx", views.roster_export, name="staff-roster-export"),
    path("sites/<int:site_id>/staff/delegation-log.<str:fmt>", views.delegation_log_export,
         name="delegation-log-export"),
    path("sites/<int:site_id>/delegations/new/", views.delegation_create, name="delegation-create"),
    path("staff/<int:staff_id>/edit/", views.staff_edit, name="staff-edit"),
    path("staff/<int:staff_id>/delete/", views.staff_delete, name="staff-delete"),
    path("delegations/<int:delegation_id>/edit/", views.delegation_edit, name="delegation-edit"),
    path("delegations/<int:delegation_id>/sign/", views.delegation_sign, name="delegation-sign"),
    path("delegations/<int:delegation_id>/end/", views.delegation_end, name="delegation-end"),
    path("delegations/<int:delegation_id>/withdraw/", views.delegation_withdraw, name="delegation-withdraw"),
]
