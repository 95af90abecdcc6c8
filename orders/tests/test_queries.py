"""Each function of orders.queries reads the same thing on PostgreSQL (its hand-written statement) and on the
embedded SQLite database (its ORM twin): the same rows are built on both, the function runs on both, the answers
are compared field by field and type by type."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from orders.tests.query_cases import CASES

ROOT = Path(__file__).resolve().parents[2]


def _on_sqlite(case: str, tmp_path) -> dict:
    """`case` in a fresh process on an empty SQLite file, as `make run` runs the product (no Redis either)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'queries.sqlite3'}",
            "DEBUG": "True",
            "DJANGO_SETTINGS_MODULE": "posproject.settings",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "orders/tests/sqlite_queries.py"), case],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["vendor"] == "sqlite"
    return answer["result"]


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_postgresql_statement_and_its_orm_twin_read_the_same(case, tmp_path):
    assert connection.vendor == "postgresql"
    on_postgresql = json.loads(json.dumps(CASES[case]()))

    on_sqlite = _on_sqlite(case, tmp_path)

    assert on_postgresql == on_sqlite
