"""What checking a PIN costs: the keyed hash PINs are stored with now (staff.pins.pin_matches) against Django's
password hasher they were stored with before (the production PASSWORD_HASHERS: PBKDF2-SHA256 with Django's
iteration count), and the whole `verify_pin` (the row lock, the check, the audit row) on PostgreSQL.

It needs no server: Django is set up with the production hashers on a throwaway PostgreSQL database (created and
migrated when missing). Each figure is the time of one check, over `--runs` checks (the old hasher: a hundredth as many,
it is slow); it prints p50/p95/max per kind and exits non-zero when the keyed check's p95 is 5 ms or more (the
whole verify_pin is printed beside it: its row lock, audit row and commit are database work any check has).

    .venv/bin/python bench/pin_check.py
    .venv/bin/python bench/pin_check.py --runs 2000
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import product_search as catalogue  # noqa: E402 - the shared database helpers live next to this script

BUDGET_MS = 5.0


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def describe(name: str, values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"{name:<34}{statistics.median(values):>9.3f}{p95:>9.3f}{values[-1]:>9.3f}{len(values):>7}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/tillhouse_bench_pin")
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    env = {
        "DJANGO_SETTINGS_MODULE": "posproject.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": "",
        "DEBUG": "False",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "localhost",
        "LOG_LEVEL": "WARNING",
    }
    catalogue.ensure_database(args.database_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import check_password, make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from staff import pins

    call_command("migrate", verbosity=0, interactive=False)
    user, _ = User.objects.get_or_create(username="bench-pin-waiter")
    pins.set_pin(user=user, pin="583920")
    keyed = pins.hash_pin("583920", user.pk)
    old = make_password("583920")

    print(f"hasher before: {settings.PASSWORD_HASHERS[0].rsplit('.', 1)[-1]} ({old.split('$')[1]} iterations)")
    print(f"{'ms per check':<34}{'p50':>9}{'p95':>9}{'max':>9}{'runs':>7}")
    results = {
        "password hasher (before)": timed(lambda: check_password("583920", old), max(5, args.runs // 100)),
        "keyed hash (now)": timed(lambda: pins.pin_matches("583920", user.pk, keyed), args.runs),
        "verify_pin, whole (now, PostgreSQL)": timed(lambda: pins.verify_pin(user_id=user.pk, pin="583920"), args.runs),
    }
    for name, values in results.items():
        print(describe(name, values))
    check = sorted(results["keyed hash (now)"])
    p95 = check[int(len(check) * 0.95)]
    ok = p95 < BUDGET_MS
    print(f"budget: the PIN check p95 < {BUDGET_MS:g} ms: {'OK' if ok else 'OVER'} ({p95:.3f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
