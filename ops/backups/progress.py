"""Progress for long operations: a bar on a terminal, plain log lines otherwise (cron, Celery, CI)."""

from __future__ import annotations

import sys
import time


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


class NullProgress:
    def start(self, label: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass


class Progress(NullProgress):
    """Counts bytes through a step. On a TTY it redraws one line; otherwise it logs every `every` seconds."""

    def __init__(self, stream=None, *, every: float = 5.0, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self.label, self.total, self.done = "", None, 0
        self.started = self.last = 0.0

    def start(self, label: str, total: int | None = None) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.last = time.monotonic()
        if not self.tty:
            self._line(f"{label}: started" + (f" ({_size(total)})" if total else ""))

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty and now - self.last >= 0.1:
            self.last = now
            self.stream.write("\r" + self._status(now) + "\x1b[K")
            self.stream.flush()
        elif not self.tty and now - self.last >= self.every:
            self.last = now
            self._line(self._status(now))

    def finish(self) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + self._status(now, final=True) + "\x1b[K\n")
            self.stream.flush()
        else:
            self._line(self._status(now, final=True))

    def _status(self, now: float, final: bool = False) -> str:
        elapsed = max(now - self.started, 1e-6)
        rate = f"{_size(self.done / elapsed)}/s"
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            return f"{self.label:<18} [{bar:<30}] {share:>4.0%} {_size(self.done)} {rate} {elapsed:.1f}s"
        tail = "done" if final else "…"
        return f"{self.label:<18} {_size(self.done)} {rate} {elapsed:.1f}s {tail}"

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
