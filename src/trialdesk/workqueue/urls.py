from django.urls import path

from trialdesk.workqueue import views

urlpatterns = [
    path("my-work/", views.my_work, name="my-work"),
]
