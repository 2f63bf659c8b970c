from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_cache_tables(using, **kwargs):
    # The default cache is a database table (shared by every app server): `migrate` creates it, so a
    # deployment needs no separate `createcachetable` step. A no-op for other cache backends.
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class CoreConfig(AppConfig):
    name = "trialdesk.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from trialdesk.core import checks  # noqa: F401 - registers the deployment checks
        post_migrate.connect(_create_cache_tables, sender=self, dispatch_uid="trialdesk.core.cache_tables")
