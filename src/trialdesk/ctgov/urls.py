from django.urls import path

from trialdesk.ctgov import views

urlpatterns = [
    path("imports/ctgov/", views.ctgov_import, name="ctgov-import"),
]
