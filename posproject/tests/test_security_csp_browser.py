"""The Content-Security-Policy in a real browser (headless Debian chromium): the admin, the Swagger UI, the browsable
API and the POS home load and run their scripts with no CSP violation."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from pytest_django import live_server_helper

from posproject.tests.test_deploy_gunicorn import _free_port
from posproject.tests.test_security_headers import _api_list_urls

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("POS_E2E_CHROMIUM", "/usr/bin/chromium")
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server():
    server = live_server_helper.LiveServer(os.environ.get("SECURITY_E2E_ADDRESS") or f"127.0.0.1:{_free_port()}")
    yield server
    server.stop()


@pytest.fixture
def browse(server, manager):
    """Open pages as the manager in chromium (a separate process: see csp_probe) and return what each did."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make test installs the Debian chromium package)")
    client = Client()
    client.force_login(manager)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    def run(pages: list[dict]) -> dict[str, dict]:
        out = subprocess.run(
            [sys.executable, "-m", "posproject.tests.csp_probe", CHROMIUM, server.url, settings.SESSION_COOKIE_NAME,
             session],
            input=json.dumps(pages),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        return {result["path"]: result for result in json.loads(out.stdout.strip().splitlines()[-1])}

    return run


def assert_ran_under_the_csp(result):
    assert result["status"] == 200, result
    assert "script-src" in result["csp"], result
    assert result["ready"], result
    assert result["violations"] == [], result
    assert result["errors"] == [], result


def test_the_swagger_ui_renders_the_api_under_the_csp(browse):
    results = browse([{"path": "/api/docs/", "wait_for": ".swagger-ui .opblock"}])

    assert_ran_under_the_csp(results["/api/docs/"])


def test_the_admin_runs_its_scripts_under_the_csp(browse):
    results = browse(
        [
            {"path": "/admin/", "wait_for": "#content-main"},
            {"path": "/admin/auth/user/", "wait_for": "#changelist-form", "toggle": "#toggle-nav-sidebar",
             "watch": "#main"},
            {"path": "/admin/auth/user/add/", "wait_for": "form#user_form"},
        ]
    )  # fmt: skip

    for result in results.values():
        assert_ran_under_the_csp(result)
    changelist = results["/admin/auth/user/"]
    assert changelist["before"] != changelist["after"], "the admin's nav_sidebar.js did not run"


def test_the_browsable_api_and_the_pos_home_work_under_the_csp(browse, manager):
    client = Client()
    client.force_login(manager)
    api = next(url for url in _api_list_urls() if _is_browsable(client.get(url, HTTP_ACCEPT="text/html")))

    results = browse(
        [
            {"path": api, "wait_for": "pre.prettyprint span.pln"},  # DRF's default.js ran prettyPrint()
            {"path": "/", "wait_for": "main"},
        ]
    )

    assert_ran_under_the_csp(results[api])
    assert_ran_under_the_csp(results["/"])


def _is_browsable(response) -> bool:
    return response.status_code == 200 and response["Content-Type"].startswith("text/html")
