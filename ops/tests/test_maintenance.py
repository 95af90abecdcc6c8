# ruff: noqa: F811 - the worker and printer fixtures come from billing.tests.conftest

"""Maintenance mode (a restore runs): every kind of write answers 503 `maintenance` with a Retry-After, reads go on;
the flag set by one process is seen by the others (a Celery worker here, gunicorn in posproject/tests/test_faults)."""

import json
import logging
import time
import uuid
from contextlib import contextmanager

import pytest
from django.db import connection
from django.urls import reverse

from billing.models import CashSession, PrintJob
from billing.tests.conftest import celery_worker, printer_at, sell, standin, wait_for  # noqa: F401 - fixtures
from billing.tests.factories import RegisterFactory
from inventory.models import Category
from ops import maintenance
from ops.backups import restoring
from ops.backups.engines import DatabaseTarget, PostgresEngine
from orders.models import Order
from orders.tests.helpers import open_register, stocked_product
from orders.tests.pos_helpers import terminal
from staff.api_clients import create_api_client
from staff.middleware import LAST_ACTIVITY_KEY, SESSION_SEEN
from staff.models import ApiClient


@contextmanager
def maintenance_on(settings):
    """The test database in maintenance, as a restore puts it (the flag in the server's maintenance database)."""
    settings.MAINTENANCE_CHECK_SECONDS = 0
    settings.MAINTENANCE_RETRY_AFTER = 17
    name = connection.settings_dict["NAME"]
    maintenance.set_flag(name, "restore of a test backup")
    try:
        yield name
    finally:
        maintenance.clear_flag(name)


@pytest.fixture
def in_maintenance(settings):
    with maintenance_on(settings) as name:
        yield name


@contextmanager
def behind_the_barrier(settings):
    """The database read-only as a restore makes it, for a process that has not seen the flag yet."""
    settings.MAINTENANCE_CHECK_SECONDS = 3600
    maintenance.reset_cache()
    maintenance.current()
    target = DatabaseTarget.from_settings()
    restoring.set_read_only(PostgresEngine(target), target.name, True)
    connection.close()
    try:
        yield
    finally:
        restoring.set_read_only(PostgresEngine(target), target.name, False)
        connection.close()
        maintenance.reset_cache()


CATEGORY = {"name": "Drinks", "sort_order": "0", "colour": "#4a6fa5"}


