"""Which language a request speaks, and which a store prints in.

A signed-in person's own language (StaffProfile.language) comes first; without one, the paired terminal's
(Terminal.language), then the store's (Location.language: the terminal's location, else the person's only home
location). When none of these names one, what LocaleMiddleware chose from the browser stays (Accept-Language, the
language cookie), and LANGUAGE_CODE after that. Receipts and kitchen tickets print in the store's language
(`store_language`), whoever rang the sale up.
"""

from django.conf import settings
from django.core import signing
from django.utils import translation

from staff.models import StaffProfile, Terminal


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
    """The language this request's person, terminal or store names, or "" when none does."""
    user = getattr(request, "user", None)
    home = ""
    if user is not None and user.is_authenticated:
        profile = StaffProfile.objects.filter(user_id=user.pk).values_list("pk", "language").first()
        if profile and supported(profile[1]):
            return profile[1]
        if profile:
            through = StaffProfile.locations.through.objects.filter(staffprofile_id=profile[0])
            homes = list(through.values_list("location__language", flat=True)[:2])
            if len(homes) == 1:
                home = supported(homes[0])
    terminal_id = _terminal_id(request)
    if terminal_id is not None:
        row = Terminal.objects.filter(pk=terminal_id, revoked_at=None).values_list("language", "location__language")
        found = row.first()
        if found:
            return supported(found[0]) or supported(found[1]) or home
    return home


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
