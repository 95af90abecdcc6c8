from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Ops"

    def ready(self):
        from celery import signals

        from core import writes
        from ops import maintenance
        from ops.logging import forget_request_id_after_task, restore_request_id_in_task, stamp_request_id_on_task

        signals.before_task_publish.connect(stamp_request_id_on_task, dispatch_uid="ops.stamp_request_id")
        signals.task_prerun.connect(restore_request_id_in_task, dispatch_uid="ops.restore_request_id")
        signals.task_postrun.connect(forget_request_id_after_task, dispatch_uid="ops.forget_request_id")
        # The lower floors (sessions, API tokens, the idle sign-out) skip their incidental writes during a restore.
        writes.feed(maintenance.active)
