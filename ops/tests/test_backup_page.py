"""The backup status page for managers and its "back up now" button."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ops.models import BackupRecord, RestoreDrill
from ops.tests.backup_helpers import backup_dir  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_the_page_shows_rpo_last_failure_with_its_reason_the_drill_rto_and_the_next_run(client, manager):
    now = timezone.now()
    good = BackupRecord.objects.create(kind="daily", status="succeeded", engine="postgresql", bytes=2048)
    BackupRecord.objects.filter(pk=good.pk).update(
        started_at=now - timedelta(hours=30), finished_at=now - timedelta(hours=30)
    )
    BackupRecord.objects.create(kind="daily", status="failed", engine="postgresql", error="pg_dump was not found")
    RestoreDrill.objects.create(backup=good, target="scratch", result="passed", duration_seconds=42.5)
    client.force_login(manager)

    page = client.get(reverse("ops:backups"))

    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-rpo="red"' in body  # 30 h > 26 h
    assert "pg_dump was not found" in body
    assert "42.5 s" in body
    assert "Next scheduled backup" in body and "Back up now" in body


def test_cashiers_and_anonymous_visitors_cannot_see_the_page(client, cashier):
    assert client.get(reverse("ops:backups")).status_code == 302
    client.force_login(cashier)
    assert client.get(reverse("ops:backups")).status_code == 403
    assert client.post(reverse("ops:backup-now")).status_code == 403


def test_back_up_now_needs_a_post_with_a_csrf_token(manager):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(manager)
    assert browser.get(reverse("ops:backup-now")).status_code == 405
    assert browser.post(reverse("ops:backup-now")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_back_up_now_takes_a_manual_backup_credited_to_the_manager(backup_dir, settings, manager):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from posproject.celery import app

    app.conf.task_always_eager = True
    try:
        browser = Client()
        browser.force_login(manager)
        response = browser.post(reverse("ops:backup-now"))
    finally:
        app.conf.task_always_eager = False

    assert response.status_code == 302
    record = BackupRecord.objects.get()
    assert (record.kind, record.status, record.triggered_by) == ("manual", "succeeded", manager)
