"""Builders for the POS screen tests: a terminal's client with a PIN'd member of staff, a register with an open
cash session attached to the terminal, and products in a category sent to a kitchen station."""

from decimal import Decimal

from django.test import Client

from billing import sessions
from billing.tests.factories import RegisterFactory
from inventory.models import Product, StockMove
from inventory.services import StockChange, apply_stock_changes
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.terminal import SESSION_REGISTER, SESSION_REGISTER_NAME
from staff import pins

PINS = {"manager": "918273", "cashier": "402718", "waiter": "530691", "kitchen": "648205"}


def give_pin(user, pin: str | None = None) -> str:
    pin = pin or PINS.get(user.username, "750394")
    pins.set_pin(user=user, pin=pin)
    return pin


def terminal(user) -> Client:
    """A browser signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def attach_register(client: Client, register) -> None:
    session = client.session
    session[SESSION_REGISTER] = register.pk
    session[SESSION_REGISTER_NAME] = register.name
    session.save()


def open_till(client: Client, location, user, *, opening_float="100.00"):
    """A register at `location` with a cash session opened by `user`, attached to this terminal."""
    register = RegisterFactory(location=location)
    sessions.open_session(register_id=register.pk, user=user, opening_float=Decimal(opening_float))
    attach_register(client, register)
    return register


def product(location=None, *, name="Cola", price="3.50", station="", barcode=None, on_hand="50", **extra) -> Product:
    category = CategoryFactory(name=f"{name} things", station=station, location=location)
    fields = {"barcode": barcode} if barcode else {}
    item = ProductFactory(
        name=name,
        price=Decimal(price),
        category=category,
        tax_rate=TaxRateFactory(),
        stock_policy=Product.StockPolicy.ALLOW,
        **fields,
        **extra,
    )
    if location is not None and Decimal(on_hand):
        apply_stock_changes(
            [StockChange(item.pk, location.pk, Decimal(on_hand))], reason=StockMove.Reason.PURCHASE, reference="setup"
        )
    return item
