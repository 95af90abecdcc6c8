"""Fixed-window counters in the cache (Redis in production) behind the rate limits on guesses: wrong PINs, pairing
codes, unknown gift-card codes, wrong receipt links.

A cache outage counts nothing and refuses nothing (fails open, with a warning): each limit only slows down guessing
a secret that is still needed, and a till must keep selling while Redis is away."""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def count_in_window(key: str, seconds: int, *, what: str) -> int:
    """Count one more under `key` in a window that starts at its first count; return the count so far (0 when the
    cache did not answer). `what` names the limit in the warning."""
    try:
        cache.add(key, 0, timeout=seconds)
        return cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.set(key, 1, timeout=seconds)
        return 1
    except Exception:
        logger.warning("%s rate limit unavailable: the cache did not answer", what, exc_info=True)
        return 0


def counted(key: str, *, what: str) -> int:
    """What has been counted under `key` in its current window (0 when none, or when the cache did not answer)."""
    try:
        return cache.get(key) or 0
    except Exception:
        logger.warning("%s rate limit unavailable: the cache did not answer", what, exc_info=True)
        return 0
