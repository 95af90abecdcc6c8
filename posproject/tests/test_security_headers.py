"""Security headers and cookies, and pages that keep working under the Content-Security-Policy."""

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parents[2]


class _Assets(HTMLParser):
    """Collects what a CSP of script-src 'self' + nonce would refuse to run."""

    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self.inline_handlers: list[str] = []
        self.urls: list[str] = []
        self.loaded: list[str] = []  # fetched or run by the browser, not merely linked

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.inline_handlers.append(f"<{tag} {name}>")
            if name in {"src", "href", "action"} and value:
                self.urls.append(value)
                if tag != "a" or value.startswith("javascript:"):
                    self.loaded.append(value)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_works_under_csp(response):
    assert response.status_code == 200
    policy = _policy(response)
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    nonces = [source for source in policy["script-src"] if source.startswith("'nonce-")]
    page = _Assets()
    page.feed(response.content.decode())
    for script in page.scripts:
        if script.get("type") == "application/json":
            continue  # data, never executed
        if "src" in script:
            assert script["src"].startswith("/"), f"script from another origin: {script['src']}"
        else:
            assert f"'nonce-{script.get('nonce')}'" in nonces, f"inline script without the page's nonce: {script}"
    assert page.inline_handlers == []
    assert not [url for url in page.loaded if url.startswith(("http://", "https://", "//", "javascript:"))]
    return page


def test_every_page_says_nosniff_same_origin_referrer_deny_framing_and_carries_a_csp(client):
    response = client.get("/accounts/login/")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    policy = _policy(response)
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]


@pytest.mark.django_db
def test_the_login_page_and_the_pos_home_work_under_the_csp(client, cashier):
    assert_works_under_csp(client.get("/accounts/login/"))
    client.force_login(cashier)
    assert_works_under_csp(client.get("/"))


@pytest.mark.django_db
def test_the_admin_works_under_the_csp(client, manager):
    assert_works_under_csp(client.get("/admin/login/"))
    client.force_login(manager)
    page = assert_works_under_csp(client.get("/admin/"))
    changelists = [url for url in page.urls if url.startswith("/admin/") and url.count("/") == 4]
    assert changelists, "the admin index lists no models"
    for url in changelists[:3]:
        assert_works_under_csp(client.get(url))
        add_form = client.get(url + "add/")
        if add_form.status_code == 200:
            assert_works_under_csp(add_form)


@pytest.mark.django_db
def test_the_swagger_ui_loads_its_code_from_the_same_origin_under_the_csp(client, manager):
    client.force_login(manager)
    page = assert_works_under_csp(client.get("/api/docs/"))

    own_script = [s["src"] for s in page.scripts if "script=" in s.get("src", "")]
    assert len(own_script) == 1
    script = client.get(own_script[0])
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def _api_list_urls(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_list_urls(pattern, route)
        elif (
            isinstance(pattern, URLPattern) and route.startswith("api/v1/") and "<" not in route and "(?P" not in route
        ):
            yield "/" + route.lstrip("^").rstrip("$")


@pytest.mark.django_db
def test_the_browsable_api_works_under_the_csp(client, manager):
    client.force_login(manager)
    pages = [client.get(url, HTTP_ACCEPT="text/html") for url in _api_list_urls()]
    browsable = [page for page in pages if page.status_code == 200 and page["Content-Type"].startswith("text/html")]
    assert browsable, "no API endpoint answered with the browsable API"
    for page in browsable[:3]:
        assert_works_under_csp(page)


@pytest.mark.django_db
@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True, SECURE_HSTS_SECONDS=31536000)
def test_over_https_in_production_the_session_and_csrf_cookies_are_secure_httponly_samesite_and_hsts_is_sent(
    client, cashier
):
    login_page = client.get("/accounts/login/", secure=True)
    assert login_page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    csrf = login_page.cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"

    response = client.post("/accounts/login/", {"username": "cashier", "password": "secret-pass-123"}, secure=True)
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_production_defaults_turn_on_hsts_secure_cookies_and_https_redirects():
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DATABASE_URL", "REDIS_URL"}}
    env.update({"DEBUG": "False", "SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": "pos.example.com"})
    names = [
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SECURE",
        "X_FRAME_OPTIONS",
    ]
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    values = json.loads(out.stdout.strip().splitlines()[-1])
    assert values == {
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "X_FRAME_OPTIONS": "DENY",
    }
