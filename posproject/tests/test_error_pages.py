"""Our own 403, 404 and 500 pages in the product's look, the favicon, and the API documentation for people who are
not signed in."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import path

from posproject import views
from posproject.urls import urlpatterns as project_urlpatterns
from staff.api_clients import create_api_client


def refuses(request):
    raise PermissionDenied


def fails(request):
    raise RuntimeError("the database went away")


urlpatterns = [*project_urlpatterns, path("refuses/", refuses), path("fails/", fails)]


@pytest.mark.django_db
def test_an_unknown_address_shows_our_404_page_with_a_way_back(client, cashier):
    client.force_login(cashier)

    response = client.get("/pos/no-such-screen/")

    assert response.status_code == 404
    page = response.content.decode()
    assert 'data-error="404"' in page and "There is no page at this address" in page
    assert "css/tillhouse.css" in page and 'href="/"' in page and 'href="/pos/"' in page


@pytest.mark.django_db
def test_an_unknown_api_address_still_answers_json(client):
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_refused_page_shows_our_403_page(client, cashier):
    client.force_login(cashier)

    response = client.get("/refuses/")

    assert response.status_code == 403
    page = response.content.decode()
    assert 'data-error="403"' in page and "Your role may not open this page" in page and "css/tillhouse.css" in page


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_crash_shows_our_500_page(cashier):
    client = Client(raise_request_exception=False)
    client.force_login(cashier)

    response = client.get("/fails/")

    assert response.status_code == 500
    page = response.content.decode()
    assert 'data-error="500"' in page and "Something went wrong on our side" in page and "css/tillhouse.css" in page


def test_the_500_page_renders_without_a_database_or_request_context():
    # No django_db mark: any query would fail the test.
    response = views.server_error(RequestFactory().get("/pos/"))

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_a_crash_under_the_api_answers_json():
    response = views.server_error(RequestFactory().get("/api/v1/products/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_the_favicon_is_served_at_the_address_browsers_ask_for(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


@pytest.mark.django_db
def test_every_page_links_the_favicon(client):
    page = client.get("/accounts/login/").content.decode()

    assert 'rel="icon"' in page and "img/favicon" in page


@pytest.mark.django_db
def test_the_api_docs_send_a_signed_out_person_to_the_sign_in_page(client):
    response = client.get("/api/docs/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/api/docs/"


@pytest.mark.django_db
def test_the_api_docs_refuse_a_bad_token_with_401(client):
    response = client.get("/api/docs/", HTTP_AUTHORIZATION="Bearer not-a-real-token")

    assert response.status_code == 401


@pytest.mark.django_db
def test_the_api_docs_open_for_a_token(client, location):
    _, token = create_api_client(name="reader", scope="read", locations=[location])

    response = client.get("/api/docs/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200


@pytest.mark.django_db
def test_the_schema_keeps_its_401_for_api_clients(client):
    assert client.get("/api/schema/").status_code == 401
