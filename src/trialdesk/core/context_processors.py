from django.conf import settings

from trialdesk import __version__


def trialdesk(request):
    return {
        "TRIALDESK_VERSION": __version__,
        "DEMO_MODE": settings.DEMO_MODE,
        "SESSION_IDLE_MINUTES": settings.SESSION_IDLE_MINUTES,
    }
