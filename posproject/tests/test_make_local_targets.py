"""After `make run`, the Makefile targets that act on the same installation (backup, drill, restore …) work with
the same development defaults: no SECRET_KEY to set, no ImproperlyConfigured crash."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif((ROOT / ".env").exists(), reason="a .env file configures this checkout")


def _make(target: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PYTEST_VERSION", "DJANGO_SETTINGS_MODULE"}
        and not key.startswith(("PYTEST_", "TEST_"))
    }
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'pos.sqlite3'}", "BACKUP_DIR": str(tmp_path / "backups")}
    return subprocess.run(
        ["make", "-s", target, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_backup_drill_and_restore_work_with_the_development_defaults_of_make_run(tmp_path):
    for target in ("migrate", "backup", "drill"):
        done = _make(target, tmp_path)
        assert done.returncode == 0, f"make {target}: {done.stdout[-800:]}{done.stderr[-1500:]}"
        assert "SECRET_KEY must be set" not in done.stderr
    assert "succeeded" in _make("backup", tmp_path, "KIND=manual").stdout
    assert list((tmp_path / "backups").rglob("*.sqlite3"))
    restored = _make("restore", tmp_path, "BACKUP=latest", "YES=1")
    assert restored.returncode == 0, restored.stderr[-1500:]
