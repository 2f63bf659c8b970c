from django.http import HttpResponse


def lockout_response(request, credentials=None, *args, **kwargs):
    return HttpResponse("Account locked", status=403)
