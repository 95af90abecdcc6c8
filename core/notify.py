"""Alerts to people (low stock, failed backups, integrity violations) through a pluggable notifier.

Apps call `notify()`; which channel it reaches is `settings.NOTIFIER` (a dotted path to a callable taking
`event, message, data`). A failure to notify is logged, never raised into the business path.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("tillhouse.notify")


def log_notifier(event: str, message: str, data: dict) -> None:
    logger.warning("%s: %s", event, message, extra={"event": event, "data": data})


def notify(event: str, message: str, **data) -> bool:
    """Send an alert; returns whether the channel accepted it."""
    try:
        import_string(getattr(settings, "NOTIFIER", "core.notify.log_notifier"))(event, message, data)
    except Exception:
        logger.exception("notifier failed for %s", event)
        return False
    return True
