"""Backups, verification, retention, restores and restore drills (DESIGN.md §3.8).

A backup is `succeeded` only if the dump exited 0, the stored archive reads back with the sha256 computed while it
was written, and (unencrypted) its table of contents lists; a failed run deletes nothing but its own partial file;
retention never deletes the newest verified backup; two runs never overlap (a second trigger is refused).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.apps import apps as django_apps
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from core.errors import Conflict, DomainError
from core.notify import notify
from ops.backups import archive, catalogue, restoring, schedule
from ops.backups.engines import BackupError, DatabaseTarget, PostgresEngine, SqliteEngine, engine_for, scrub
from ops.backups.progress import NullProgress
from ops.backups.retention import backups_to_prune
from ops.backups.selectors import latest_verified_backup
from ops.models import BackupRecord, RestoreDrill

logger = logging.getLogger("tillhouse.backups")


class BackupInProgress(Conflict):
    def __init__(self):
        super().__init__(
            "Another backup, restore or drill is running; this one was not started.", code="backup_in_progress"
        )


class RestoreRefused(DomainError):
    def __init__(self, message: str):
        super().__init__(message, code="restore_refused", status=409)


def _alert(event: str, message: str, **data) -> None:
    notify(event, message, **data)
    try:
        import sentry_sdk

        sentry_sdk.capture_message(message, level="error")
    except Exception:  # Sentry off or unreachable: the notifier already has it
        logger.debug("sentry capture skipped", exc_info=True)


# -- the lock -----------------------------------------------------------------------------------------------
def _lock_key(name: str, purpose: str) -> int:
    return zlib.crc32(f"tillhouse:{purpose}:{name}".encode()) & 0x7FFFFFFF


@contextmanager
def backup_lock(target: DatabaseTarget, purpose: str = "backup"):
    """Hold the one lock for `purpose` on target, or raise BackupInProgress at once.

    PostgreSQL: a session advisory lock taken in the maintenance database (so a restore can still rename the
    target); SQLite: an flock on a file beside the archives.
    """
    if target.engine == "postgresql":
        own = DatabaseTarget.from_settings()
        # The lock lives on the project's own server with the project's own credentials, whatever is dumped.
        engine = PostgresEngine(own if own.engine == "postgresql" else target)
        conn = engine.connect("postgres", autocommit=True)
        try:
            key = _lock_key(target.name, purpose)
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
                logger.warning("%s of %s refused: another one is running", purpose, target.name)
                raise BackupInProgress()
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", [key])
        finally:
            conn.close()
    else:
        Path(settings.BACKUP_DIR).mkdir(parents=True, exist_ok=True)
        with open(Path(settings.BACKUP_DIR) / f".{purpose}.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.warning("%s of %s refused: another one is running", purpose, target.name)
                raise BackupInProgress() from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


# -- taking a backup ----------------------------------------------------------------------------------------
def _archive_name(record: BackupRecord, target: DatabaseTarget, extension: str, encrypted: bool) -> str:
    """`2026/12/tillhouse-shop-20261207T020000-daily.dump`: no database row id, so the name (the base name without
    extensions, see catalogue.backup_name) means the same archive on every server and after every restore."""
    started = record.started_at.astimezone(schedule.local_zone())
    db = Path(target.name).stem if target.engine == "sqlite" else target.name
    suffix = extension + (".gpg" if encrypted else "")
    base = f"{started:%Y/%m}/tillhouse-{db}-{started:%Y%m%dT%H%M%S}-{record.kind}"
    storage, name, n = archive.backup_storage(), base + suffix, 1
    while storage.exists(name) or storage.exists(archive.manifest_name(name)):  # two in one second: -2, -3, …
        n += 1
        name = f"{base}-{n}{suffix}"
    return name


def create_backup(
    *, kind: str = BackupRecord.Kind.MANUAL, triggered_by=None, source: DatabaseTarget | None = None, progress=None
) -> BackupRecord:
    """Back up `source` (the project's database by default) and return its record, succeeded or failed.

    Raises BackupInProgress if another backup of the same database is running. A success is copied offsite (when
    configured) and followed by retention; a failure alerts and deletes nothing.
    """
    source = source or DatabaseTarget.from_settings()
    try:
        with backup_lock(source):
            record = _run_backup(kind=kind, triggered_by=triggered_by, source=source, progress=progress)
    except BackupInProgress:
        raise
    except BackupError as exc:  # the lock could not even be asked for: still a failed run on record
        reason = scrub(exc.message, source)
        record = BackupRecord.objects.create(
            kind=kind,
            engine=source.engine,
            database=source.name,
            triggered_by=triggered_by,
            status=BackupRecord.Status.FAILED,
            error=reason,
            finished_at=timezone.now(),
        )
        _alert("backup.failed", f"Backup {record.pk} ({kind}) failed: {reason}", backup_id=record.pk, error=reason)
    if record.status == BackupRecord.Status.SUCCEEDED:
        copy_offsite(record)
        apply_retention()
    return record


def _run_backup(*, kind, triggered_by, source: DatabaseTarget, progress=None) -> BackupRecord:
    progress = progress or NullProgress()
    engine = engine_for(source)
    record = BackupRecord.objects.create(
        kind=kind, engine=engine.name, database=source.name, triggered_by=triggered_by, status="running"
    )
    storage = archive.backup_storage()
    stored_name = ""
    try:
        client_version, server_version = engine.preflight()
        public_key = settings.BACKUP_GPG_PUBLIC_KEY
        name = _archive_name(record, source, engine.extension, bool(public_key))
        record.file = name
        record.encrypted = bool(public_key)
        record.server_version = server_version
        record.save(update_fields=["file", "encrypted", "server_version"])

        result = {}

        def write(chunks: Iterator[bytes]) -> None:
            nonlocal stored_name
            progress.start("Dumping")
            stored_name = name
            stored, size, digest = archive.save_stream(storage, name, chunks, progress=progress)
            stored_name = stored
            result.update(file=stored, bytes=size, sha256=digest)
            progress.finish()

        with _encryption(public_key) as filters:
            facts = engine.dump(write, filters=filters)

        record.file, record.bytes, record.sha256 = result["file"], result["bytes"], result["sha256"]
        record.row_counts = facts["row_counts"]
        record.migration_state = facts["migration_state"]
        record.server_version = facts["server_version"]
        record.money_sums = facts.get("money_sums", {})
        record.issued_numbers = facts.get("issued_numbers", {})
        _check_stored(record, engine, progress=progress)
        record.finished_at = timezone.now()
        record.verified_at = record.finished_at
        record.manifest_file = archive.write_manifest(storage, record.file, _manifest(record, client_version))
        record.status = BackupRecord.Status.SUCCEEDED
        record.save()
        logger.info("backup %s succeeded: %s, %s bytes", record.pk, record.file, record.bytes)
        return record
    except Exception as exc:
        reason = scrub(_failure_text(exc), source) or exc.__class__.__name__
        record.status = BackupRecord.Status.FAILED
        record.error = reason
        record.finished_at = timezone.now()
        record.save()
        if stored_name:
            _delete_quietly(storage, stored_name)  # its own partial archive only: never an earlier backup
        logger.error("backup %s failed: %s", record.pk, reason)
        _alert("backup.failed", f"Backup {record.pk} ({kind}) failed: {reason}", backup_id=record.pk, error=reason)
        if not isinstance(exc, DomainError):
            logger.exception("unexpected error in backup %s", record.pk)
        return record


def _failure_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, DomainError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"backup storage cannot be written{where}: {exc.strerror or exc}"
    return str(exc)


@contextmanager
def _encryption(public_key: str):
    if not public_key:
        yield []
        return
    with archive.gpg_home(public_key) as (home, fingerprint):
        yield [archive.encrypt_filter(home, fingerprint)]


def _check_stored(record: BackupRecord, engine, *, progress=None) -> None:
    """Read the stored archive back: same bytes and sha256 as written; unencrypted, a table of contents too."""
    storage = archive.backup_storage()
    size, digest = archive.sha256_of(archive.open_chunks(storage, record.file))
    if (size, digest) != (record.bytes, record.sha256):
        raise BackupError(
            f"The stored archive differs from what was written ({size} bytes, sha256 {digest[:12]}…).",
            code="archive_mismatch",
        )
    if not record.encrypted:
        engine.list_archive(archive.open_chunks(storage, record.file))


def _manifest(record: BackupRecord, client_version: str) -> dict:
    return {
        "app": "tillhouse",
        "name": catalogue.backup_name(record.file),
        "backup_id": record.pk,
        "kind": record.kind,
        "engine": record.engine,
        "database": record.database,
        "server_version": record.server_version,
        "client_version": client_version,
        "archive": record.file,
        "bytes": record.bytes,
        "sha256": record.sha256,
        "encrypted": record.encrypted,
        "encryption": "gpg" if record.encrypted else "",
        "row_counts": record.row_counts,
        "migration_state": record.migration_state,
        "money_sums": getattr(record, "money_sums", {}),
        "issued_numbers": getattr(record, "issued_numbers", {}),
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat(),
        "verified_at": record.verified_at.isoformat(),
    }


def _delete_quietly(storage, name: str) -> None:
    try:
        if storage.exists(name):
            storage.delete(name)
    except Exception:
        logger.warning("could not remove %s", name, exc_info=True)


# -- offsite ------------------------------------------------------------------------------------------------
def copy_offsite(record: BackupRecord) -> bool:
    """Copy archive and manifest to the offsite storage, if one is configured. Failure alerts; the local copy stays."""
    offsite = archive.offsite_storage()
    if offsite is None:
        return False
    local = archive.backup_storage()
    try:
        for name in (record.file, record.manifest_file):
            if offsite.exists(name):
                offsite.delete(name)
            with local.open(name, "rb") as fh:
                offsite.save(name, fh)
        record.offsite_copied_at, record.offsite_error = timezone.now(), ""
    except Exception as exc:
        record.offsite_error = str(exc)[:2000] or exc.__class__.__name__
        _alert("backup.offsite_failed", f"Offsite copy of backup {record.pk} failed: {record.offsite_error}")
    record.save(update_fields=["offsite_copied_at", "offsite_error"])
    return not record.offsite_error


# -- verification -------------------------------------------------------------------------------------------
@dataclass
class Verification:
    ok: bool
    bytes: int = 0
    sha256: str = ""
    toc_entries: int = 0
    problems: list[str] = field(default_factory=list)


def verify_backup(backup: BackupRecord | catalogue.Entry, *, key_file: str = "", progress=None) -> Verification:
    """Re-read an archive: sha256 and size against its manifest (and the record, given one), then list and read
    every block.

    An encrypted archive is listed only when the private key is given. The outcome is written into the manifest
    (`verified_at`, or `verify_failed`, which keeps the backup from being `latest`) and into the record if there is
    one; a failure alerts.
    """
    progress = progress or NullProgress()
    result = Verification(ok=False)
    if isinstance(backup, catalogue.Entry):
        storage, expected, name = backup.storage, backup.manifest, backup.name
        record = _cached_record(backup.archive)
    else:
        record, storage, name = backup, archive.backup_storage(), catalogue.backup_name(backup.file)
        expected = {
            "archive": record.file,
            "bytes": record.bytes,
            "sha256": record.sha256,
            "encrypted": record.encrypted,
            "engine": record.engine,
            "database": record.database,
        }
    file = expected.get("archive", "")
    if not file or not storage.exists(file):
        result.problems.append(f"The archive {file or '(none)'} is not in backup storage.")
    else:
        own = DatabaseTarget.from_settings()
        if expected.get("engine") != own.engine:
            own = DatabaseTarget(engine=expected.get("engine", ""), name=expected.get("database", ""))
        engine = engine_for(own.with_name(expected.get("database", "")))
        if record is not None:
            try:
                manifest = archive.read_manifest(storage, file)
                if manifest.get("sha256") != record.sha256:
                    result.problems.append("The manifest's sha256 differs from the record's.")
            except BackupError as exc:
                result.problems.append(exc.message)
        progress.start("Checking sha256", expected.get("bytes"))
        result.bytes, result.sha256 = archive.sha256_of(archive.open_chunks(storage, file), progress=progress)
        progress.finish()
        if (result.bytes, result.sha256) != (expected.get("bytes"), expected.get("sha256")):
            result.problems.append(
                f"Archive is {result.bytes} bytes with sha256 {result.sha256}; "
                f"the backup recorded {expected.get('bytes')} bytes with sha256 {expected.get('sha256')}."
            )
        elif not expected.get("encrypted") or key_file:
            try:
                with _plaintext(expected, storage, key_file) as chunks:
                    result.toc_entries = len(engine.list_archive(chunks))
                with _plaintext(expected, storage, key_file) as chunks:
                    engine.read_all(chunks)
            except BackupError as exc:
                result.problems.append(exc.message)
    result.ok = not result.problems
    now = timezone.now()
    if result.ok:
        _note_in_manifest(storage, file, verified_at=now.isoformat(), verify_failed=None)
        if record is not None:
            BackupRecord.objects.filter(pk=record.pk).update(verified_at=now)
    else:
        _note_in_manifest(storage, file, verify_failed=f"{now:%Y-%m-%d %H:%M} {'; '.join(result.problems)}")
        _alert("backup.verify_failed", f"Backup {name} failed verification: {'; '.join(result.problems)}")
    return result


def _cached_record(archive_name: str) -> BackupRecord | None:
    """The database's cached record of an archive, if the database is there and knows it (never required)."""
    try:
        return BackupRecord.objects.filter(file=archive_name).order_by("-pk").first()
    except DatabaseError:
        return None


def _note_in_manifest(storage, archive_name: str, **changes) -> None:
    """Record a verification outcome in the manifest beside the archive (None removes a key)."""
    try:
        manifest = archive.read_manifest(storage, archive_name)
    except (BackupError, ValueError):
        return
    for key, value in changes.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    manifest.pop("format", None)
    archive.write_manifest(storage, archive_name, manifest)


@contextmanager
def _plaintext(record_or_manifest, storage, key_file: str):
    encrypted = getattr(record_or_manifest, "encrypted", None)
    name = getattr(record_or_manifest, "file", None)
    if encrypted is None:  # a manifest dict
        encrypted, name = record_or_manifest.get("encrypted"), record_or_manifest["archive"]
    chunks = archive.open_chunks(storage, name) if storage else archive.file_chunks(name)
    if encrypted:
        with archive.decrypted(chunks, key_file or settings.BACKUP_GPG_PRIVATE_KEY) as plain:
            yield plain
    else:
        yield chunks


# -- retention and promotion --------------------------------------------------------------------------------
def apply_retention(*, now: datetime | None = None) -> list[BackupRecord]:
    """Delete the archives retention no longer keeps (local and offsite) and mark their records deleted."""
    newest_verified = latest_verified_backup()
    protected = [newest_verified.pk] if newest_verified else []
    records = list(BackupRecord.objects.filter(status=BackupRecord.Status.SUCCEEDED))
    doomed = backups_to_prune(records, keep=settings.BACKUP_KEEP, protected_ids=protected)
    local, offsite = archive.backup_storage(), archive.offsite_storage()
    for record in doomed:
        for name in filter(None, (record.file, record.manifest_file or archive.manifest_name(record.file))):
            _delete_quietly(local, name)
            if offsite is not None and record.offsite_copied_at:
                _delete_quietly(offsite, name)
        BackupRecord.objects.filter(pk=record.pk, status=BackupRecord.Status.SUCCEEDED).update(
            status=BackupRecord.Status.DELETED
        )
        logger.info("retention deleted backup %s (%s, %s)", record.pk, record.kind, record.file)
    return doomed


@transaction.atomic
def promote_backups(*, now: datetime | None = None) -> list[BackupRecord]:
    """Relabel a daily backup as this month's monthly and this week's weekly when those are missing.

    Promotion moves no bytes: the archive stays where it is and only its kind (and manifest) change.
    """
    now = now or timezone.now()
    local = now.astimezone(schedule.local_zone())
    ok = BackupRecord.objects.select_for_update().filter(status=BackupRecord.Status.SUCCEEDED)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    week_start = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    promoted = []
    for kind, since in ((BackupRecord.Kind.MONTHLY, month_start), (BackupRecord.Kind.WEEKLY, week_start)):
        if ok.filter(kind=kind, finished_at__gte=since).exists():
            continue
        daily = ok.filter(kind=BackupRecord.Kind.DAILY, finished_at__gte=since).order_by("-finished_at").first()
        if daily is None:
            continue
        daily.kind = kind
        daily.save(update_fields=["kind"])
        _rewrite_manifest_kind(daily)
        promoted.append(daily)
        logger.info("backup %s promoted to %s", daily.pk, kind)
    return promoted


def _rewrite_manifest_kind(record: BackupRecord) -> None:
    storage = archive.backup_storage()
    try:
        manifest = archive.read_manifest(storage, record.file)
    except BackupError:
        return
    manifest["kind"] = record.kind
    archive.write_manifest(storage, record.file, manifest)


# -- restore ------------------------------------------------------------------------------------------------
@dataclass
class ResolvedBackup:
    manifest: dict
    storage: object | None  # None: a plain file path
    record: BackupRecord | None = None
    name: str = ""


def resolve_backup(ref: str) -> ResolvedBackup:
    """`latest`, a name from backup_list, an archive's path in backup storage, or a file path with its manifest
    beside it. Reads only backup storage (catalogue), never the database: works with the database dropped."""
    if ref != "latest" and os.path.isfile(ref):
        manifest_path = Path(ref + archive.MANIFEST_SUFFIX)
        if not manifest_path.exists():
            raise BackupError(f"No manifest beside {ref}.", code="manifest_missing")
        try:
            manifest = json.loads(manifest_path.read_text())
        except ValueError:
            raise BackupError(f"The manifest beside {ref} is not valid JSON.", code="manifest_invalid") from None
        manifest["archive"] = str(Path(ref).resolve())
        return ResolvedBackup(manifest, None, name=catalogue.backup_name(ref))
    found = catalogue.read_catalogue()
    entry = found.latest() if ref == "latest" else found.find(ref)
    if not entry.archive_present:
        raise BackupError(
            f"The archive of backup {entry.name} ({entry.archive}) is missing from {entry.where} backup storage.",
            code="archive_missing",
        )
    return ResolvedBackup(entry.manifest, entry.storage, name=entry.name)


def _check_archive(resolved: ResolvedBackup, progress) -> None:
    manifest = resolved.manifest
    chunks = (
        archive.open_chunks(resolved.storage, manifest["archive"])
        if resolved.storage
        else archive.file_chunks(manifest["archive"])
    )
    progress.start("Checking sha256", manifest.get("bytes"))
    size, digest = archive.sha256_of(chunks, progress=progress)
    progress.finish()
    if (size, digest) != (manifest.get("bytes"), manifest.get("sha256")):
        raise BackupError(
            f"The archive does not match its manifest (sha256 {digest[:12]}…, {size} bytes): it is truncated or "
            "was changed. Use another backup.",
            code="archive_mismatch",
        )


def _restore_archive(engine, resolved: ResolvedBackup, dest: str, key_file: str, progress) -> None:
    with _plaintext(resolved.manifest, resolved.storage, key_file) as chunks:
        progress.start("Restoring", None if resolved.manifest.get("encrypted") else resolved.manifest.get("bytes"))
        counted = _counting(chunks, progress)
        if isinstance(engine, PostgresEngine):
            engine.restore_into(dest, counted)
        else:
            engine.restore_file(counted, dest)
        progress.finish()


def _counting(chunks, progress):
    for chunk in chunks:
        progress.advance(len(chunk))
        yield chunk


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> dict[str, list]:
    """Tables whose row count differs: {table: [expected, actual]} (None where the table is missing)."""
    return {
        table: [expected.get(table), actual.get(table)]
        for table in sorted(set(expected) | set(actual))
        if expected.get(table) != actual.get(table)
    }


@dataclass
class RestoreSummary:
    backup: str
    target: str
    safety_backup_id: int | None
    timings: dict[str, float]
    tables: int
    rows: int
    migrations_applied: str = ""
    safety_backup: str = ""  # its name: restorable with `restore <name>`, never chosen by `latest`
    numbers_continued: list[str] = field(default_factory=list)


def restore_backup(
    ref: str,
    *,
    target: DatabaseTarget | None = None,
    confirmed: bool = False,
    key_file: str = "",
    migrate: bool = True,
    progress=None,
    triggered_by=None,
) -> RestoreSummary:
    """Replace the target database (the project's by default) with a backup.

    Checks the archive against its manifest first; refuses a non-empty target unless confirmed. Then, holding the
    backup and drill locks (BackupInProgress if either is taken), in maintenance (ops/maintenance.py: writes
    answer 503, other sessions disconnected): takes a pre-restore safety backup of what is there, notes the highest
    receipt and Z number of each register, restores into a side database, checks per-table counts against the
    manifest, swaps it in (PostgreSQL) or writes it over the file (SQLite) keeping the old one, migrates, moves the
    counters above every number issued (audited), and only then drops the old database and leaves maintenance. Any
    failure puts the old database back and leaves maintenance; raises BackupError.
    """
    progress = progress or NullProgress()
    target = target or DatabaseTarget.from_settings()
    engine = engine_for(target)
    timings: dict[str, float] = {}
    started = time.monotonic()
    resolved = resolve_backup(ref)
    if resolved.manifest.get("engine") != engine.name:
        raise BackupError(f"This is a {resolved.manifest.get('engine')} backup; the target is {engine.name}.")

    mark = time.monotonic()
    _check_archive(resolved, progress)
    timings["verify"] = time.monotonic() - mark

    empty = engine.is_empty(target.name)
    if not empty and not confirmed:
        raise RestoreRefused(
            f"The database {target.name} is not empty: restoring replaces everything in it. "
            "Confirm interactively or pass --yes."
        )
    if isinstance(engine, PostgresEngine) and engine.exists(_replaced_name(target)):
        raise RestoreRefused(
            f"The database {_replaced_name(target)} is left from an interrupted restore and may be the only copy of "
            f"the old data: rename it back to {target.name} or drop it (docs/RUNBOOK.md §8), then restore again."
        )
    label = resolved.manifest.get("archive", ref)
    # One at a time: no backup and no drill while a restore runs, and no restore while either runs.
    reason = f"restore of {Path(label).name} started {timezone.now():%H:%M} UTC"
    with backup_lock(target), backup_lock(target, purpose="drill"), restoring.writes_stopped(target, reason):
        safety = None
        if not empty:
            mark = time.monotonic()
            safety = _run_backup(
                kind=BackupRecord.Kind.PRE_RESTORE, triggered_by=triggered_by, source=target, progress=progress
            )
            timings["safety_backup"] = time.monotonic() - mark
            if safety.status != BackupRecord.Status.SUCCEEDED:
                raise BackupError(f"The pre-restore safety backup failed, nothing was restored: {safety.error}")
        # Writes stopped before the safety dump: the database being replaced holds every number it issued, and
        # every manifest (the safety copy's too) what was issued when its backup was taken: take the highest, so
        # a restore onto an empty or dropped database never hands out a number again.
        issued = restoring.highest(
            restoring.issued_numbers(target) if not empty else {},
            restoring.numbers_in_manifest(resolved.manifest),
            *(restoring.numbers_in_manifest(entry.manifest) for entry in catalogue.read_catalogue().entries),
        )
        counts, applied, had_old = _restore_and_swap(
            engine, resolved, target, key_file=key_file, migrate=migrate, progress=progress, timings=timings
        )
        try:
            mark = time.monotonic()
            jumps = restoring.continue_counters(
                target, issued, backup=label, actor_id=getattr(triggered_by, "pk", None)
            )
            timings["counters"] = time.monotonic() - mark
        except Exception:
            _put_back(engine, target, had_old)
            raise
        _drop_replaced(engine, target)
    connections.close_all()
    if target.name == DatabaseTarget.from_settings().name:
        sync_records_from_storage()
    timings["total"] = time.monotonic() - started
    logger.info("restored %s into %s in %.1fs", resolved.name, target.name, timings["total"])
    return RestoreSummary(
        backup=resolved.name,
        target=target.name,
        safety_backup_id=safety.pk if safety else None,
        safety_backup=catalogue.backup_name(safety.file) if safety else "",
        timings=timings,
        tables=len(counts),
        rows=sum(counts.values()),
        migrations_applied=applied,
        numbers_continued=[j.note for j in jumps],
    )


def _replaced_name(target: DatabaseTarget) -> str:
    return f"{target.name}_replaced"[:63] if target.engine == "postgresql" else f"{target.name}.replaced"


def _restore_and_swap(engine, resolved, target: DatabaseTarget, *, key_file, migrate, progress, timings):
    """Restore into a side database, check its counts, swap it in keeping the old one as `<name>_replaced`, and
    migrate. On any failure the old database is put back as it was; it is dropped only by `_drop_replaced` once
    the new one is proven. Runs in maintenance: the new database is read-only for everyone else from the start."""
    mark = time.monotonic()
    replaced = _replaced_name(target)
    if isinstance(engine, PostgresEngine):
        side = f"{target.name}_restoring"[:63]
        engine.drop_database(side)
        engine.create_database(side)
        try:
            _restore_archive(engine, resolved, side, key_file, progress)
            timings["restore"] = time.monotonic() - mark
            mark = time.monotonic()
            counts = engine.row_counts(side)
            _require_counts(resolved.manifest, counts, engine.money_sums(side))
            timings["count_check"] = time.monotonic() - mark
            restoring.set_read_only(engine, side, True)
        except Exception:
            engine.drop_database(side)
            raise
        mark = time.monotonic()
        connections.close_all()
        had_old = engine.exists(target.name)
        try:
            if had_old:
                engine.rename_database(target.name, replaced)
            engine.rename_database(side, target.name)
        except Exception:
            if had_old and not engine.exists(target.name):
                engine.rename_database(replaced, target.name)
            engine.drop_database(side)
            raise
        timings["swap"] = time.monotonic() - mark
    else:
        side = f"{target.name}.restoring"
        Path(side).unlink(missing_ok=True)
        _restore_archive(SqliteEngine(target), resolved, side, key_file, progress)
        timings["restore"] = time.monotonic() - mark
        counts = engine.row_counts(side)
        _require_counts(resolved.manifest, counts, engine.money_sums(side))
        connections.close_all()
        had_old = Path(target.name).exists()
        if had_old:
            engine.restore_file(archive.file_chunks(target.name), replaced)
        engine.restore_file(archive.file_chunks(side), target.name)
        Path(side).unlink(missing_ok=True)
    applied = ""
    try:
        if migrate:
            mark = time.monotonic()
            applied = _migrate(target, writable=True)
            timings["migrate"] = time.monotonic() - mark
    except Exception:
        _put_back(engine, target, had_old)
        raise
    return counts, applied, had_old


def _put_back(engine, target: DatabaseTarget, had_old: bool) -> None:
    """Roll back a swap: the old database returns under its name, the new one is dropped."""
    replaced = _replaced_name(target)
    connections.close_all()
    logger.error("restore of %s failed after the swap: putting the old database back", target.name)
    if isinstance(engine, PostgresEngine):
        engine.drop_database(target.name)
        if had_old:
            engine.rename_database(replaced, target.name)
    elif had_old:
        engine.restore_file(archive.file_chunks(replaced), target.name)
        Path(replaced).unlink(missing_ok=True)


def _drop_replaced(engine, target: DatabaseTarget) -> None:
    if isinstance(engine, PostgresEngine):
        engine.drop_database(_replaced_name(target))
    else:
        Path(_replaced_name(target)).unlink(missing_ok=True)


def _require_counts(manifest: dict, counts: dict[str, int], sums: dict[str, str] | None = None) -> None:
    diff = compare_counts(manifest.get("row_counts", {}), counts)
    if diff:
        shown = ", ".join(f"{t}: {e} → {a}" for t, (e, a) in list(diff.items())[:10])
        raise BackupError(f"Restored row counts differ from the manifest ({shown}); the target was left as it was.")
    money = compare_money(manifest.get("money_sums", {}), sums) if sums is not None else {}
    if money:
        shown = ", ".join(f"{c}: {e} → {a}" for c, (e, a) in list(money.items())[:10])
        raise BackupError(f"Restored money sums differ from the manifest ({shown}); the target was left as it was.")


def compare_money(expected: dict[str, str], actual: dict[str, str]) -> dict[str, list]:
    """Columns whose sum differs: {table.column: [expected, actual]}. A manifest without sums (older backups)
    compares nothing."""
    if not expected:
        return {}
    return {
        column: [expected.get(column), actual.get(column)]
        for column in sorted(set(expected) | set(actual))
        if expected.get(column) is None
        or actual.get(column) is None
        or Decimal(expected[column]) != Decimal(actual[column])
    }


def _migrate(target: DatabaseTarget, *, writable: bool = False) -> str:
    """Run `manage.py migrate` against target in a child process (its URL travels in the environment).
    `writable`: its sessions may write although the database is read-only for everyone else (maintenance)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    env["DATABASE_URL"] = target.url()
    if writable and target.engine == "postgresql":
        env["PGOPTIONS"] = restoring.WRITABLE
    out = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "migrate", "--noinput"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]  # the error itself
        raise BackupError(f"migrate failed after the restore: {scrub(last, target)}")
    return "\n".join(line for line in out.stdout.splitlines() if "Applying" in line)


def sync_records_from_storage() -> int:
    """Recreate records for archives in storage that the database does not know (after a restore, or on a new
    server holding copies of the archives); completes records that a restored snapshot shows as still running."""
    storage = archive.backup_storage()
    added = 0
    for manifest_name in catalogue.walk_storage(storage):
        if not manifest_name.endswith(archive.MANIFEST_SUFFIX):
            continue
        try:
            manifest = archive.read_manifest(storage, manifest_name[: -len(archive.MANIFEST_SUFFIX)])
        except (BackupError, ValueError):
            continue
        fields = {
            "kind": manifest.get("kind", "manual"),
            "status": BackupRecord.Status.SUCCEEDED,
            "engine": manifest.get("engine", ""),
            "database": manifest.get("database", ""),
            "server_version": manifest.get("server_version", ""),
            "file": manifest["archive"],
            "manifest_file": manifest_name,
            "encrypted": bool(manifest.get("encrypted")),
            "bytes": manifest.get("bytes"),
            "sha256": manifest.get("sha256", ""),
            "row_counts": manifest.get("row_counts", {}),
            "migration_state": manifest.get("migration_state", {}),
            "finished_at": manifest.get("finished_at"),
            "verified_at": manifest.get("finished_at"),
        }
        existing = BackupRecord.objects.filter(pk=manifest.get("backup_id"), file__in=["", manifest["archive"]])
        if existing.filter(status=BackupRecord.Status.RUNNING).update(**fields):
            continue
        if BackupRecord.objects.filter(file=manifest["archive"]).exists():
            continue
        record = BackupRecord.objects.create(**fields)
        BackupRecord.objects.filter(pk=record.pk).update(started_at=manifest.get("started_at"))
        added += 1
    return added


# -- restore drill ------------------------------------------------------------------------------------------
def scratch_database_name(source: DatabaseTarget, drill_id: int) -> str:
    prefix = settings.BACKUP_SCRATCH_DB_PREFIX or f"{source.name}_drill_"
    return f"{prefix}{drill_id}"[:63]


def run_drill(backup: str | BackupRecord | None = None, *, key_file: str = "", progress=None) -> RestoreDrill:
    """Restore a backup (`latest` by default: never a safety copy) into a scratch database and prove it usable:
    per-table counts and money sums as in the manifest, every table and column the current code expects (after
    migrating the copy if the code is newer), and a smoke query per app. Records the time to that checked, usable
    database as the measured RTO and drops the scratch database. A failure alerts."""
    progress = progress or NullProgress()
    source = DatabaseTarget.from_settings()
    drill = RestoreDrill.objects.create(backup=backup if isinstance(backup, BackupRecord) else None, target="")
    if source.engine == "postgresql":
        scratch = scratch_database_name(source, drill.pk)
    else:
        scratch = str(Path(settings.BACKUP_DIR) / f".drill-{drill.pk}.sqlite3")
    drill.target = scratch
    drill.save(update_fields=["target"])
    scratch_target = source.with_name(scratch)
    engine = engine_for(scratch_target)
    started = time.monotonic()
    name = ""
    try:
        resolved = _resolve_for_drill(backup)
        name = resolved.name
        drill.backup = drill.backup or _cached_record(resolved.manifest["archive"])
        with backup_lock(source, purpose="drill"):
            _check_archive(resolved, progress)
            try:
                if isinstance(engine, PostgresEngine):
                    engine.drop_database(scratch)
                    engine.create_database(scratch)
                _restore_archive(engine, resolved, scratch, key_file, progress)
                counts = engine.row_counts(scratch)
                sums = engine.money_sums(scratch)
                restored_migrations = engine.migration_state(scratch)
                in_manifest = resolved.manifest.get("migration_state", {})
                drill.migrations_checked = _migration_check(in_manifest, restored_migrations)
                if drill.migrations_checked["pending_in_code"]:
                    _migrate(scratch_target)
                drill.duration_seconds = time.monotonic() - started
                missing = missing_schema(engine.columns(scratch))
                smoke = smoke_check(engine, scratch)
            finally:
                if isinstance(engine, PostgresEngine):
                    engine.drop_database(scratch)
                else:
                    Path(scratch).unlink(missing_ok=True)
        expected_counts = resolved.manifest.get("row_counts", {})
        drill.counts_compared = {t: [expected_counts.get(t), counts.get(t)] for t in sorted(counts)}
        problems = []
        if missing:
            problems.append("missing from the restored copy: " + ", ".join(missing[:20]))
        diff = compare_counts(expected_counts, counts)
        if diff:
            problems.append("row counts differ: " + ", ".join(f"{t} {e}→{a}" for t, (e, a) in diff.items()))
        money = compare_money(resolved.manifest.get("money_sums", {}), sums)
        if money:
            problems.append("money sums differ: " + ", ".join(f"{c} {e}→{a}" for c, (e, a) in money.items()))
        if drill.migrations_checked["differs_from_manifest"]:
            problems.append("applied migrations differ from the manifest")
        problems += smoke
        drill.result = RestoreDrill.Result.FAILED if problems else RestoreDrill.Result.PASSED
        drill.error = "; ".join(problems)
    except Exception as exc:
        drill.result = RestoreDrill.Result.FAILED
        drill.error = scrub(getattr(exc, "message", "") or str(exc), source) or exc.__class__.__name__
        if not isinstance(exc, DomainError):
            logger.exception("unexpected error in restore drill %s", drill.pk)
    drill.finished_at = timezone.now()
    drill.save()
    drill.backup_name = name
    if drill.result == RestoreDrill.Result.FAILED:
        what = f" of {name}" if name else ""
        _alert("backup.drill_failed", f"Restore drill {drill.pk}{what} failed: {drill.error}", drill_id=drill.pk)
    else:
        logger.info("restore drill %s of %s passed in %.1fs", drill.pk, name, drill.duration_seconds)
    return drill


def _resolve_for_drill(backup: str | BackupRecord | None) -> ResolvedBackup:
    if not isinstance(backup, BackupRecord):
        return resolve_backup(backup or "latest")
    resolved = resolve_backup(backup.file)
    if resolved.manifest.get("sha256") != backup.sha256:
        raise BackupError("The manifest's sha256 differs from the backup record's.", code="archive_mismatch")
    return resolved


def expected_schema() -> dict[str, set[str]]:
    """{table: columns} that the current code's models (and so its migrations) need."""
    tables: dict[str, set[str]] = {}
    for model in django_apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy or meta.swapped:
            continue
        tables.setdefault(meta.db_table, set()).update(f.column for f in meta.local_concrete_fields)
    return tables


def missing_schema(present: dict[str, set[str]]) -> list[str]:
    """Tables ("billing_receipt") and columns ("billing_payment.tip") the code needs and the copy lacks."""
    missing = []
    for table, columns in sorted(expected_schema().items()):
        if table not in present:
            missing.append(table)
        else:
            missing += [f"{table}.{c}" for c in sorted(columns - present[table])]
    return missing


def smoke_check(engine, database: str) -> list[str]:
    """Ask a restored copy the questions each app's screens ask first; problems as sentences.

    Plain SQL over the engine's own connection (the copy is no Django database), table and column names from the
    models, so a renamed table is caught by the schema check and not mistaken here."""
    problems = []
    for app, check in (
        ("billing", _smoke_billing),
        ("orders", _smoke_orders),
        ("inventory", _smoke_inventory),
        ("staff", _smoke_staff),
    ):
        try:
            problems += [f"{app}: {p}" for p in check(lambda statement: engine.query(database, statement))]
        except Exception as exc:  # psycopg or sqlite3: the query itself did not run on the copy
            problems.append(f"{app} smoke query failed: {catalogue._first_line(exc)}")
    return problems


def _same_money(a, b) -> bool:
    return abs(Decimal(str(a or 0)) - Decimal(str(b or 0))) < Decimal("0.00005")


def _smoke_billing(query) -> list[str]:
    """The last receipt of each register, its order and that order's payments."""
    from billing.models import Payment, Receipt, Register
    from orders.models import Order

    receipt, register = Receipt._meta.db_table, Register._meta.db_table
    rows = query(
        f"""
        SELECT r.register_id, r.number, g.last_receipt_number, o.paid_total,
               (SELECT coalesce(sum(p.amount), 0) FROM {Payment._meta.db_table} p WHERE p.order_id = r.order_id)
        FROM {receipt} r
        JOIN (SELECT register_id, max(number) AS number FROM {receipt} GROUP BY register_id) last
          ON last.register_id = r.register_id AND last.number = r.number
        JOIN {Order._meta.db_table} o ON o.id = r.order_id
        JOIN {register} g ON g.id = r.register_id
        ORDER BY r.register_id LIMIT 100
        """  # noqa: S608 - names from the models, no input
    )
    problems = []
    for register_id, number, counter, paid_total, payments in rows:
        if number > counter:
            problems.append(f"register {register_id}'s last receipt {number} is above its counter {counter}")
        if not _same_money(paid_total, payments):
            problems.append(f"register {register_id}'s last receipt {number}: payments {payments} ≠ paid {paid_total}")
    return problems


def _smoke_orders(query) -> list[str]:
    from orders.models import Order, OrderLine

    order = Order._meta.db_table
    rows = query(
        f"""
        SELECT o.id FROM {order} o
        WHERE o.id IN (SELECT id FROM {order} WHERE status = '{Order.Status.PAID.value}' ORDER BY id DESC LIMIT 50)
          AND NOT EXISTS (SELECT 1 FROM {OrderLine._meta.db_table} l WHERE l.order_id = o.id)
        """  # noqa: S608 - names from the models, no input
    )
    return [f"paid order {order_id} has no lines" for (order_id,) in rows]


def _smoke_inventory(query) -> list[str]:
    """A sample of stock levels: on hand equals the sum of the moves (DESIGN.md §3.2)."""
    from inventory.models import StockLevel, StockMove

    rows = query(
        f"""
        SELECT s.product_id, s.location_id, s.on_hand,
               (SELECT coalesce(sum(m.delta), 0) FROM {StockMove._meta.db_table} m
                WHERE m.product_id = s.product_id AND m.location_id = s.location_id)
        FROM {StockLevel._meta.db_table} s ORDER BY s.id DESC LIMIT 50
        """  # noqa: S608 - names from the models, no input
    )
    return [
        f"stock of product {product} at location {location}: {on_hand} on hand, moves add up to {moved}"
        for product, location, on_hand, moved in rows
        if not _same_money(on_hand, moved)
    ]


def _smoke_staff(query) -> list[str]:
    from django.contrib.auth import get_user_model

    from staff.models import AuditEvent

    query(f"SELECT id, username FROM {get_user_model()._meta.db_table} ORDER BY id DESC LIMIT 10")  # noqa: S608
    query(f"SELECT id FROM {AuditEvent._meta.db_table} ORDER BY id DESC LIMIT 10")  # noqa: S608
    return []


def _migration_check(expected: dict[str, list[str]], restored: dict[str, list[str]]) -> dict:
    applied = {(app, name) for app, names in restored.items() for name in names}
    recorded = {(app, name) for app, names in expected.items() for name in names}
    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return {
        "differs_from_manifest": sorted(f"{a}.{n}" for a, n in applied ^ recorded),
        "pending_in_code": sorted(f"{a}.{n}" for a, n in on_disk - applied),
    }


# -- scheduled work -----------------------------------------------------------------------------------------
def run_nightly_if_due(*, now: datetime | None = None) -> BackupRecord | None:
    at = schedule.parse_local_time(settings.BACKUP_NIGHTLY_AT)
    nightly_kinds = [BackupRecord.Kind.DAILY, BackupRecord.Kind.WEEKLY, BackupRecord.Kind.MONTHLY]
    last = BackupRecord.objects.filter(kind__in=nightly_kinds).order_by("-started_at").first()
    if not schedule.is_due(at, last.started_at if last else None, now=now):
        return None
    record = create_backup(kind=BackupRecord.Kind.DAILY)
    promote_backups(now=now)
    return record


def run_drill_if_due(*, now: datetime | None = None) -> RestoreDrill | None:
    at = schedule.parse_local_time(settings.BACKUP_DRILL_AT)
    last = RestoreDrill.objects.order_by("-started_at").first()
    if not schedule.is_due(at, last.started_at if last else None, now=now):
        return None
    return run_drill()


def next_nightly_run(*, now: datetime | None = None) -> datetime:
    return schedule.next_slot(schedule.parse_local_time(settings.BACKUP_NIGHTLY_AT), now=now)
