"""The catalogue of backups: the manifests in backup storage (local, then offsite), never rows in the database.

A backup is known by its name, the archive's base name without extensions
(`tillhouse-shop-20261207T020000-daily`): it is written into the manifest when the backup is taken and means the
same archive before and after any restore. Everything that picks a backup to restore or drill reads this module,
so it works with an empty or dropped database. `latest` is the newest backup whose archive is present and that
verified; a pre-restore safety copy is listed and restorable by name, but never `latest`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from django.core.files.storage import FileSystemStorage

from ops.backups import archive
from ops.backups.engines import BackupError

logger = logging.getLogger("tillhouse.backups")

PRE_RESTORE = "pre-restore"
_EXTENSIONS = (".gpg", ".dump", ".sqlite3")


def backup_name(archive_name: str) -> str:
    """The stable name of an archive: its base name without .dump/.sqlite3/.gpg."""
    name = PurePosixPath(archive_name).name
    for extension in _EXTENSIONS:
        name = name.removesuffix(extension)
    return name


@dataclass
class Entry:
    """One backup as its manifest describes it, and the storage that holds it."""

    name: str
    manifest: dict
    storage: object
    where: str  # "local" or "offsite"
    archive_present: bool = True
    also_offsite: bool = False

    @property
    def archive(self) -> str:
        return self.manifest["archive"]

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "manual")

    @property
    def is_safety_copy(self) -> bool:
        return self.kind == PRE_RESTORE

    @property
    def finished_at(self) -> datetime | None:
        value = self.manifest.get("finished_at")
        return datetime.fromisoformat(value) if value else None

    @property
    def verify_failed(self) -> str:
        return self.manifest.get("verify_failed", "")

    @property
    def usable(self) -> bool:
        return self.archive_present and not self.verify_failed


@dataclass
class Catalogue:
    entries: list[Entry]  # newest first
    offsite_error: str = ""
    problems: list[str] = field(default_factory=list)  # manifests that could not be read

    def latest(self) -> Entry:
        """The newest scheduled, manual or pre-deploy backup that is present and verified (never a safety copy)."""
        for entry in self.entries:
            if entry.usable and not entry.is_safety_copy:
                return entry
        raise BackupError(
            "There is no verified backup in backup storage (pre-restore safety copies are never 'latest'): "
            "run backup_list and restore one by name.",
            code="no_backup",
        )

    def find(self, ref: str) -> Entry:
        """A backup by name, by archive path in storage, or by manifest path."""
        wanted = ref.removesuffix(archive.MANIFEST_SUFFIX)
        for entry in self.entries:
            if wanted == entry.archive or backup_name(wanted) == entry.name:
                return entry
        if wanted.isdigit():
            raise BackupError(
                f"Backups are known by name now, not by number: {wanted} is no backup. "
                "Run backup_list and pass a name from its first column (or 'latest').",
                code="no_backup",
            )
        where = " (offsite storage could not be read: " + self.offsite_error + ")" if self.offsite_error else ""
        raise BackupError(f"No backup called {ref!r} in backup storage{where}.", code="no_backup")


def read_catalogue(*, offsite: bool = True) -> Catalogue:
    """Every manifest in local storage, and those only offsite (when configured), newest first.

    Raises BackupError when local backup storage cannot be read; an unreachable offsite storage is reported in
    `offsite_error` and its backups are left out.
    """
    local = archive.backup_storage()
    catalogue = Catalogue(entries=[])
    try:
        found = {entry.name: entry for entry in _entries(local, "local", catalogue)}
    except OSError as exc:
        raise BackupError(
            f"Backup storage cannot be read ({exc.strerror or exc.__class__.__name__}: "
            f"{getattr(exc, 'filename', '') or ''}).",
            code="storage_unreachable",
        ) from None
    remote = archive.offsite_storage() if offsite else None
    if remote is not None:
        try:
            for entry in _entries(remote, "offsite", catalogue):
                local_entry = found.get(entry.name)
                if local_entry is not None and local_entry.archive_present:
                    local_entry.also_offsite = True
                else:  # only offsite, or the local archive is gone: the bucket's copy is the one to use
                    found[entry.name] = entry
        except Exception as exc:  # botocore's errors, DNS, TLS: any of them means "not reachable now"
            catalogue.offsite_error = _first_line(exc)
            logger.warning("offsite backup storage could not be read: %s", catalogue.offsite_error)
    catalogue.entries = sorted(found.values(), key=_newest_first, reverse=True)
    return catalogue


def _newest_first(entry: Entry):
    return (entry.manifest.get("finished_at") or "", entry.name)


def _entries(storage, where: str, catalogue: Catalogue):
    if not _exists(storage, ""):
        return
    for path in walk_storage(storage):
        if not path.endswith(archive.MANIFEST_SUFFIX):
            continue
        archive_name = path[: -len(archive.MANIFEST_SUFFIX)]
        try:
            manifest = archive.read_manifest(storage, archive_name)
        except (BackupError, ValueError) as exc:
            catalogue.problems.append(f"{path}: {getattr(exc, 'message', exc)}")
            continue
        manifest.setdefault("archive", archive_name)
        name = manifest.get("name") or backup_name(manifest["archive"])
        yield Entry(
            name=name,
            manifest=manifest,
            storage=storage,
            where=where,
            archive_present=storage.exists(manifest["archive"]),
        )


def _exists(storage, path: str) -> bool:
    """A local directory not made yet holds no backups (the first backup makes it); anything else is listed."""
    if isinstance(storage, FileSystemStorage):
        root = Path(storage.path(path))
        if not root.exists():
            return False
        if not root.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(root))
    return True


def walk_storage(storage, path: str = ""):
    """Every file path below `path` in a storage, depth first."""
    dirs, files = storage.listdir(path)
    for name in files:
        yield f"{path}/{name}" if path else name
    for d in dirs:
        yield from walk_storage(storage, f"{path}/{d}" if path else d)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else exc.__class__.__name__)[:300]
