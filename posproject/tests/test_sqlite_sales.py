"""The embedded SQLite database (`make run`) sells, takes payments, refunds and checks out over the API through the
same services as PostgreSQL, whose hand-written statements it does not share (posproject/sql.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sales_on_sqlite_number_receipts_move_stock_and_link_their_rows(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
            "DEBUG": "True",
            "ALLOWED_HOSTS": "testserver",
            "DJANGO_SETTINGS_MODULE": "posproject.settings",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "posproject/tests/sqlite_sales.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])

    assert result["vendor"] == "sqlite"
    assert result["change"] == "1.80"  # 2 × 2.50 + 3.20 = 8.20 paid with 10.00
    assert result["sale_lines"] == [True, True] and result["sale_job_receipt"] is True
    assert (result["api_status"], result["api_receipt"], result["refused_status"]) == (201, 3, 403)
    assert result["receipts"] == [[1, "sale"], [2, "sale"], [3, "sale"], [4, "refund"]]
    assert result["last_receipt_number"] == 4
    assert result["paid_status"] == "paid"
    assert (result["payments"], result["lines"]) == (3, 4)
    assert [number for number, _ in result["jobs"]] == [1, 2, 3, 4]  # one receipt job each (no printer: failed)
    assert result["on_hand"] == {"TEA": "8.000", "CAKE": "7.000"}  # 10 − 2 − 1 + 1 refunded; 10 − 1 − 2
    assert result["ledger_mismatches"] == 0
