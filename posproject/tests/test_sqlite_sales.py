"""The embedded SQLite database (`make run`) sells, takes payments, refunds and checks out over the API through the
same services as PostgreSQL, whose hand-written statements it does not share (core/sql.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from billing.tests.printer_standin import PrinterStandin

ROOT = Path(__file__).resolve().parents[2]
DEAF_PRINTER_PORT, PRINTER_PORT = 8343, 8344


def _run_in_make_run_mode(script: str, tmp_path, **extra_env) -> dict:
    """Run `script` as `make run` runs the product: SQLite, no Redis (Celery eager, local-memory cache)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
            "DEBUG": "True",
            "ALLOWED_HOSTS": "testserver",
            "DJANGO_SETTINGS_MODULE": "posproject.settings",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
            **{key: str(value) for key, value in extra_env.items()},
        }
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "posproject/tests" / script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_sales_on_sqlite_number_receipts_move_stock_and_link_their_rows(tmp_path):
    result = _run_in_make_run_mode("sqlite_sales.py", tmp_path)

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


def test_in_make_run_mode_a_printer_that_never_reads_does_not_hold_the_checkout(tmp_path):
    """Eager tasks (no Redis) run in the web process: the receipt is sent after the response, so a printer that
    accepts and never reads (which holds a send for PRINT_SEND_TIMEOUT) cannot delay the sale; its job still ends
    `uncertain` (bytes may be on paper), a healthy printer's job ends `printed`, and a job an earlier process left
    queued is still sent (nothing runs beat in this mode)."""
    deaf, healthy = PrinterStandin(DEAF_PRINTER_PORT, mode="deaf"), PrinterStandin(PRINTER_PORT, mode="print")
    try:
        result = _run_in_make_run_mode(
            "sqlite_printing.py",
            tmp_path,
            DEAF_PRINTER_PORT=DEAF_PRINTER_PORT,
            PRINTER_PORT=PRINTER_PORT,
            PRINT_SEND_TIMEOUT=5,  # the default is 15 s; any send timeout above a second proves the point
        )
    finally:
        deaf.stop()
        healthy.stop()

    assert (result["eager"], result["vendor"]) == (True, "sqlite")
    assert result["deaf"]["status"] == 201
    assert result["deaf"]["seconds"] < 1.0, result
    assert result["deaf"]["jobs"] == ["uncertain"], result
    assert "may have printed" in result["deaf"]["error"]
    assert deaf.connections == 1  # tried once, never re-sent
    assert result["healthy"]["status"] == 201
    assert result["healthy"]["seconds"] < 1.0, result
    assert result["healthy"]["jobs"] == ["printed"], result
    assert result["left_queued"] == "printed"  # the sender sweeps what an earlier process left queued
    assert len(healthy.jobs) == 2 and b"Tea" in b"".join(healthy.jobs) and b"Left queued" in b"".join(healthy.jobs)
