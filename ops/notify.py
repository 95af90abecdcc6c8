"""A webhook behind `core.notify.notify()`: set NOTIFY_WEBHOOK_URL and settings point NOTIFIER here.

The body is what the receiving service expects, chosen by NOTIFY_WEBHOOK_KIND or guessed from the URL:
- slack    (hooks.slack.com):           {"text": ...}
- discord  (discord.com/api/webhooks):  {"content": ...}
- telegram (api.telegram.org/bot<token>/sendMessage): {"chat_id": NOTIFY_TELEGRAM_CHAT_ID, "text": ...}
- kuma     (an Uptime Kuma push URL, .../api/push/<token>): GET with status=down&msg=...
- json     (anything else): {"event", "message", "data", "text", "content"} — Slack- and Discord-shaped at once.

Sending happens after the caller's transaction commits, through the Celery task `ops.send_webhook` (retried with
backoff); if the broker cannot take it, it is sent inline. A failure is raised to `core.notify.notify`, which
logs it and never lets it reach the business path.
"""

import json
import logging
import urllib.parse
import urllib.request

from django.conf import settings
from django.db import transaction

from ops.redact import mask_data, mask_text

logger = logging.getLogger("tillhouse.notify")

TIMEOUT_SECONDS = 5
_LIMITS = {"discord": 2000, "telegram": 4096, "slack": 3000, "kuma": 250}


def webhook_kind(url: str) -> str:
    configured = getattr(settings, "NOTIFY_WEBHOOK_KIND", "")
    if configured:
        return configured
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    if host.endswith("slack.com"):
        return "slack"
    if host.endswith(("discord.com", "discordapp.com")):
        return "discord"
    if host == "api.telegram.org":
        return "telegram"
    if "/api/push/" in parsed.path:
        return "kuma"
    return "json"


def _text(event: str, message: str, kind: str) -> str:
    store = settings.POS_STORE_NAME
    text = f"[{store}] {event}: {message}"
    limit = _LIMITS.get(kind)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def build_request(url: str, event: str, message: str, data: dict) -> urllib.request.Request:
    """The HTTP request for one alert (secrets masked in the message and data)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("NOTIFY_WEBHOOK_URL must be an http(s) URL")
    kind = webhook_kind(url)
    message = mask_text(message)
    data = mask_data(json.loads(json.dumps(data or {}, default=str)))
    text = _text(event, message, kind)
    if kind == "kuma":
        query = urllib.parse.urlencode({"status": "down", "msg": text, "ping": ""})
        separator = "&" if urllib.parse.urlsplit(url).query else "?"
        return urllib.request.Request(f"{url}{separator}{query}", method="GET")  # noqa: S310 (scheme checked)
    if kind == "slack":
        body = {"text": text}
    elif kind == "discord":
        body = {"content": text}
    elif kind == "telegram":
        body = {"chat_id": settings.NOTIFY_TELEGRAM_CHAT_ID, "text": text, "disable_web_page_preview": True}
    else:
        body = {"event": event, "message": message, "data": data, "text": text, "content": text}
    return urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Tillhouse-notifier"},
        method="POST",
    )


def send_webhook_now(event: str, message: str, data: dict) -> int:
    """POST (or GET, for Uptime Kuma) the alert; returns the HTTP status. Raises on a network error or a non-2xx."""
    request = build_request(settings.NOTIFY_WEBHOOK_URL, event, message, data)
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (URL is from settings)
        return response.status


def webhook_notifier(event: str, message: str, data: dict) -> None:
    """NOTIFIER callable: queue the webhook once the current transaction commits."""
    payload = json.loads(json.dumps(data or {}, default=str))
    transaction.on_commit(lambda: _enqueue(event, message, payload))


def _enqueue(event: str, message: str, data: dict) -> None:
    from ops.tasks import send_webhook

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        try:
            send_webhook.delay(event, message, data)
            return
        except Exception as exc:
            logger.warning("could not queue the alert (%s); sending it inline", type(exc).__name__)
    try:
        send_webhook_now(event, message, data)
    except Exception:
        logger.exception("notifier failed for %s", event)
