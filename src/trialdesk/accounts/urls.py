from django.urls import path

from trialdesk.accounts import views

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/", views.account, name="account"),
    path("account/tokens/new/", views.token_create, name="token-create"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("studies/<int:study_id>/team/", views.study_team, name="study-team"),
    path("memberships/<int:membership_id>/revoke/", views.membership_revoke, name="membership-revoke"),
]
