import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _settings_in_fresh_process(env: dict, expression: str):
    clean = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}}
    clean.update(env)
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({expression}, default=str))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_service_urls_the_product_runs_on_sqlite_eager_celery_and_local_memory_cache():
    result = _settings_in_fresh_process(
        {"DEBUG": "True"},
        "[settings.DATABASES['default']['ENGINE'], str(settings.DATABASES['default']['NAME']), "
        "settings.CELERY_TASK_ALWAYS_EAGER, settings.CACHES['default']['BACKEND']]",
    )
    engine, name, eager, cache = result
    assert engine == "django.db.backends.sqlite3"
    assert name.endswith("var/tillhouse.sqlite3")
    assert eager is True
    assert cache == "django.core.cache.backends.locmem.LocMemCache"


def test_with_service_urls_the_product_uses_postgresql_and_redis():
    result = _settings_in_fresh_process(
        {
            "DEBUG": "True",
            "DATABASE_URL": "postgres://pos:pw@db.internal:5432/pos",
            "REDIS_URL": "redis://cache.internal:6379/0",
        },
        "[settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['CONN_HEALTH_CHECKS'], "
        "settings.CELERY_TASK_ALWAYS_EAGER, settings.CELERY_BROKER_URL, settings.CACHES['default']['BACKEND']]",
    )
    assert result == [
        "django_prometheus.db.backends.postgresql",
        True,
        False,
        "redis://cache.internal:6379/0",
        "ops.cache.InstrumentedRedisCache",  # Django's RedisCache with hit/miss metrics
    ]


def test_production_refuses_to_start_without_a_secret_key():
    clean = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "SECRET_KEY", "DEBUG"}}
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "SECRET_KEY must be set" in out.stderr


def test_check_deploy_passes_with_production_values():
    clean = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}}
    clean.update(
        {
            "DEBUG": "False",
            "SECRET_KEY": "k3J9vQ2xP7mZ4tB8nW1yR6uE5oA0sD3fG9hL2jC7vX4bN8mQ1w",
            "ALLOWED_HOSTS": "pos.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://pos.example.com",
        }
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_the_test_suite_runs_on_postgresql():
    assert settings.DATABASE_ENGINE == "postgresql"
