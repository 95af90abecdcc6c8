import json
import logging

import pytest

from ops.logging import TextFormatter, accept_request_id, request_id_var
from ops.redact import mask_data, mask_text


def _access_lines(lines):
    return [line for line in lines if line["logger"] == "tillhouse.request"]


def test_a_request_id_sent_in_the_header_is_echoed_and_logged(client, json_log):
    response = client.get("/accounts/login/", headers={"X-Request-ID": "shift-42-abcdef"})
    assert response["X-Request-ID"] == "shift-42-abcdef"
    (line,) = _access_lines(json_log())
    assert line["request_id"] == "shift-42-abcdef"
    assert line["method"] == "GET"
    assert line["path"] == "/accounts/login/"
    assert line["status"] == 200
    assert line["latency_ms"] >= 0
    assert line["client_ip"] == "127.0.0.1"
    assert line["level"] == "INFO"
    assert "timestamp" in line


def test_without_a_header_a_request_id_is_generated_and_echoed(client, json_log):
    response = client.get("/accounts/login/")
    generated = response["X-Request-ID"]
    assert len(generated) == 32
    assert _access_lines(json_log())[0]["request_id"] == generated


def test_a_malformed_request_id_is_replaced_not_trusted(client):
    response = client.get("/accounts/login/", headers={"X-Request-ID": "bad id\nwith newline"})
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert accept_request_id('"><script>') != '"><script>'


@pytest.mark.django_db
def test_the_access_line_carries_the_signed_in_user(client, manager, json_log):
    client.force_login(manager)
    client.get("/")
    (line,) = _access_lines(json_log())
    assert line["user_id"] == manager.pk


@pytest.mark.django_db
def test_log_lines_written_while_handling_a_request_carry_its_id(client, manager, json_log, settings):
    settings.NOTIFIER = "core.notify.log_notifier"
    from core.notify import notify

    token = request_id_var.set("req-from-the-till-01")
    try:
        notify("stock.low", "Milk is low")
    finally:
        request_id_var.reset(token)
    (line,) = [entry for entry in json_log() if entry["logger"] == "tillhouse.notify"]
    assert line["request_id"] == "req-from-the-till-01"
    assert line["event"] == "stock.low"


@pytest.mark.django_db
def test_passwords_in_a_login_post_never_reach_the_logs(client, json_log):
    client.post(
        "/accounts/login/?next=/&token=abc123secret",
        {"username": "nobody", "password": "correct-horse-battery"},
        headers={"Authorization": "Bearer sk_live_0123456789abcdef"},
    )
    raw = json_log.raw()
    assert "correct-horse-battery" not in raw
    assert "abc123secret" not in raw
    assert "sk_live_0123456789abcdef" not in raw
    assert "token=[masked]" in raw


def test_secrets_and_card_numbers_in_messages_and_fields_are_masked(json_log):
    logging.getLogger("tillhouse.test").warning(
        "card 4111 1111 1111 1111 declined; password=hunter2; Authorization: Bearer abcdefghijklmnop",
        extra={"api_key": "k-123", "cookie": "sessionid=xyz", "payload": {"pin": "1234", "qty": 3}},
    )
    (line,) = json_log()
    assert line["message"] == "card ************1111 declined; password=[masked]; Authorization: Bearer [masked]"
    assert line["api_key"] == "[masked]"
    assert line["cookie"] == "[masked]"
    assert line["payload"] == {"pin": "[masked]", "qty": 3}


def test_barcodes_and_amounts_that_are_not_card_numbers_are_left_alone():
    assert mask_text("barcode 4006381333931 amount 1234.50 order 1234567890123") == (
        "barcode 4006381333931 amount 1234.50 order 1234567890123"
    )
    assert (
        mask_text("postgres://tillhouse:s3cret@db:5432/tillhouse") == "postgres://tillhouse:[masked]@db:5432/tillhouse"
    )
    assert mask_data([["Authorization", "Token abc"], ["Accept", "text/html"]]) == [
        ["Authorization", "[masked]"],
        ["Accept", "text/html"],
    ]


def test_log_level_comes_from_the_environment():
    from posproject.tests.test_settings import _settings_in_fresh_process

    assert _settings_in_fresh_process(
        {"DEBUG": "True", "LOG_LEVEL": "warning"}, "settings.LOGGING['root']['level']"
    ) == ("WARNING")


def test_debug_mode_logs_human_readable_lines_and_production_logs_json():
    from posproject.tests.test_settings import _settings_in_fresh_process

    assert (
        _settings_in_fresh_process({"DEBUG": "True"}, "settings.LOGGING['handlers']['console']['formatter']") == "text"
    )
    assert (
        _settings_in_fresh_process(
            {"DEBUG": "False", "SECRET_KEY": "x" * 50}, "settings.LOGGING['handlers']['console']['formatter']"
        )
        == "json"
    )
    record = logging.LogRecord("tillhouse.request", logging.INFO, "", 0, "GET / 200", (), None)
    record.request_id = "0123456789abcdef"
    record.latency_ms = 3.2
    line = TextFormatter().format(record)
    assert "INFO" in line and "[01234567]" in line and "GET / 200 (3.2 ms)" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
