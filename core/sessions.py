"""The session engine (SESSION_ENGINE): Django's database sessions, which a read never fails to answer while writes
are paused (a restore runs).

A screen that only reads may still change its session (the POS marks the terminal active, the idle clock is
refreshed). While writes are paused the change is not saved, and a save or delete that runs into the read-only
database counts as not done, instead of failing the request: the session keeps what it held before.
"""

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError

from core import writes


def _ran_into_the_barrier(exc: BaseException) -> bool:
    # Django turns a failed update into UpdateError, raised while handling the database's error.
    return writes.is_read_only_error(exc.__context__ if isinstance(exc, UpdateError) else exc)


class SessionStore(DatabaseSessionStore):
    def save(self, must_create=False):
        if writes.paused():
            if self.session_key is None:
                # a cookie as usual; nothing stored behind it (SessionBase has this method; the stubs omit it)
                self._session_key = self._get_new_session_key()  # type: ignore[attr-defined]
            return
        try:
            super().save(must_create=must_create)
        except (UpdateError, DatabaseError) as exc:
            if not _ran_into_the_barrier(exc):
                raise

    def delete(self, session_key=None):
        if writes.paused():
            return
        try:
            super().delete(session_key)
        except DatabaseError as exc:
            if not writes.is_read_only_error(exc):
                raise
