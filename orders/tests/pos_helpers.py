"""Builders for the POS screen tests: a paired terminal's client with a PIN'd member of staff, a register with an
open cash session that is the terminal's till, and products in a category sent to a kitchen station.

`pair_client` is the one place the POS tests get a paired device: it makes a staff.Terminal and gives the Django test
client its device cookie, as pairing does for a browser."""

from decimal import Decimal

from django.test import Client

from billing import sessions
from billing.tests.factories import RegisterFactory
from inventory.models import Product, StockMove
from inventory.services import StockChange, apply_stock_changes
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from staff import pins
from staff.models import Terminal
from staff.selectors import locations_for
from staff.terminals import DEVICE_COOKIE, device_cookie_value

PINS = {"manager": "918273", "cashier": "402718", "waiter": "530691", "kitchen": "648205"}


def give_pin(user, pin: str | None = None) -> str:
    pin = pin or PINS.get(user.username, "750394")
    pins.set_pin(user=user, pin=pin)
    return pin


def paired_terminal(location, *, name: str = "", **fields) -> Terminal:
    """A terminal at `location`, paired (as by a manager) to a device."""
    from django.utils import timezone

    name = name or f"Till {Terminal.objects.filter(location=location).count() + 1}"
    return Terminal.objects.create(name=name, location=location, paired_at=timezone.now(), generation=1, **fields)


def pair_client(client: Client, location=None, *, user=None, **fields) -> Terminal:
    """Pair `client` as a new terminal at `location` (by default `user`'s first store by name, as a till would be
    set up for them): the device cookie that pairing gives a browser."""
    if location is None:
        from inventory.models import Location

        stores = locations_for(user).filter(kind=Location.Kind.STORE, active=True).order_by("name")
        location = stores.first() or Location.objects.order_by("pk").first()
    device = paired_terminal(location, **fields)
    client.cookies[DEVICE_COOKIE] = device_cookie_value(device)
    client.pos_terminal = device
    return device


def terminal(user, *, location=None) -> Client:
    """A paired device's browser signed in as `user`."""
    client = Client()
    client.force_login(user)
    pair_client(client, location, user=user)
    return client


def attach_register(client: Client, register) -> None:
    """Make `register` the till of `client`'s terminal (which moves to the register's store)."""
    Terminal.objects.filter(pk=client.pos_terminal.pk).update(register=register, location=register.location)


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
