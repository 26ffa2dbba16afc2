from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"
    verbose_name = "Dataset catalog"

    def ready(self):
        from django_q.signals import post_spawn

        post_spawn.connect(recover_on_worker_start, dispatch_uid="catalog.recover_on_worker_start")


def recover_on_worker_start(sender, proc_name, **kwargs):
    """A worker that starts picks up downloads whose worker died (the queue may have lost them)."""
    import logging

    from catalog import services

    try:
        services.recover_stale()
    except Exception:  # Never keep a worker from starting; the minutely schedule tries again.
        logging.getLogger(__name__).exception("Recovery pass at worker start failed")
