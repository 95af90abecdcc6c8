"""`manage.py restore` run as an operator would: in its own process, against its own database."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from ops.tests.backup_helpers import backup_dir, sell, snapshot, throwaway_db  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def manage(target, backup_dir, *args):
    """Run a command against target (a DatabaseTarget, or a DATABASE_URL string) with backups in backup_dir."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    url = target if isinstance(target, str) else target.url()
    env.update(DATABASE_URL=url, BACKUP_DIR=str(backup_dir), DEBUG="True", LOG_LEVEL="WARNING")
    return subprocess.run(
        [sys.executable, str(Path(django_settings.BASE_DIR) / "manage.py"), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_restore_refuses_a_non_empty_database_without_yes_and_with_yes_takes_a_safety_backup_first(
    backup_dir, throwaway_db
):
    sell(3)
    shop = throwaway_db("command")
    taken = manage(shop, backup_dir, "backup", "--kind", "daily")
    assert taken.returncode == 0, taken.stderr
    before = snapshot(shop)

    refused = manage(shop, backup_dir, "restore", "latest")
    assert refused.returncode == 1
    assert "Refused" in refused.stderr and "--yes" in refused.stderr
    assert snapshot(shop) == before
    assert "pre-restore" not in manage(shop, backup_dir, "backup_list").stdout

    restored = manage(shop, backup_dir, "restore", "latest", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "safety backup taken first" in restored.stdout and "counts match the manifest" in restored.stdout
    for step in ("verify", "safety_backup", "restore", "migrate", "total"):
        assert step in restored.stdout
    counts, money = snapshot(shop)
    business = {t for t in before[0] if not t.startswith(("ops_", "django_", "axes_"))}
    assert {t: counts[t] for t in business} == {t: before[0][t] for t in business}
    assert money == before[1]
    listing = manage(shop, backup_dir, "backup_list").stdout
    assert "pre-restore" in listing and "daily" in listing
