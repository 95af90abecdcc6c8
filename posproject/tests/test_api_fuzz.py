"""Hostile input: every API operation fuzzed by schemathesis against the project's own OpenAPI schema, as a manage
token (so requests get past authentication), with a bounded number of examples; no 5xx and responses that match the
schema. And request bodies over the size limit are refused with a 4xx."""

import json

import pytest
import schemathesis
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from orders.tests.helpers import open_register, stocked_product
from staff.api_clients import create_api_client

EXAMPLES = 3  # per operation: about 70 operations; the whole run stays around two minutes on two shared cores


@pytest.fixture
def manage_token(location):
    # As Django's test client does: a request must not close the test's connection (and its transaction).
    request_started.disconnect(close_old_connections)
    open_register(location)
    stocked_product(location, on_hand="50")
    yield create_api_client(name="fuzzer", scope="manage", locations=[location])[1]
    request_started.connect(close_old_connections)


def _own_schema() -> dict:
    """The OpenAPI document /api/schema/ serves (generated in process: the fuzzer is not a signed-in user)."""
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


schema = schemathesis.openapi.from_dict(_own_schema())
app = WSGIHandler()


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_no_api_operation_answers_a_server_error_or_breaks_its_schema(case, manage_token):
    case.call_and_validate(
        app=app,
        headers={"Authorization": f"Bearer {manage_token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )


@pytest.mark.django_db
def test_a_ten_megabyte_json_body_is_refused_with_a_4xx(location, manager):
    client = APIClient()
    client.force_login(manager)
    body = json.dumps({"sku": "BIG", "name": "x" * (10 * 1024 * 1024)})

    response = client.post("/api/v1/products/", body, content_type="application/json")

    assert 400 <= response.status_code < 500
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE <= 1024 * 1024


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/purchase-orders/null,null/cancel/", "/api/v1/stock-counts/null,null/post/"])
def test_an_action_on_a_malformed_id_is_a_404_not_a_server_error(manager, path):
    client = APIClient()
    client.force_login(manager)

    assert client.post(path).status_code == 404


def test_the_schema_says_which_people_may_be_missing_from_a_record():
    components = _own_schema()["components"]["schemas"]

    assert components["StockMove"]["properties"]["user"]["nullable"] is True
    assert components["CashSession"]["properties"]["closed_by"]["nullable"] is True
    assert components["CashSession"]["properties"]["approved_by"]["nullable"] is True
