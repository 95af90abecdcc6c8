"""The end-of-day accounting export: its figures are the reports' and the Z's, and it reaches the bookkeeper as
JSON and CSV through the API, the admin and the nightly task (files in the backups storage under exports/)."""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from rest_framework.test import APIClient

from billing import accounting, reports, sessions
from billing.models import CashSession, ZReport
from billing.tasks import export_accounting_day
from billing.tests.rollup_history import History, build
from billing.tests.test_figures_property import Clock, world  # noqa: F401  (the two stores and their catalogue)
from inventory.tests.factories import LocationFactory
from staff.api_clients import create_api_client

D = Decimal
NOTIFIED: list[tuple[str, str, dict]] = []


def collect(event: str, message: str, data: dict) -> None:
    NOTIFIED.append((event, message, data))


@pytest.fixture
def history(world):  # noqa: F811
    clock = Clock()
    with mock.patch("django.utils.timezone.now", clock):
        yield build(world, clock)


def _close_over(history: History, over: Decimal) -> None:
    """Close today's tills with `over` more cash in the drawer than expected (the manager signs off)."""
    for session_id in history.open_sessions:
        expected = sessions.expected_cash(CashSession.objects.get(pk=session_id))
        cents = int((expected + over) * 100)
        sessions.close_session(session_id=session_id, user=history.world.user, denominations={"0.01": cents})


def test_the_export_posts_the_days_figures_as_the_report_and_the_z_give_them(history: History):
    _close_over(history, D("0.40"))
    store = history.world.stores[0]

    export = accounting.day_export(store, history.today)

    summary = reports.summary(reports.period(location=store, date_from=history.today, date_to=history.today))
    (z,) = ZReport.objects.filter(register__location=store, session__closed_at__date=history.today)
    assert export["revenue"]["net_sales"] == str(summary["net_sales"]) == z.data["net_sales"]
    assert export["revenue"]["tax"] == str(summary["tax"]) == z.data["tax_total"]
    assert export["tips"] == str(summary["tips"]) == z.data["tips"]
    assert [(r["rate"], r["base"], r["tax"]) for r in export["revenue"]["by_tax_rate"]] == [
        (r["name"], r["net_base"], r["net_tax"]) for r in z.data["tax_rates"]
    ]
    assert {t["tender"]: t["net"] for t in export["tenders"]} == {t["tender"]: t["net"] for t in z.data["tenders"]}
    assert export["cash"] == {
        "z_reports": [
            {
                "register": z.register.name,
                "z_number": z.number,
                "closed_at": mock.ANY,
                "expected": z.data["cash"]["expected"],
                "counted": z.data["cash"]["counted"],
                "over_short": "0.40",
            }
        ],
        "over_short": "0.40",
    }


def test_a_day_with_vouchers_and_refunds_shows_them(history: History):
    # day one: a voucher half-payment at the exclusive store; day two: refunds at both stores
    excl, incl = history.world.stores[1], history.world.stores[0]
    first = accounting.day_export(excl, history.first_day)
    voucher = next(t for t in first["tenders"] if t["tender"] == "voucher")
    assert first["vouchers"] == {"taken": voucher["taken"], "refunded": voucher["refunded"]}
    assert D(voucher["taken"]) > 0
    second = accounting.day_export(incl, history.first_day + timedelta(days=1))
    assert second["refunds"]["count"] >= 1 and D(second["refunds"]["amount"]) > 0


def test_the_csv_has_one_line_per_figure(history: History):
    export = accounting.day_export(history.world.stores[0], history.first_day)

    rows = list(csv.DictReader(io.StringIO(accounting.as_csv(export))))

    assert {row["store"] for row in rows} == {"incl"}
    assert {row["day"] for row in rows} == {history.first_day.isoformat()}
    found = {(row["section"], row["item"], row["field"]): row["value"] for row in rows}
    assert found[("revenue", "total", "net_sales")] == export["revenue"]["net_sales"]
    assert found[("tips", "", "amount")] == export["tips"]
    for rate in export["revenue"]["by_tax_rate"]:
        assert found[("revenue", f"{rate['rate']} ({rate['percent']}%)", "tax")] == rate["tax"]


@pytest.fixture
def signed_in(history: History):
    client = APIClient()
    client.force_login(history.world.user)
    return client


