"""When scheduled backup work is due, in the shop's local time.

Celery beat runs in UTC and ticks every few minutes; each tick asks `is_due()`, which turns "02:00 in TIME_ZONE"
into a UTC instant for each local day. That is right across daylight-saving changes: a time that does not exist
on the spring-forward day (02:30 in Europe/Berlin) runs at the first instant after the gap, and a time that occurs
twice on the fall-back day runs once, at its first occurrence. A tick that was missed (worker down) catches up.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def parse_local_time(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes or 0))


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def scheduled_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on local `day` (first occurrence; a skipped time resolves past the gap)."""
    naive = datetime.combine(day, at)
    candidate = naive.replace(tzinfo=zone, fold=0)
    as_utc = candidate.astimezone(ZoneInfo("UTC"))
    if as_utc.astimezone(zone).replace(tzinfo=None) != naive:
        # `at` falls in a spring-forward gap: run at the moment the clocks jump (the first valid local time).
        while (as_utc - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None) >= naive:
            as_utc -= timedelta(minutes=1)
    return as_utc


def latest_slot(at: time, *, now: datetime | None = None, zone: ZoneInfo | None = None) -> datetime:
    """The most recent scheduled instant at or before now."""
    zone = zone or local_zone()
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    for day in (today, today - timedelta(days=1), today - timedelta(days=2)):
        slot = scheduled_instant(day, at, zone)
        if slot <= now:
            return slot
    raise AssertionError("unreachable: a slot two days back always precedes now")


def next_slot(at: time, *, now: datetime | None = None, zone: ZoneInfo | None = None) -> datetime:
    zone = zone or local_zone()
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    for day in (today, today + timedelta(days=1), today + timedelta(days=2)):
        slot = scheduled_instant(day, at, zone)
        if slot > now:
            return slot
    raise AssertionError("unreachable")


def is_due(at: time, last_attempt: datetime | None, *, now: datetime | None = None, zone=None) -> bool:
    """Due when no attempt started since the latest scheduled instant."""
    slot = latest_slot(at, now=now, zone=zone)
    return last_attempt is None or last_attempt < slot