def _assert_refused(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "17"


def test_an_api_sale_is_refused_with_503_maintenance_and_nothing_is_sold(in_maintenance, client, location):
    register = open_register(location)
    product = stocked_product(location)
    token = create_api_client(name="till", scope="sell", locations=[location])[1]

    response = client.post(
        "/api/v1/checkout/",
        data=json.dumps({"register": register.pk, "lines": [{"product": product.pk}], "tenders": [{"tender": "card"}]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
    )

    _assert_refused(response)
    assert response.json()["code"] == "maintenance"
    assert not Order.objects.exists()
    # Reads go on.
    assert client.get("/api/v1/products/", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_screen_write_is_refused_with_a_message_and_the_screen_still_reads(settings, cashier, location):
    pos = terminal(cashier)  # signed in before the restore (a session is not saved during one)
    register = RegisterFactory(location=location)

    with maintenance_on(settings):
        response = pos.post(reverse("billing:shift_open"), {"register": register.pk, "opening_float": "150.00"})
        read = pos.get(reverse("billing:shift"))

    _assert_refused(response)
    assert "maintenance" in response.content.decode()
    assert not CashSession.objects.exists()
    assert read.status_code == 200


def test_an_admin_write_is_refused_and_the_admin_still_reads(settings, admin_client):
    with maintenance_on(settings):
        response = admin_client.post("/admin/inventory/category/add/", CATEGORY)
        read = admin_client.get("/admin/inventory/category/")

    _assert_refused(response)
    assert not Category.objects.filter(name="Drinks").exists()
    assert read.status_code == 200


def test_out_of_maintenance_the_same_writes_go_through(settings, admin_client):
    settings.MAINTENANCE_CHECK_SECONDS = 0
    maintenance.clear_flag(connection.settings_dict["NAME"])

    response = admin_client.post("/admin/inventory/category/add/", CATEGORY)

    assert response.status_code == 302
    assert Category.objects.filter(name="Drinks").exists()


@pytest.mark.django_db(transaction=True)
def test_a_write_that_runs_into_the_read_only_database_is_answered_503_maintenance(settings, admin_client):
    """The barrier behind the flag: a process that has not seen the flag yet still cannot write."""
    settings.MAINTENANCE_CHECK_SECONDS = 3600
    maintenance.reset_cache()
    maintenance.current()  # this process read "no maintenance" and will not look again for an hour
    target = DatabaseTarget.from_settings()
    restoring.set_read_only(PostgresEngine(target), target.name, True)  # what the restore does first
    connection.close()  # the restore disconnects every session; the next one is read-only
    try:
        response = admin_client.post("/admin/inventory/category/add/", CATEGORY)
    finally:
        restoring.set_read_only(PostgresEngine(target), target.name, False)
        connection.close()
        maintenance.reset_cache()

    assert response.status_code == 503
    assert response["Retry-After"]
    assert not Category.objects.filter(name="Drinks").exists()


@pytest.mark.django_db(transaction=True)
def test_a_pos_screen_still_reads_behind_the_barrier_though_its_session_cannot_be_saved(settings, cashier):
    pos = terminal(cashier)
    session = pos.session
    session[SESSION_SEEN] = time.time() - 10  # the screen will mark the terminal active: a session change
    session.save()
    pos.raise_request_exception = False

    with behind_the_barrier(settings):
        response = pos.get(reverse("billing:shift"))

    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_idle_session_is_signed_out_behind_the_barrier_without_an_error(settings, manager, client, caplog):
    client.force_login(manager)
    session = client.session
    session[LAST_ACTIVITY_KEY] = int(time.time()) - 3600
    session.save()
    client.raise_request_exception = False

    with behind_the_barrier(settings), caplog.at_level(logging.WARNING):
        response = client.get("/reports/")

    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.django_db(transaction=True)
def test_an_api_read_goes_on_behind_the_barrier_though_the_token_use_cannot_be_recorded(settings, location, client):
    token = create_api_client(name="reader", scope="read", locations=[location])[1]

    with behind_the_barrier(settings):
        response = client.get("/api/v1/products/", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert ApiClient.objects.get(name="reader").last_used_at is None


def test_during_maintenance_an_api_read_does_not_record_the_token_use(in_maintenance, location, client):
    token = create_api_client(name="reader", scope="read", locations=[location])[1]

    assert client.get("/api/v1/products/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert ApiClient.objects.get(name="reader").last_used_at is None


def test_during_maintenance_a_pos_screen_reads_without_saving_its_session(settings, cashier):
    pos = terminal(cashier)
    session = pos.session
    session[SESSION_SEEN] = seen = time.time() - 10  # the screen will mark the terminal active
    session.save()

    with maintenance_on(settings):
        assert pos.get(reverse("billing:shift")).status_code == 200

    assert pos.session[SESSION_SEEN] == seen


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_puts_a_writing_task_back_during_maintenance_and_runs_it_after(
    celery_worker, standin, printer_at, sell, settings
):
    """Set by this process, read by the worker process: the print job is not sent (its state not written) while
    the flag is up, and goes out once it is cleared."""
    worker = celery_worker(MAINTENANCE_RETRY_AFTER="1", MAINTENANCE_CHECK_SECONDS="0")
    server = standin("print")
    name = connection.settings_dict["NAME"]
    maintenance.set_flag(name, "restore of a test backup")
    try:
        receipt = sell(printer_at(server))
        job = receipt.print_jobs.get()
        wait_for(lambda: "retry in 1s" in worker.output().lower(), timeout=20, message="the task to be put back")
        wait_for(lambda: worker.output().lower().count("retry in 1s") >= 2, timeout=20, message="a second put-back")
        assert PrintJob.objects.get(pk=job.pk).status == PrintJob.Status.QUEUED
        assert PrintJob.objects.get(pk=job.pk).attempts == 0
        assert server.connections == 0
    finally:
        maintenance.clear_flag(name)

    wait_for(lambda: PrintJob.objects.get(pk=job.pk).status == PrintJob.Status.PRINTED, message="the job to print")


def test_with_sqlite_the_flag_is_a_file_beside_the_database_that_every_process_reads(tmp_path):
    sqlite = {"ENGINE": "django.db.backends.sqlite3"}
    database = str(tmp_path / "db.sqlite3")
    assert maintenance.read_flag(database, db=sqlite) is None

    maintenance.set_flag(database, "restore of a test backup", db=sqlite)
    state = maintenance.read_flag(database, db=sqlite)
    maintenance.clear_flag(database, db=sqlite)

    assert state.reason == "restore of a test backup" and state.since is not None
    assert (tmp_path / "db.sqlite3.maintenance").exists() is False
    assert maintenance.read_flag(database, db=sqlite) is None
