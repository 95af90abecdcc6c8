import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from core.notify import notify
from ops.notify import build_request

WEBHOOK_PORT = 8244


class _Receiver(BaseHTTPRequestHandler):
    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append((self.command, self.path, body))
        status = 500 if "fail" in self.path else 200
        self.send_response(status)
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(settings):
    server = ThreadingHTTPServer(("127.0.0.1", WEBHOOK_PORT), _Receiver)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.NOTIFIER = "ops.notify.webhook_notifier"
    settings.CELERY_TASK_ALWAYS_EAGER = True  # sent in this process, not queued for a worker
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_an_alert_is_posted_as_json_that_slack_and_discord_accept(
    webhook, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_WEBHOOK_URL = f"http://127.0.0.1:{WEBHOOK_PORT}/hook"
    with django_capture_on_commit_callbacks(execute=True):
        assert notify("stock.low", "3 products are low: Milk (1 ≤ 5)", location="main", count=3) is True
    ((method, path, body),) = webhook.received
    payload = json.loads(body)
    assert method == "POST" and path == "/hook"
    assert payload["event"] == "stock.low"
    assert payload["data"] == {"location": "main", "count": 3}
    assert payload["text"] == payload["content"] == "[Tillhouse] stock.low: 3 products are low: Milk (1 ≤ 5)"


@pytest.mark.django_db
def test_uptime_kuma_push_urls_get_a_down_push_with_the_message(webhook, settings, django_capture_on_commit_callbacks):
    settings.NOTIFY_WEBHOOK_URL = f"http://127.0.0.1:{WEBHOOK_PORT}/api/push/AbCdEf123"
    with django_capture_on_commit_callbacks(execute=True):
        notify("backup.failed", "Nightly backup failed")
    ((method, path, _),) = webhook.received
    query = parse_qs(urlsplit(path).query)
    assert method == "GET"
    assert urlsplit(path).path == "/api/push/AbCdEf123"
    assert query["status"] == ["down"]
    assert query["msg"] == ["[Tillhouse] backup.failed: Nightly backup failed"]


def test_telegram_slack_and_discord_get_their_own_body(settings):
    settings.NOTIFY_TELEGRAM_CHAT_ID = "-100123"
    telegram = build_request("https://api.telegram.org/bot123:abc/sendMessage", "e", "m", {})
    assert json.loads(telegram.data) == {
        "chat_id": "-100123",
        "text": "[Tillhouse] e: m",
        "disable_web_page_preview": True,
    }
    assert json.loads(build_request("https://hooks.slack.com/services/T/B/X", "e", "m", {}).data) == {
        "text": "[Tillhouse] e: m"
    }
    assert json.loads(build_request("https://discord.com/api/webhooks/1/abc", "e", "m", {}).data) == {
        "content": "[Tillhouse] e: m"
    }


def test_secrets_in_an_alert_are_masked():
    request = build_request("https://example.invalid/hook", "e", "login failed password=hunter2", {"token": "t-1"})
    payload = json.loads(request.data)
    assert "hunter2" not in request.data.decode() and "t-1" not in request.data.decode()
    assert payload["data"] == {"token": "[masked]"}


@pytest.mark.django_db
def test_a_webhook_that_fails_is_logged_and_never_raised(webhook, settings, caplog, django_capture_on_commit_callbacks):
    settings.NOTIFY_WEBHOOK_URL = f"http://127.0.0.1:{WEBHOOK_PORT}/fail"
    with django_capture_on_commit_callbacks(execute=True):
        notify("integrity.violations", "2 violations")  # does not raise
    assert len(webhook.received) == 1
    assert "notifier failed for integrity.violations" in caplog.text


@pytest.mark.django_db
def test_an_unreachable_webhook_is_logged_and_never_raised(settings, caplog, django_capture_on_commit_callbacks):
    settings.NOTIFIER = "ops.notify.webhook_notifier"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.NOTIFY_WEBHOOK_URL = f"http://127.0.0.1:{WEBHOOK_PORT + 1}/nobody-listens"
    with django_capture_on_commit_callbacks(execute=True):
        notify("stock.low", "Milk is low")
    assert "notifier failed for stock.low" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_an_alert_raised_inside_a_transaction_that_rolls_back_is_not_sent(webhook, settings):
    from django.db import transaction

    settings.NOTIFY_WEBHOOK_URL = f"http://127.0.0.1:{WEBHOOK_PORT}/hook"
    with pytest.raises(RuntimeError), transaction.atomic():
        notify("stock.low", "Milk is low")
        raise RuntimeError("the sale failed")
    assert webhook.received == []


def test_the_webhook_notifier_is_chosen_when_a_url_is_configured():
    from posproject.tests.test_settings import _settings_in_fresh_process

    assert _settings_in_fresh_process(
        {"DEBUG": "True", "NOTIFY_WEBHOOK_URL": "https://hooks.slack.com/x"}, "settings.NOTIFIER"
    ) == ("ops.notify.webhook_notifier")
    assert _settings_in_fresh_process({"DEBUG": "True"}, "settings.NOTIFIER") == "core.notify.log_notifier"
