from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"
    verbose_name = "Dataset catalog"

    def ready(self):
        from django_q.signals import post_spawn, pre_execute

        post_spawn.connect(on_worker_start, dispatch_uid="catalog.on_worker_start")
        pre_execute.connect(on_task_start, dispatch_uid="catalog.on_task_start")


def on_worker_start(sender, proc_name, **kwargs):
    """A django-q2 worker process starts: SIGTERM hands its running download back (catalog.runs)."""
    from catalog import runs

    runs.install_shutdown_handler()


def on_task_start(sender, func, task, **kwargs):
    """A worker process starts one of our tasks: it holds it now (catalog.taskqueue)."""
    from catalog import taskqueue

    taskqueue.note_task_start(task)
