"""Test-only WSGI entry point for the gunicorn tests: the real application, except that a request carrying
`X-Test-Delay: <seconds>` first announces itself (touches TEST_INFLIGHT_MARKER) and waits, so a test can send
SIGTERM while that request is in flight. Never used outside posproject/tests."""

import os
import time
from pathlib import Path

from posproject.wsgi import application as django_application


def application(environ, start_response):
    delay = environ.get("HTTP_X_TEST_DELAY")
    if delay:
        Path(os.environ["TEST_INFLIGHT_MARKER"]).touch()
        time.sleep(float(delay))
    return django_application(environ, start_response)
