"""Hostile input: every API operation fuzzed by schemathesis against the project's own OpenAPI schema, once as a
manage token and once as a cashier's browser session (session cookie and CSRF token), each with a bounded number of
examples and every response check schemathesis has: no 5xx, only documented status codes, content types and
headers, and bodies that match the schema. And request bodies over the size limit are refused with a 4xx."""

import json
import os
from decimal import Decimal

import pytest
import schemathesis
from django.conf import settings
from django.contrib.auth import login
from django.contrib.sessions.backends.db import SessionStore
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import close_old_connections
from django.middleware.csrf import CSRF_SECRET_LENGTH
from django.test import RequestFactory
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from schemathesis.config import SchemathesisConfig

from billing import sessions
from billing.services import RefundItem, refund, sell
from billing.tests.factories import RegisterFactory
from inventory import services as inventory_services
from inventory.models import Supplier
from inventory.services import PurchaseLineInput
from orders.pricing import TenderInput
from orders.services import NewLine
from orders.tests.helpers import open_register, stocked_product
from staff.api_clients import create_api_client, hash_token
from staff.models import ApiClient

# Per operation and identity (about 75 operations × 2 identities): the two runs together take about two minutes on
# two shared cores. FUZZ_EXAMPLES=50 for a longer hunt.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))


@pytest.fixture
def shop(location, manager):
    """A store with some history, so that responses carry real rows (paid, refunded, counted, closed, ordered) for
    the schema check: an open till, a paid sale and its refund, a closed till with its Z report, a stock count with a
    line not yet counted, a purchase order."""
    # As Django's test client does: a request must not close the test's connection (and its transaction).
    request_started.disconnect(close_old_connections)
    register = open_register(location)
    item = stocked_product(location, on_hand="50")
    sale = sell(
        register_id=register.pk,
        user=manager,
        lines=[NewLine(product_id=item.pk, quantity=Decimal(2))],
        tenders=[TenderInput(tender="cash", tendered=Decimal("50.00"))],
    )
    line = sale.order.lines.first()
    refund(
        order_id=sale.order.pk,
        register_id=register.pk,
        items=[RefundItem(line_id=line.pk, quantity=Decimal(1))],
        reason="Spilt",
        user=manager,
    )
    closed = RegisterFactory(location=location)
    session = sessions.open_session(register_id=closed.pk, user=manager, opening_float=Decimal("0"))
    sessions.close_session(session_id=session.pk, user=manager, denominations={"1": 0})
    inventory_services.start_stock_count(location=location, user=manager, product_ids=[item.pk])
    supplier = Supplier.objects.create(name="Dairy")
    inventory_services.create_purchase_order(
        supplier=supplier, location=location, lines=[PurchaseLineInput(item.pk, Decimal(5), Decimal("1.00"))]
    )
    yield location
    request_started.connect(close_old_connections)


# The credentials each test signs in with. Fixed values (schemathesis builds some cases before a test's fixtures
# run), given to schemathesis as the API's auth so that it also checks the same request without them is refused.
TOKEN_PREFIX = "f022f022f022"
TOKEN = f"thk_{TOKEN_PREFIX}_{'k' * 43}"
SESSION_KEY = "fuzz" + "s" * 28
CSRF = "c" * CSRF_SECRET_LENGTH


@pytest.fixture
def manage_token(shop):
    client, _ = create_api_client(name="fuzzer", scope="manage", locations=[shop])
    ApiClient.objects.filter(pk=client.pk).update(prefix=TOKEN_PREFIX, token_hash=hash_token(TOKEN))


@pytest.fixture
def cashier_session(shop, cashier):
    """A cashier's browser: a signed-in session (its cookie), and the CSRF cookie echoed in the header."""
    request = RequestFactory().get("/")
    request.session = SessionStore()
    login(request, cashier, backend="django.contrib.auth.backends.ModelBackend")
    request.session._session_key = SESSION_KEY
    request.session.save(must_create=True)


class TokenAuth:
    def get(self, case, context):
        return TOKEN

    def set(self, case, token, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


class SessionAuth:
    def get(self, case, context):
        return SESSION_KEY

    def set(self, case, session_key, context):
        cookies = {settings.SESSION_COOKIE_NAME: session_key, settings.CSRF_COOKIE_NAME: CSRF}
        case.cookies = {**(case.cookies or {}), **cookies}
        case.headers = {**(case.headers or {}), "X-CSRFToken": CSRF}


def _own_schema() -> dict:
    """The OpenAPI document /api/schema/ serves (generated in process: the fuzzer is not a signed-in user)."""
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


# Every check schemathesis has, with three allowances: a well-formed request may still be refused with a 400 when
# it names an id that does not exist or breaks a business rule (out of stock, a duplicate name), which a schema
# cannot express; query parameters the schema does not name are ignored, as HTTP APIs do; and a JSON scalar of
# another type that DRF reads unambiguously (5 for "5", 1 for true) is accepted, not refused. Malformed requests are
# still sent (negative cases): they must never get a 5xx or an answer off the schema.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422"]},
            "negative_data_rejection": {"enabled": False},
        },
        # The credentials are the test's (a real token, a real session), never made up by the generator.
        "generation": {"allow-extra-parameters": False, "with-security-parameters": False},
    }
)
schema = schemathesis.openapi.from_dict(_own_schema(), config=CONFIG)
schema.app = app = WSGIHandler()  # every request, the checks' second ones too, goes to this process's Django
fuzz = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.auth.apply(TokenAuth, refresh_interval=None)
@schema.parametrize()
@fuzz
@pytest.mark.django_db
def test_no_api_operation_answers_a_manage_token_with_a_server_error_or_off_its_schema(case, manage_token):
    case.call_and_validate()


@schema.auth.apply(SessionAuth, refresh_interval=None)
@schema.parametrize()
@fuzz
@pytest.mark.django_db
def test_no_api_operation_answers_a_cashier_session_with_a_server_error_or_off_its_schema(case, cashier_session):
    case.call_and_validate()


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
