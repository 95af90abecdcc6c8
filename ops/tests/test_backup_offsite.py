"""The offsite copy goes to an S3-compatible bucket (moto in server mode here) through django-storages."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

import hashlib
import shutil

import pytest
from django.core.management import call_command

from ops.backups import catalogue, services
from ops.backups.selectors import offsite_state
from ops.models import BackupRecord
from ops.tests.backup_helpers import (  # noqa: F401 - fixtures
    alerts,
    backup_dir,
    drop_database,
    offsite_bucket,
    s3_server,
    sell,
    snapshot,
    throwaway_db,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_backup_is_copied_offsite_with_its_manifest_byte_for_byte(offsite_bucket, backup_dir):
    client, bucket = offsite_bucket
    sell(2)

    record = services.create_backup()

    assert record.offsite_copied_at is not None and record.offsite_error == ""
    body = client.get_object(Bucket=bucket, Key=f"tillhouse/{record.file}")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == record.sha256
    client.head_object(Bucket=bucket, Key=f"tillhouse/{record.manifest_file}")
    assert offsite_state() == "ok"


def test_retention_deletes_the_offsite_copy_too(offsite_bucket, backup_dir, settings):
    client, bucket = offsite_bucket
    settings.BACKUP_KEEP = {"daily": 1}
    first = services.create_backup(kind="daily")
    second = services.create_backup(kind="daily")

    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert BackupRecord.objects.get(pk=first.pk).status == "deleted"
    assert f"tillhouse/{first.file}" not in keys
    assert f"tillhouse/{second.file}" in keys


def test_an_unreachable_bucket_keeps_the_local_backup_and_alerts(offsite_bucket, backup_dir, settings, alerts):
    settings.STORAGES["backups_offsite"]["OPTIONS"]["endpoint_url"] = "http://127.0.0.1:8269"  # nothing listens
    settings.STORAGES = {**settings.STORAGES}

    record = services.create_backup()

    assert record.status == "succeeded" and record.offsite_copied_at is None
    assert record.offsite_error
    assert (backup_dir / record.file).exists()
    assert alerts[-1][0] == "backup.offsite_failed"
    assert offsite_state() == "failing"


def test_a_backup_left_only_in_the_bucket_is_listed_and_restored_by_name_from_there(
    offsite_bucket, backup_dir, throwaway_db
):
    sell(3)
    shop = throwaway_db("offsite")
    record = services.create_backup(source=shop)
    assert record.offsite_copied_at is not None
    shutil.rmtree(backup_dir)  # the server's disk is gone with the database
    drop_database(shop.name)

    entry = catalogue.read_catalogue().find(record.name)
    assert entry.where == "offsite" and entry.archive_present
    services.restore_backup(record.name, target=shop, migrate=False)

    assert snapshot(shop)[0]["billing_payment"] == 3


def test_an_unreachable_bucket_leaves_the_local_backups_listed_and_says_so(
    offsite_bucket, backup_dir, settings, capsys
):
    record = services.create_backup(kind="daily")
    settings.STORAGES["backups_offsite"]["OPTIONS"]["endpoint_url"] = "http://127.0.0.1:8269"  # nothing listens
    settings.STORAGES = {**settings.STORAGES}

    call_command("backup_list")

    out, err = capsys.readouterr()
    assert record.name in out and "<- latest" in out
    assert "Offsite storage could not be read" in err
