"""Shared bits of the backup commands: progress on the command's stderr, sizes, a failed exit."""

from django.core.management.base import CommandError

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
    return CommandError(message, returncode=1)