def test_the_api_gives_the_export_as_json_and_as_csv(history: History, signed_in):
    store, day = history.world.stores[0], history.first_day
    url = f"/api/v1/accounting/export/?location={store.pk}&day={day.isoformat()}"

    as_json = signed_in.get(url)
    as_csv = signed_in.get(url + "&output=csv")

    assert as_json.status_code == 200
    assert as_json.json() == json.loads(accounting.as_json(accounting.day_export(store, day)))
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    assert as_csv.content.decode() == accounting.as_csv(accounting.day_export(store, day))
    assert f'filename="accounting-incl-{day.isoformat()}.csv"' in as_csv["Content-Disposition"]


@pytest.mark.parametrize(
    "query, status, field",
    [
        ("", 400, "location"),
        ("location=1&day=2025-13-01", 400, "day"),
        ("location=1&day=1999-12-31", 400, "date_from"),
        ("location=1&output=xml", 400, "output"),
    ],
)
def test_the_api_refuses_a_bad_query_with_a_clear_error(history: History, signed_in, query, status, field):
    query = query.replace("location=1", f"location={history.world.stores[0].pk}")

    response = signed_in.get(f"/api/v1/accounting/export/?{query}")

    assert response.status_code == status
    assert field in response.json()["fields"]


def test_a_read_token_exports_only_its_own_stores(history: History):
    incl, excl = history.world.stores
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {create_api_client(name='books', scope='read', locations=[incl])[1]}"
    )

    mine = client.get(f"/api/v1/accounting/export/?location={incl.pk}&day={history.first_day}")
    theirs = client.get(f"/api/v1/accounting/export/?location={excl.pk}&day={history.first_day}")

    assert mine.status_code == 200 and mine.json()["store"]["code"] == "incl"
    assert theirs.status_code == 404


def test_the_export_is_in_the_openapi_schema(history: History, signed_in):
    schema = signed_in.get("/api/schema/?format=json")
    assert schema.status_code == 200
    operation = schema.json()["paths"]["/api/v1/accounting/export/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"location", "day", "output"}


@pytest.fixture
def storage(settings, tmp_path):
    settings.STORAGES = {
        **{k: v for k, v in settings.STORAGES.items() if k != "backups_offsite"},
        "backups": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    settings.NOTIFIER = "billing.tests.test_accounting.collect"
    NOTIFIED.clear()
    yield tmp_path
    NOTIFIED.clear()


def test_the_nightly_task_writes_each_stores_previous_day_once_and_names_the_files(history: History, storage):
    LocationFactory(code="shut", name="Shut", active=False)
    yesterday = history.today - timedelta(days=1)

    export_accounting_day.apply().get()
    export_accounting_day.apply().get()  # a second run (a retry, a double beat) replaces the same files

    files = sorted(str(path.relative_to(storage)) for path in storage.rglob("*") if path.is_file())
    codes = ("excl", "incl", "main")  # every active store, one with no sales (its export says so), not the shut one
    assert files == [f"exports/{code}/{yesterday}.{suffix}" for code in codes for suffix in ("csv", "json")]
    stored = json.loads((storage / f"exports/incl/{yesterday}.json").read_text())
    assert stored == json.loads(accounting.as_json(accounting.day_export(history.world.stores[0], yesterday)))
    named = {(event, data["store"], tuple(data["files"])) for event, _, data in NOTIFIED}
    assert named == {
        ("accounting.export", code, (f"exports/{code}/{yesterday}.json", f"exports/{code}/{yesterday}.csv"))
        for code in codes
    }
    assert len(NOTIFIED) == 2 * len(codes)  # each run names its files


def test_the_nightly_export_is_on_the_beat_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["billing.export_accounting_day"]
    assert entry["task"] == export_accounting_day.name == "billing.export_accounting_day"


def test_the_admin_downloads_the_export_of_the_selected_z_reports(history: History, client):
    client.force_login(history.world.user)
    chosen = ZReport.objects.filter(session__closed_at__date=history.first_day).order_by("pk")

    response = client.post(
        "/admin/billing/zreport/",
        {"action": "accounting_export", ACTION_CHECKBOX_NAME: [z.pk for z in chosen]},
    )

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {(row["store"], row["day"]) for row in rows} == {
        ("excl", history.first_day.isoformat()),
        ("incl", history.first_day.isoformat()),
    }
