"""Run by test_queries.py in a fresh process on an empty SQLite file (the `make run` database): build one case's
rows, call its orders.queries function and print what it read as one JSON line."""

import json
import sys

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from orders.tests.query_cases import CASES  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)
print(json.dumps({"vendor": connection.vendor, "result": CASES[sys.argv[1]]()}))
