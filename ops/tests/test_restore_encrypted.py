"""Encrypted backups: the server holds only the public key; restoring needs the private one."""

# ruff: noqa: F811 - the fixtures come from ops.tests.backup_helpers (ops/tests/conftest.py is not ours)

import pytest

from ops.backups import services
from ops.backups.engines import BackupError
from ops.models import BackupRecord, RestoreDrill
from ops.tests.backup_helpers import (  # noqa: F401 - fixtures
    backup_dir,
    drop_database,
    gpg_keys,
    sell,
    snapshot,
    throwaway_db,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_encrypted_backup_restores_with_the_private_key_and_only_with_it(
    backup_dir, settings, gpg_keys, throwaway_db
):
    public, private = gpg_keys["backup"]
    _, other_private = gpg_keys["other"]
    settings.BACKUP_GPG_PUBLIC_KEY = public
    sell(4)
    shop = throwaway_db("encrypted")
    before = snapshot(shop)

    record = services.create_backup(source=shop)
    assert record.status == BackupRecord.Status.SUCCEEDED, record.error
    assert record.encrypted and record.file.endswith(".dump.gpg")
    assert not (backup_dir / record.file).read_bytes().startswith(b"PGDMP")
    drop_database(shop.name)

    with pytest.raises(BackupError, match="encrypted"):
        services.restore_backup(record.name, target=shop, migrate=False)
    with pytest.raises(BackupError, match="could not decrypt"):
        services.restore_backup(record.name, target=shop, migrate=False, key_file=other_private)

    services.restore_backup(record.name, target=shop, migrate=False, key_file=private)
    assert snapshot(shop) == before


def test_the_drill_of_an_encrypted_backup_uses_the_configured_private_key(backup_dir, settings, gpg_keys):
    public, private = gpg_keys["backup"]
    settings.BACKUP_GPG_PUBLIC_KEY = public
    sell(2)
    services.create_backup()

    without_key = services.run_drill()
    settings.BACKUP_GPG_PRIVATE_KEY = private
    with_key = services.run_drill()

    assert without_key.result == RestoreDrill.Result.FAILED and "private key" in without_key.error
    assert with_key.result == RestoreDrill.Result.PASSED, with_key.error
