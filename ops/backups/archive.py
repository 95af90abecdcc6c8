"""Archives in storage: streamed in with a sha256 on the way, optionally encrypted, with a manifest beside each.

Storage is Django's storage API: the "backups" storage (a local directory by default) holds every archive; the
"backups_offsite" storage (an S3-compatible bucket via django-storages) gets a copy when it is configured.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

from ops.backups.engines import CHUNK, BackupError
from ops.backups.progress import NullProgress, Progress

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1


def backup_storage() -> Storage:
    return storages["backups"]


def offsite_storage() -> Storage | None:
    return storages["backups_offsite"] if "backups_offsite" in settings.STORAGES else None


class TooLarge(BackupError):
    def __init__(self, limit: int):
        super().__init__(
            f"The archive grew past BACKUP_MAX_BYTES ({limit} bytes): free space or raise the limit.", code="too_large"
        )


class HashingReader:
    """A read-only file over a chunk iterator that hashes, counts and caps the bytes as they pass."""

    def __init__(self, chunks: Iterator[bytes], *, limit: int = 0, progress: Progress | None = None):
        self._chunks = chunks
        self._buffer = b""
        self.sha256 = hashlib.sha256()
        self.bytes = 0
        self.limit = limit
        self.progress = progress or NullProgress()

    def _take(self, chunk: bytes) -> bytes:
        self.sha256.update(chunk)
        self.bytes += len(chunk)
        if self.limit and self.bytes > self.limit:
            raise TooLarge(self.limit)
        self.progress.advance(len(chunk))
        return chunk

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buffer += self._take(chunk)
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def __iter__(self):
        for chunk in self._chunks:
            yield self._take(chunk)

    def hexdigest(self) -> str:
        return self.sha256.hexdigest()


def save_stream(storage: Storage, name: str, chunks: Iterator[bytes], *, progress=None) -> tuple[str, int, str]:
    """Stream chunks into storage under name; returns (stored name, bytes, sha256)."""
    reader = HashingReader(chunks, limit=settings.BACKUP_MAX_BYTES, progress=progress)
    stored = storage.save(name, File(reader, name=Path(name).name))
    # Whatever was left unread (a storage that stopped early) still counts against the hash and the cap.
    for _ in reader:
        pass
    return stored, reader.bytes, reader.hexdigest()


def open_chunks(storage: Storage, name: str) -> Iterator[bytes]:
    with storage.open(name, "rb") as fh:
        yield from iter(lambda: fh.read(CHUNK), b"")


def file_chunks(path: str | Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from iter(lambda: fh.read(CHUNK), b"")


def sha256_of(chunks: Iterator[bytes], *, progress=None) -> tuple[int, str]:
    reader = HashingReader(chunks, progress=progress)
    for _ in reader:
        pass
    return reader.bytes, reader.hexdigest()


# -- manifests ----------------------------------------------------------------------------------------------
def manifest_name(archive_name: str) -> str:
    return archive_name + MANIFEST_SUFFIX


def write_manifest(storage: Storage, archive_name: str, manifest: dict) -> str:
    name = manifest_name(archive_name)
    if storage.exists(name):
        storage.delete(name)
    body = json.dumps({"format": MANIFEST_FORMAT, **manifest}, indent=2, sort_keys=True).encode()
    return storage.save(name, File(_BytesFile(body), name=Path(name).name))


def read_manifest(storage: Storage, archive_name: str) -> dict:
    name = manifest_name(archive_name)
    if not storage.exists(name):
        raise BackupError(f"No manifest beside {archive_name}.", code="manifest_missing")
    with storage.open(name, "rb") as fh:
        return json.loads(fh.read())


class _BytesFile:
    def __init__(self, data: bytes):
        self._data = data

    def read(self, size=-1):
        data, self._data = (self._data, b"") if size < 0 else (self._data[:size], self._data[size:])
        return data


# -- encryption (GnuPG: the server holds only the public key) ---------------------------------------------
def gpg_binary() -> str:
    found = shutil.which("gpg")
    if not found:
        raise BackupError("gpg was not found: install gnupg (make backup-tools).", code="tool_missing")
    return found


@contextmanager
def gpg_home(key_file: str):
    """A throwaway GnuPG home holding only key_file; yields the key's fingerprint."""
    home = tempfile.mkdtemp(prefix="tillhouse-gpg-")
    try:
        base = [gpg_binary(), "--batch", "--quiet", "--homedir", home]
        imported = subprocess.run([*base, "--import", key_file], capture_output=True, text=True, check=False)
        if imported.returncode != 0:
            raise BackupError(f"gpg could not import {Path(key_file).name}: {imported.stderr.strip()}", code="key")
        listing = subprocess.run([*base, "--with-colons", "--list-keys"], capture_output=True, text=True, check=False)
        fingerprints = [line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:")]
        if not fingerprints:
            raise BackupError(f"{Path(key_file).name} holds no usable key.", code="key")
        yield home, fingerprints[0]
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def encrypt_filter(home: str, fingerprint: str) -> list[str]:
    return [
        gpg_binary(),
        "--batch",
        "--quiet",
        "--homedir",
        home,
        "--trust-model",
        "always",
        "--compress-algo",
        "none",  # pg_dump -Fc is compressed already
        "--encrypt",
        "--recipient",
        fingerprint,
        "--output",
        "-",
    ]


@contextmanager
def decrypted(chunks: Iterator[bytes], key_file: str) -> Iterator[Iterator[bytes]]:
    """Yield the plaintext of an encrypted archive, decrypted with the private key in key_file."""
    if not key_file:
        raise BackupError(
            "This backup is encrypted: give the private key (--key-file or BACKUP_GPG_PRIVATE_KEY).", code="key"
        )
    with gpg_home(key_file) as (home, _):
        argv = [gpg_binary(), "--batch", "--quiet", "--homedir", home, "--pinentry-mode", "loopback"]
        argv += ["--passphrase", "", "--decrypt"]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        errors = bytearray()

        def pump():
            try:
                for chunk in chunks:
                    proc.stdin.write(chunk)
            except BrokenPipeError:
                pass
            finally:
                with suppress(BrokenPipeError):
                    proc.stdin.close()

        def drain_errors():
            errors.extend(proc.stderr.read())

        feeder = threading.Thread(target=pump, daemon=True)
        err_reader = threading.Thread(target=drain_errors, daemon=True)
        feeder.start()
        err_reader.start()

        def plaintext():
            yield from iter(lambda: proc.stdout.read(CHUNK), b"")
            feeder.join()
            err_reader.join()
            if proc.wait() != 0:
                raise BackupError(f"gpg could not decrypt the archive: {errors.decode(errors='replace').strip()}")

        try:
            yield plaintext()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
