import json

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from ops.sentry import init_sentry, scrub_event

SECRETS = ("correct-horse-battery", "4111111111111111", "tok_live_abcdef123456", "sk_live_0123456789", "sess-abc123")


class CapturingTransport(Transport):
    """Keeps the envelopes the SDK would send to Sentry."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


@pytest.fixture
def sentry_events():
    init_sentry(
        dsn="https://public@sentry.example.invalid/1",
        environment="test",
        release="tillhouse@test",
        transport=CapturingTransport,
        include_local_variables=True,
    )
    transport = sentry_sdk.get_client().transport
    yield lambda: [item.get_event() for envelope in transport.envelopes for item in envelope.items if item.get_event()]
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: the SDK is off again for the rest of the suite


@pytest.mark.urls("ops.tests.urls_failing")
@pytest.mark.django_db
def test_an_unhandled_error_reaches_sentry_without_secrets_or_personal_data(client, sentry_events):
    client.raise_request_exception = False
    client.cookies["sessionid"] = "sess-abc123"
    response = client.post(
        "/boom/?token=sk_live_0123456789",
        {"username": "anna", "password": "correct-horse-battery"},
        headers={"Authorization": "Bearer sk_live_0123456789", "X-Request-ID": "req-sentry-0001"},
    )
    assert response.status_code == 500
    sentry_sdk.flush()
    events = sentry_events()
    assert events, "the error did not reach Sentry"
    event = events[0]
    assert event["environment"] == "test"
    assert event["release"] == "tillhouse@test"
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    serialised = json.dumps(events)
    for secret in SECRETS:
        assert secret not in serialised
    assert "[masked]" in serialised
    assert "127.0.0.1" not in serialised  # send_default_pii=False: no client ip


def test_the_scrubber_masks_headers_cookies_body_query_frames_and_breadcrumbs():
    event = {
        "request": {
            "url": "https://pos.example.com/api/v1/orders?api_key=k123",
            "query_string": "token=abc&page=2",
            "headers": {"Authorization": "Token deadbeefdeadbeef", "Cookie": "sessionid=s", "Accept": "text/html"},
            "cookies": {"sessionid": "s"},
            "data": {"password": "pw", "card_number": "4111111111111111", "note": "pay 5555 5555 5555 4444"},
            "env": {"REMOTE_ADDR": "10.0.0.9"},
        },
        "user": {"id": 7, "email": "anna@example.com", "ip_address": "10.0.0.9"},
        "exception": {
            "values": [
                {
                    "value": "password=pw failed",
                    "stacktrace": {"frames": [{"vars": {"secret_key": "x", "amount": "10.00"}}]},
                }
            ]
        },
        "breadcrumbs": {"values": [{"message": "SELECT ... WHERE token = 'abc'", "data": {"pin": "1234"}}]},
        "extra": {"dsn": "https://key@sentry.io/1"},
    }
    scrubbed = scrub_event(event, {})
    request = scrubbed["request"]
    assert request["headers"] == {"Authorization": "[masked]", "Cookie": "[masked]", "Accept": "text/html"}
    assert request["cookies"] == "[masked]"
    assert request["query_string"] == "token=[masked]&page=2"
    assert request["url"].endswith("api_key=[masked]")
    assert request["data"] == {"password": "[masked]", "card_number": "[masked]", "note": "pay ************4444"}
    assert "env" not in request
    assert scrubbed["user"] == {"id": 7}
    assert scrubbed["exception"]["values"][0]["value"] == "password=[masked] failed"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"] == {
        "secret_key": "[masked]",
        "amount": "10.00",
    }
    assert scrubbed["breadcrumbs"]["values"][0]["data"] == {"pin": "[masked]"}
    assert scrubbed["extra"] == {"dsn": "[masked]"}


def test_sentry_is_initialised_from_the_environment_without_pii():
    from posproject.tests.test_settings import _settings_in_fresh_process

    result = _settings_in_fresh_process(
        {"DEBUG": "True", "SENTRY_DSN": "https://public@sentry.example.invalid/1", "APP_VERSION": "1.4.2"},
        "(lambda o: [__import__('sentry_sdk').get_client().should_send_default_pii(), o['environment'], o['release'], "
        "o['before_send'].__name__, "
        "sorted(i for i in __import__('sentry_sdk').get_client().integrations if i in ('django', 'celery'))])"
        "(__import__('sentry_sdk').get_client().options)",
    )
    assert result == [False, "development", "tillhouse@1.4.2", "scrub_event", ["celery", "django"]]
