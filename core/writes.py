"""Whether writes are paused (a restore runs: DESIGN.md §7), for the lower floors that must not import `ops`.

`ops.maintenance` feeds the check (`paused`) when the app starts; until then, and where nothing feeds it, writes
are never paused. `is_read_only_error` recognises a write that ran into the restore's barrier (the database is
read-only for now), for a process that has not seen the flag yet.
"""

from __future__ import annotations

from collections.abc import Callable

READ_ONLY_SQLSTATE = "25006"

_check: Callable[[], bool] | None = None


def feed(check: Callable[[], bool]) -> None:
    """Make `check` the answer of `paused()` (ops.maintenance.active)."""
    global _check
    _check = check


def paused() -> bool:
    return _check is not None and _check()


def is_read_only_error(exc: BaseException | None) -> bool:
    """A write that ran into the barrier (PostgreSQL refused it: the database is read-only for now)."""
    while exc is not None:
        if getattr(exc, "sqlstate", None) == READ_ONLY_SQLSTATE:
            return True
        exc = exc.__cause__
    return False
