"""The cashier's day in a real browser, in a German store (EUR) and an Indonesian one (IDR, no decimals): sign in,
open the till, a sale paid in cash with change, the receipt, a refund, the end of shift with its Z report. Every
screen is photographed at 1280, 768 and 390 px and none shows an English word of the product's screens."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import Printer, Refund, ZReport
from billing.tests.factories import RegisterFactory
from inventory.models import Product
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.tests.pos_helpers import PINS, give_pin

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = ((1280, 800), (768, 1024), (390, 844))

# Words of the product's screens that must not show once a store speaks another language (as whole words; a word
# the language writes the same way is left out per language below).
ENGLISH_UI_WORDS = [
    "Sign in",
    "Sign out",
    "Username",
    "Password",
    "Floor",
    "Shift",
    "Refund",
    "Refunds",
    "Gift cards",
    "Kitchen",
    "Switch user",
    "Lock",
    "Quick sale",
    "Takeaway",
    "Subtotal",
    "Total",
    "Tax",
    "Pay",
    "Hold",
    "Send",
    "Discount",
    "Split",
    "Void",
    "Take payment",
    "Tip",
    "No tip",
    "Balance",
    "Change",
    "Tendered",
    "Receipt",
    "New sale",
    "Reprint",
    "Reason",
    "Back to stock",
    "Waste",
    "Open the till",
    "Start of shift",
    "End of shift",
    "Close the till",
    "Net sales",
    "Cash expected",
    "Cash counted",
    "Grand total",
    "Start a new shift",
    "Manager approval",
    "Amount",
    "Note",
    "Cash",
    "Card",
    "Voucher",
    "Other",
    "Retry",
    "Dismiss",
    "Customer",
    "Products",
    "Categories",
    "guests",
    "Sold",
    "Added",
    "Recorded",
    "Open a cash session",
]
SAME_IN = {"id": {"Subtotal", "Total", "Shift", "Tip", "Voucher"}, "de": set()}

STORES = {
    "de": {
        "currency": ("EUR", 2),
        "denominations": ["100", "50", "20", "10", "5", "2", "1", "0.50", "0.20", "0.10", "0.05", "0.02", "0.01"],
        "items": [("Käsekuchen", "3.80"), ("Weißbier", "4.20")],
        "float": "100",
        "tendered": "20",
        "change": "12,00 €",
        "pay_button": "8,00 bezahlen",
        "count": {"100": 1, "2": 1, "1": 1, "0.50": 1, "0.20": 1, "0.10": 1},  # 100 + 8.00 - 4.20 = 103.80
        "over_short": "0,00",
        "text": {
            "sign_in": "Anmelden",
            "shift": "Schicht",
            "open_till": "Kasse öffnen",
            "quick_sale": "Schnellverkauf",
            "take_payment": "Zahlung annehmen",
            "receipt_title": "Beleg",
            "refund_link": "Erstatten…",
            "refund_button": "Erstattung",
            "refund_title": "Erstattung Nr.",
            "end_of_shift": "Schichtende",
            "close": "Kasse schließen",
            "z_title": "Z-Bericht Nr. 1",
        },
    },
    "id": {
        "currency": ("IDR", 0),
        "denominations": ["100000", "50000", "20000", "10000", "5000", "2000", "1000", "500"],
        "items": [("Nasi goreng", "35000"), ("Es teh manis", "8000")],
        "float": "500000",
        "tendered": "50000",
        "change": "Rp 7.000",
        "pay_button": "Bayar 43.000",
        "count": {"100000": 5, "20000": 1, "10000": 1, "5000": 1},  # 500,000 + 43,000 - 8,000 = 535,000
        "over_short": "0",
        "text": {
            "sign_in": "Masuk",
            "shift": "Shift",
            "open_till": "Buka kasir",
            "quick_sale": "Penjualan cepat",
            "take_payment": "Terima pembayaran",
            "receipt_title": "Struk",
            "refund_link": "Kembalikan dana…",
            "refund_button": "Pengembalian dana",
            "refund_title": "Pengembalian dana No.",
            "end_of_shift": "Akhir shift",
            "close": "Tutup kasir",
            "z_title": "Laporan Z No. 1",
        },
    },
}


def english_words_on(page, language: str) -> list[str]:
    text = page.inner_text("body")
    return [
        word
        for word in ENGLISH_UI_WORDS
        if word not in SAME_IN[language] and re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)
    ]


def photographed(page, language: str, name: str, *, check: bool = True) -> None:
    """Screenshots at a desktop, a tablet and a phone width; no English word of the product on the screen."""
    from orders.tests.e2e.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if check:
        assert english_words_on(page, language) == [], f"{language} {name}"
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"lang-{language}-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.parametrize("language", ["de", "id"])
def test_the_cashiers_day_in_the_stores_language(page, location, cashier, manager, settings, tmp_path, language):
    store = STORES[language]
    code, places = store["currency"]
    settings.POS_CURRENCY, settings.POS_CURRENCY_DECIMALS = code, places
    settings.CASH_DENOMINATIONS = store["denominations"]
    location.language = language
    location.max_change = Decimal("1000000")
    location.save()
    tax = TaxRateFactory()
    category = CategoryFactory(name="Menu", location=location)
    for name, price in store["items"]:
        ProductFactory(
            name=name, price=Decimal(price), category=category, tax_rate=tax, stock_policy=Product.StockPolicy.ALLOW
        )
    printer = Printer.objects.create(name="Bon", connection="file", device_path=str(tmp_path / "printer.bin"))
    RegisterFactory(location=location, name="Kasse 1", printer=printer)
    give_pin(manager)
    words = store["text"]

    # Sign in: the paired till's sign-in page speaks its store's language.
    page.goto("/accounts/login/?next=/pos/")
    expect(page.locator("h1")).to_have_text(words["sign_in"])
    expect(page.locator("html")).to_have_attribute("lang", language)
    photographed(page, language, "01-sign-in")
    page.fill("#id_username", cashier.username)
    page.fill("#id_password", "secret-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/pos/$"))

    # Open the till with a float.
    page.click(f"nav >> text={words['shift']}")
    photographed(page, language, "02-shift-start")
    page.fill("#opening_float", store["float"])
    page.click(f"text={words['open_till']}")
    expect(page).to_have_url(re.compile(r"/pos/$"))
    photographed(page, language, "03-floor")

    # A sale of both items, paid in cash with change.
    page.click(f"text={words['quick_sale']}")
    for count, (name, _) in enumerate(store["items"], start=1):
        page.click(f"[data-product] >> text={name}")
        expect(page.locator("#ticket [data-line]")).to_have_count(count)
    photographed(page, language, "04-order")
    page.click(f"a.pay:has-text('{store['pay_button']}')")
    photographed(page, language, "05-pay")
    page.fill("#amount_0", store["tendered"])
    # The change the pay screen works out as the amount is typed is written by static/js/pos.js, in the page's
    # language (orders/js_strings.py)
    expect(page.locator("[data-change-for]")).not_to_be_empty()
    photographed(page, language, "05-pay-amount")
    page.click(f"button:has-text('{words['take_payment']}')")
    expect(page.locator("[data-receipt-number]")).to_have_text("1")
    expect(page.locator("[data-change]")).to_contain_text(store["change"])
    expect(page.locator("h1")).to_contain_text(words["receipt_title"])
    photographed(page, language, "06-receipt")

    # A refund of the second item, approved by the manager's PIN.
    page.click(f"text={words['refund_link']}")
    second = store["items"][1][0]
    page.locator(f"tr:has-text('{second}') input[name^=qty_]").fill("1")
    page.fill("#refund-reason", "—")
    page.select_option("select[name=approver]", str(manager.pk))
    page.fill("input[name=approver_pin]", PINS["manager"])
    photographed(page, language, "07-refund")
    page.click(f"button:has-text('{words['refund_button']}')")
    expect(page.locator("h1")).to_contain_text(words["refund_title"])
    photographed(page, language, "08-refund-receipt")
    assert Refund.objects.get().amount == Decimal(store["items"][1][1])

    # End of shift: the blind count, then the Z report.
    page.click(f"nav >> text={words['shift']}")
    page.click(f"text={words['end_of_shift']}")
    for value, count in store["count"].items():
        page.fill(f'[name="d_{value}"]', str(count))
    photographed(page, language, "09-count")
    page.click(f"button:has-text('{words['close']}')")
    expect(page.locator("h1")).to_contain_text(words["z_title"])
    expect(page.locator('[data-z="over_short"]')).to_have_text(store["over_short"])
    photographed(page, language, "10-z-report")
    assert ZReport.objects.get().net_sales == Decimal(store["items"][0][1])
