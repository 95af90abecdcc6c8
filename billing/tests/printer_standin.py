"""A network receipt printer stand-in: a TCP server on 127.0.0.1 that behaves like a port-9100 printer.

Modes (switchable while it runs):
- "print": read the job until the sender closes its end, record it, close (a healthy printer).
- "refuse": nothing listens on the port: connections are refused (printer off or unplugged).
- "hang": read and record what arrives, then never close the connection (a jammed printer).
- "drop": read the first `drop_after` bytes, record them, then reset the connection (a printer rebooting mid-job).
- "deaf": accept the connection and never read from it or close it (a printer whose firmware hung).
"""

import socket
import struct
import threading
import time

MODES = ("print", "refuse", "hang", "drop", "deaf")


class PrinterStandin:
    def __init__(self, port: int, *, mode: str = "print", drop_after: int = 16):
        self.host = "127.0.0.1"
        self.port = port
        self.drop_after = drop_after
        self.jobs: list[bytes] = []  # one entry per connection, the bytes it received
        self.connections = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._held: list[socket.socket] = []
        self._stopping = False
        self.mode = "refuse"
        self.set_mode(mode)

    # --- control ---

    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        if mode == "refuse":
            self._close_listener()
        elif self._listener is None:
            self._open_listener()
        self.mode = mode

    def stop(self) -> None:
        self._stopping = True
        self._close_listener()
        for conn in self._held:
            conn.close()
        self._held.clear()

    def wait_for_jobs(self, count: int, *, timeout: float = 20) -> list[bytes]:
        """Wait until `count` jobs have been received (or the deadline passes); return them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.jobs) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return list(self.jobs)

    @property
    def received(self) -> bytes:
        with self._lock:
            return b"".join(self.jobs)

    # --- server ---

    def _open_listener(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(8)
        listener.settimeout(0.2)
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
        self._thread.start()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            if self._thread is not None:
                self._thread.join(timeout=5)
                self._thread = None

    def _serve(self, listener: socket.socket) -> None:
        while self._listener is listener and not self._stopping:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn, self.mode), daemon=True).start()

    def _record(self, data: bytes) -> None:
        with self._changed:
            self.jobs.append(data)
            self._changed.notify_all()

    def _handle(self, conn: socket.socket, mode: str) -> None:
        with self._lock:
            self.connections += 1
        if mode == "deaf":
            self._held.append(conn)  # closed by stop(), unread
            return
        conn.settimeout(30)
        chunks = []
        size = 0
        try:
            while True:
                limit = self.drop_after - size if mode == "drop" else 65536
                chunk = conn.recv(max(limit, 1))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if mode == "drop" and size >= self.drop_after:
                    break
        except OSError:
            pass
        self._record(b"".join(chunks))
        if mode == "hang":
            self._held.append(conn)  # closed by stop(): the sender sees no confirmation
            return
        if mode == "drop":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        conn.close()
