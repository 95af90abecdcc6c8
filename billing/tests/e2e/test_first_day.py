"""A new shop from nothing in a real browser: the owner fills in the setup page, prints a test page, loads the
catalogue from a CSV file, and a cashier sells one item on it."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing import printing
from billing.models import CashSession, Payment, PrintJob, Receipt
from inventory.models import CatalogueImport, Location, Product, StockLevel
from inventory.tasks import run_catalogue_import
from staff.tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = ((1280, 800), (768, 1024), (390, 844))
CATALOGUE = (
    "SKU,Barcode,Name,Category,Price,Cost,Tax rate,Kind,Stock policy,stock:corner\n"
    "ESP-1,4000000000017,Espresso,Coffee,2.40,0.40,Standard,goods,allow,\n"
    "CRO-1,4000000000024,Butter croissant,Bakery,3.10,0.90,Reduced,goods,block,24\n"
)


def sign_in(page, username: str, next_path: str) -> None:
    page.goto(f"/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


def sign_out(page) -> None:
    page.click("button:has-text('Sign out')")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def at_every_width(page, name: str) -> None:
    """Screenshots of the whole page at a desktop, a tablet and a phone width, none scrolling sideways."""
    from orders.tests.e2e.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}"
    page.set_viewport_size({"width": 1280, "height": 800})


def sell_one_item(page, *, username: str, product: str, price: str) -> None:
    """A cashier signs in at the till this browser is paired to, opens it with a float, sells one `product` for cash
    and gets receipt 1."""
    sign_in(page, username, "/pos/")
    page.click("nav >> text=Shift")
    page.fill("#opening_float", "50")
    page.click("text=Open the till")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    page.click("text=Quick sale")
    page.click(f"[data-product] >> text={product}")
    expect(page.locator("#ticket [data-line]")).to_have_count(1)
    expect(page.locator('[data-total="total"]')).to_have_text(price)
    page.click(f"text=Pay {price}")
    page.click("button:has-text('Take payment')")
    expect(page.locator("[data-receipt-number]")).to_have_text("1")


def test_a_new_shop_is_set_up_from_nothing_and_sells_an_item(page, tmp_path):
    UserFactory(username="owner", role="Manager", is_staff=True)
    assert not Location.objects.exists()
    printer_file = tmp_path / "receipts.bin"

    # The owner opens the setup page from the start page.
    sign_in(page, "owner", "/")
    page.click("a.tile:has-text('Set up a store')")
    expect(page.locator("h1")).to_have_text("Set up a store")
    at_every_width(page, "setup-page")

    # A first try with a PIN too easy to guess: refused beside the field, nothing created.
    page.fill("#id_store-name", "Corner Café")
    page.fill("#id_store-code", "corner")
    page.fill("#id_store-legal_name", "Corner Café Ltd")
    page.fill("#id_store-address", "2 Market Square\nLeeds")
    page.fill("#id_store-tax_id", "GB987654321")
    page.fill("#id_store-cash_rounding", "0.05")
    page.fill("#id_tax-0-name", "Standard")
    page.fill("#id_tax-0-percent", "20")
    page.fill("#id_tax-1-name", "Reduced")
    page.fill("#id_tax-1-percent", "5")
    page.fill("#id_register-0-name", "Till 1")
    page.select_option("#id_register-0-connection", "file")
    page.fill("#id_register-0-device_path", str(printer_file))
    page.fill("#id_tables-tables", "Window: 1-4")
    page.fill("#id_staff-0-username", "carla")
    page.fill("#id_staff-0-first_name", "Carla")
    page.select_option("#id_staff-0-role", "Cashier")
    page.fill("#id_staff-0-pin", "111111")
    page.fill("#id_staff-0-password", "secret-pass-123")
    page.click("button:has-text('Set up the store')")
    expect(page.locator('[data-field-error="staff-0-pin"]')).to_contain_text("Too easy to guess")
    expect(page.locator("[data-problems]")).to_contain_text("Nothing was created")
    at_every_width(page, "setup-page-problems")
    assert not Location.objects.exists()

    # Corrected: the store and all it needs are made, and its checklist opens.
    page.fill("#id_staff-0-pin", "402718")
    page.fill("#id_staff-0-password", "secret-pass-123")
    page.click("button:has-text('Set up the store')")
    expect(page.locator("h1")).to_have_text("Corner Café")
    expect(page.locator('[data-check="product"]')).to_have_attribute("data-ok", "no")
    expect(page.locator('[data-check="test_print"]')).to_have_attribute("data-ok", "no")

    # The test page goes through the print outbox; the page follows it until it is printed.
    page.click("button:has-text('Print a test page')")
    expect(page.locator("[data-test-status]")).to_have_text("queued")
    printing.deliver_print_job(PrintJob.objects.get().pk)  # what the worker does
    expect(page.locator('[data-check="test_print"]')).to_have_attribute("data-ok", "yes", timeout=10_000)
    assert b"Test page" in printer_file.read_bytes()

    # The catalogue comes from a spreadsheet: checked, then imported.
    page.click("a:has-text('Import a catalogue file')")
    at_every_width(page, "catalogue-page")
    catalogue_file = tmp_path / "catalogue.csv"
    catalogue_file.write_text(CATALOGUE + "TEA-1,,Green tea,Drinks,two,0.50,Luxury,goods,block,-1\n", encoding="utf-8")
    page.set_input_files("#id_file", str(catalogue_file))
    page.click("button:has-text('Check the file')")
    expect(page.locator("#catalogue-run")).to_have_attribute("data-status", "checking")
    run_catalogue_import(CatalogueImport.objects.get().pk)  # what the worker does
    expect(page.locator("table.errors tbody tr")).to_have_count(3, timeout=10_000)
    expect(page.locator('tr[data-line="4"]').first).to_contain_text("price")
    at_every_width(page, "catalogue-errors")
    assert not Product.objects.exists()

    page.click("a:has-text('← Catalogue file')")
    catalogue_file.write_text(CATALOGUE, encoding="utf-8")
    page.set_input_files("#id_file", str(catalogue_file))
    page.click("button:has-text('Check the file')")
    expect(page.locator("#catalogue-run")).to_have_attribute("data-status", "checking")
    run_catalogue_import(CatalogueImport.objects.latest("pk").pk)
    expect(page.locator('[data-figure="created"]')).to_have_text("2", timeout=10_000)
    at_every_width(page, "catalogue-checked")
    page.click("button:has-text('Import 2 rows')")
    run_catalogue_import(CatalogueImport.objects.latest("pk").pk)
    expect(page.locator("#catalogue-run")).to_have_attribute("data-status", "imported", timeout=10_000)
    store = Location.objects.get(code="corner")
    assert StockLevel.objects.get(product__sku="CRO-1", location=store).on_hand == 24

    # The checklist waits for the till's device: the owner pairs this browser as "Till 1" from the pairing screen.
    page.goto(f"/setup/stores/{store.pk}/")
    expect(page.locator("[data-ready]")).to_have_count(0)
    expect(page.locator("body")).to_contain_text("Not paired yet: Till 1")
    page.goto("/pos/")
    expect(page.locator("h1")).to_have_text("Pair this device")
    page.click('[data-terminal="Till 1"]')
    expect(page).to_have_url(re.compile(r"/pos/"))

    # Everything a first sale needs is there.
    page.goto(f"/setup/stores/{store.pk}/")
    expect(page.locator("[data-ready]")).to_be_visible()
    at_every_width(page, "setup-store-ready")
    sign_out(page)

    sell_one_item(page, username="carla", product="Butter croissant", price="3.10")

    payment = Payment.objects.get()
    assert payment.amount == Decimal("3.10") and payment.order.location == store
    assert Receipt.objects.get().register.name == "Till 1"
    assert CashSession.objects.get().opened_by.username == "carla"
    assert StockLevel.objects.get(product=Product.objects.get(sku="CRO-1"), location=store).on_hand == 23
