from django.conf import settings

from posproject.celery import app


def test_time_limits_are_ordered_soft_then_hard_then_visibility_timeout():
    soft = app.conf.task_soft_time_limit
    hard = app.conf.task_time_limit
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert 0 < soft < hard < visibility


def test_tasks_are_acknowledged_late_json_only_and_scheduled_in_utc():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"
    assert app.conf.timezone == "UTC"


def test_the_suite_talks_to_a_real_redis_broker():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert app.conf.task_always_eager is False
