"""Masking of secrets before anything leaves the process: log lines, Sentry events, alert bodies.

Two rules: a value stored under a sensitive key (password, token, cookie, authorization, ...) is replaced whole;
free text has `key=value` / `key: value` pairs of sensitive keys, bearer credentials and card-like numbers (13 to 19
digits passing the Luhn check) masked. Pure functions, no Django imports: settings and Sentry use them too.
"""

import re
from collections.abc import Mapping

MASK = "[masked]"

SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|authorization|^auth$|cookie|sessionid|session[-_]key|csrf|"
    r"credential|private[-_]?key|signature|(^|[-_])pin($|[-_])|card[-_]?number|cvv|cvc|dsn",
    re.IGNORECASE,
)

# key=value, key: value, "key": "value" for sensitive keys inside free text (query strings, messages, headers).
_PAIR = re.compile(
    r"""(?P<key>["']?[\w-]*(?:pass(?:word|wd|phrase)?|secret|token|api[-_]?key|authorization|cookie|sessionid|csrf\w*|"""
    r"""credential|cvv|cvc)[\w-]*["']?)(?P<sep>\s*[=:]\s*)"""
    r"""(?!(?:Bearer|Token|Basic) \[masked\])(?P<value>"[^"]*"|'[^']*'|[^\s&,;]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(Bearer|Token|Basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@", re.I)
_CARD_LIKE = re.compile(r"(?<![\d.])(?:\d[ -]?){12,18}\d(?![\d.])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        number = int(char)
        if position % 2 == 1:
            number *= 2
            if number > 9:
                number -= 9
        total += number
    return total % 10 == 0


def _mask_card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return "*" * (len(digits) - 4) + digits[-4:]
    return match.group(0)


def mask_text(text: str) -> str:
    """Mask secrets inside free text (a log message, an exception message, a URL, a query string)."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _PAIR.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", text)
    return _CARD_LIKE.sub(_mask_card, text)


def is_sensitive_key(key) -> bool:
    return isinstance(key, str) and bool(SENSITIVE_KEY.search(key))


def mask_data(value, *, depth: int = 0):
    """A copy of `value` (dicts, lists, strings) with sensitive keys replaced and free text masked."""
    if depth > 8:
        return value
    if isinstance(value, Mapping):
        return {
            key: (MASK if is_sensitive_key(key) and item not in (None, "") else mask_data(item, depth=depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        masked = [mask_data(item, depth=depth + 1) for item in value]
        # Sentry sends headers as [[name, value], ...]
        if len(masked) == 2 and is_sensitive_key(masked[0]) and isinstance(value, list | tuple):
            return [masked[0], MASK]
        return masked
    if isinstance(value, str):
        return mask_text(value)
    return value
