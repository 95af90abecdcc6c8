"""Which language a request speaks, and which a store prints in.

A signed-in person's own language (StaffProfile.language) comes first; without one, the paired terminal's
(Terminal.language), then the store's (Location.language: the terminal's location, else the person's only home
location). When none of these names one, what LocaleMiddleware chose from the browser stays (Accept-Language, the
language cookie), and LANGUAGE_CODE after that. Receipts and kitchen tickets print in the store's language
(`store_language`), whoever rang the sale up.

What a person and a device resolve to is kept in the cache for a minute (a request costs no query for it); saving
a staff profile, a terminal or a location moves the cache's version on, so a changed language shows at the next
request. A cache that does not answer is passed by: the language is read from the database.
"""

import logging

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import translation

from staff.models import StaffProfile, Terminal

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60
_VERSION_KEY = "staff.languages.version"


def supported(code: str) -> str:
    """`code` when it is one of LANGUAGES, else ""."""
    return code if code and code in dict(settings.LANGUAGES) else ""


def store_language(location) -> str:
    """The language a store prints in: its own, else LANGUAGE_CODE's base language."""
    own = supported(getattr(location, "language", "") or "")
    return own or translation.get_supported_language_variant(settings.LANGUAGE_CODE)


def _terminal_id(request) -> int | None:
    from staff.terminals import _DEVICE_SALT, DEVICE_COOKIE, cookie_age

    value = request.COOKIES.get(DEVICE_COOKIE)
    if not value:
        return None
    try:
        return int(signing.loads(value, salt=_DEVICE_SALT, max_age=cookie_age())["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def request_language(request) -> str:
    """The language this request's person, terminal or store names, or "" when none does (cached)."""
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    terminal_id = _terminal_id(request)
    if user_id is None and terminal_id is None:
        return ""
    try:
        version = cache.get(_VERSION_KEY) or 0
        key = f"staff.languages:{version}:{user_id}:{terminal_id}"
        found = cache.get(key)
    except Exception:  # the cache is an aid: without it the database answers
        logger.warning("language cache unavailable", exc_info=True)
        return _resolve(user_id, terminal_id)
    if found is None:
        found = _resolve(user_id, terminal_id)
        try:
            cache.set(key, found, CACHE_SECONDS)
        except Exception:
            logger.warning("language cache unavailable", exc_info=True)
    return found


def _resolve(user_id: int | None, terminal_id: int | None) -> str:
    home = ""
    if user_id is not None:
        profile = StaffProfile.objects.filter(user_id=user_id).values_list("pk", "language").first()
        if profile and supported(profile[1]):
            return profile[1]
        if profile:
            through = StaffProfile.locations.through.objects.filter(staffprofile_id=profile[0])
            homes = list(through.values_list("location__language", flat=True)[:2])
            if len(homes) == 1:
                home = supported(homes[0])
    if terminal_id is not None:
        row = Terminal.objects.filter(pk=terminal_id, revoked_at=None).values_list("language", "location__language")
        found = row.first()
        if found:
            return supported(found[0]) or supported(found[1]) or home
    return home


def forget_languages(**kwargs) -> None:
    """A language may have changed: what the cache holds is passed by from the next request on."""
    try:
        cache.add(_VERSION_KEY, 0, None)
        cache.incr(_VERSION_KEY)
    except Exception:  # then the cached answers expire within CACHE_SECONDS
        logger.warning("language cache unavailable", exc_info=True)


for _model in (StaffProfile, Terminal, "inventory.Location"):
    post_save.connect(forget_languages, sender=_model, dispatch_uid=f"staff.languages.save.{_model}")
    post_delete.connect(forget_languages, sender=_model, dispatch_uid=f"staff.languages.delete.{_model}")
m2m_changed.connect(forget_languages, sender=StaffProfile.locations.through, dispatch_uid="staff.languages.homes")


class StaffLanguageMiddleware:
    """Activates the person's, terminal's or store's language for the request (after LocaleMiddleware, which
    already chose one from the browser, and after authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = request_language(request)
        if language and language != getattr(request, "LANGUAGE_CODE", ""):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
