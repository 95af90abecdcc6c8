import io
import json
import logging

import pytest

from ops import health
from ops.logging import JsonFormatter, RequestContextFilter


@pytest.fixture(autouse=True)
def fresh_health(settings):
    """Every test computes its own full report (tests of the stored report set HEALTH_CACHE_SECONDS)."""
    settings.HEALTH_CACHE_SECONDS = 0
    health.reset()
    yield
    health.reset()


@pytest.fixture
def json_log():
    """What the console handler would print, as parsed JSON lines (root logger, INFO and up)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines():
        handler.flush()
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    lines.raw = stream.getvalue
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


MONITOR_TOKEN = "monitor-token-for-the-ops-tests-0123456789"


@pytest.fixture
def monitor(settings, client):
    """A client sending the metrics bearer token, as Prometheus, Uptime Kuma or an on-call script would: it gets the
    full health report."""
    settings.METRICS_BEARER_TOKEN = MONITOR_TOKEN
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {MONITOR_TOKEN}"
    return client
