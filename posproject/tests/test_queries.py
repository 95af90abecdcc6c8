"""Every function of an app's queries.py gives the same answer on PostgreSQL (this suite's database) and on SQLite
(the `make run` database), where it takes its other branch: each case of queries_cases.py runs here and in a
fresh process on an empty SQLite file, and the two answers must be equal."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from posproject.tests import queries_cases

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def on_sqlite(tmp_path_factory) -> dict:
    """Every case's answer on SQLite, from one process (migrating the file is most of its time)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'queries.sqlite3'}",
            "DEBUG": "True",
            "DJANGO_SETTINGS_MODULE": "posproject.settings",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "posproject/tests/queries_cases.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    assert answer["vendor"] == "sqlite"
    return answer["results"]


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(queries_cases.CASES))
def test_query_answers_the_same_on_postgresql_and_sqlite(case, on_sqlite):
    assert connection.vendor == "postgresql"
    on_postgresql = json.loads(json.dumps(queries_cases.CASES[case]()))

    assert on_postgresql == on_sqlite[case]
