from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path

from trialdesk.api import api


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("", include("trialdesk.web_urls")),
]
