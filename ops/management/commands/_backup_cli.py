"""Shared bits of the backup commands: progress on the command's stderr, sizes, and one clear sentence with a
non-zero exit for every failure an operator can expect (never a traceback)."""

import functools

from django.core.management.base import CommandError
from django.db import DatabaseError

from core.errors import DomainError
from ops.backups.engines import DatabaseTarget, failure_reason, scrub
from ops.backups.progress import Progress


def progress_for(command) -> Progress:
    return Progress(command.stderr._out)


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def fail(message: str) -> CommandError:
    """Exit 1 with `message` as one sentence (one line, ending with a full stop)."""
    message = " ".join(message.split())
    if not message.endswith((".", "!", "?")):
        message += "."
    return CommandError(message, returncode=1)


def reported(handle):
    """Wrap a command's handle(): an expected failure (a domain error, the database gone or refusing the
    credentials, backup storage unreadable or offsite unreachable) becomes one sentence on stderr and exit 1."""

    @functools.wraps(handle)
    def wrapped(self, *args, **options):
        try:
            return handle(self, *args, **options)
        except CommandError:
            raise
        except DomainError as exc:
            raise fail(exc.message) from None
        except DatabaseError as exc:
            raise fail(database_failure(exc)) from None
        except OSError as exc:
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            raise fail(f"Backup storage cannot be used{where}: {exc.strerror or exc}.") from None
        except Exception as exc:
            if _is_offsite_error(exc):
                raise fail(f"Offsite backup storage cannot be reached: {failure_reason(exc)}.") from None
            raise

    return wrapped


def database_failure(exc: BaseException) -> str:
    target = DatabaseTarget.from_settings()
    reason = scrub(failure_reason(exc), target)
    where = f"{target.host or 'localhost'}{':' + target.port if target.port else ''}"
    if "does not exist" in reason and "relation" in reason:
        return f"The database {target.name} lacks tables this command needs ({reason}): restore it first."
    return f"The database {target.name} on {where} cannot be used: {reason}."


def _is_offsite_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("botocore", "boto3", "urllib3", "storages"))
