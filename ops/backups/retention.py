"""Which backups retention removes. A pure function of the records, so it can be read and tested on its own.

Per kind, the newest N successful backups stay (settings.BACKUP_KEEP: daily 7, weekly 4, monthly 3,
pre-deploy 5); kinds without a number (manual, pre-restore) stay until someone deletes them. The newest verified
backup always stays, whatever its kind and age. Failed and running records are never touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from ops.models import BackupRecord


def _newest_first(record: BackupRecord):
    return (record.finished_at or record.started_at, record.pk)


def backups_to_prune(
    records: Iterable[BackupRecord], *, keep: dict[str, int], protected_ids: Iterable[int] = ()
) -> list[BackupRecord]:
    by_kind: dict[str, list[BackupRecord]] = defaultdict(list)
    for record in records:
        if record.status == BackupRecord.Status.SUCCEEDED:
            by_kind[record.kind].append(record)
    protected = set(protected_ids)
    prune = []
    for kind, group in by_kind.items():
        if kind not in keep:
            continue
        group.sort(key=_newest_first, reverse=True)
        prune += [r for r in group[max(keep[kind], 0) :] if r.pk not in protected]
    return sorted(prune, key=_newest_first)
