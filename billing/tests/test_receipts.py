import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from billing.models import Payment, PrintJob, Receipt
from billing.receipts import (
    DocLine,
    KitchenDoc,
    ReceiptDoc,
    TaxRow,
    TenderRow,
    kitchen_document,
    parse_receipt_code,
    receipt_document,
    render_job,
    render_kitchen_ticket,
    render_receipt,
)
from billing.tests.escpos_text import read
from billing.tests.factories import CashSessionFactory, PrinterFactory, RegisterFactory
from orders.models import KitchenTicket
from orders.tests.factories import OrderFactory, OrderLineFactory, TableFactory

GOLDEN = Path(__file__).parent / "golden"

FIXED_RECEIPT = ReceiptDoc(
    title="Receipt",
    store_name="Café Zoë",
    header=("Rue de la Paix 12, 75002 Paris", "VAT FR12345678901"),
    footer=("Merci ! ¡Gracias! Danke schön", "Returns within 30 days with this receipt"),
    number="000042",
    code="R3-42",
    register="Till 1",
    issued_at=datetime(2026, 1, 15, 13, 3, tzinfo=UTC),
    staff="Zoë",
    lines=(
        DocLine(
            "Crème brûlée with Tahitian vanilla and a very long name",
            Decimal("2"),
            Decimal("6.50"),
            Decimal("14.00"),
            ("extra caramel +0.50",),
            "no nuts — severe allergy, please tell the pastry chef",
        ),
        DocLine("Espresso", Decimal("1"), Decimal("2.40"), Decimal("2.40")),
        DocLine("Jamón ibérico 100 g", Decimal("0.250"), Decimal("48.00"), Decimal("12.00")),
    ),
    totals=(("Subtotal", Decimal("28.40")), ("Discount", Decimal("-1.00")), ("TOTAL", Decimal("27.40"))),
    taxes=(TaxRow("VAT", Decimal("20.000"), Decimal("2.73")), TaxRow("VAT", Decimal("5.500"), Decimal("0.62"))),
    tenders=(
        TenderRow("Card", Decimal("10.00"), Decimal("10.00"), reference="AUTH 123456"),
        TenderRow("Cash", Decimal("17.40"), Decimal("20.00"), Decimal("2.60")),
    ),
    currency="EUR",
    url="https://pos.example.com/receipts/42/4Jm0cIYbNw0YxZ4bW7Zq_A/",
    cash=True,
)


def _golden(name: str, data: bytes) -> bytes:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        path.with_suffix(".txt").write_text(read(data).text + "\n")
    return path.read_bytes()


@pytest.fixture(autouse=True)
def _fixed_locale():
    with override_settings(POS_CURRENCY_DECIMALS=2), timezone.override("UTC"):
        yield


@pytest.mark.parametrize(("name", "columns"), [("receipt_58mm.bin", 32), ("receipt_80mm.bin", 48)])
def test_receipt_bytes_equal_the_committed_golden_file(name, columns):
    data = render_receipt(FIXED_RECEIPT, columns=columns, open_drawer=True)
    assert data == _golden(name, data)


@pytest.mark.parametrize("columns", [32, 42, 48])
def test_no_printed_line_of_a_receipt_exceeds_the_printer_columns(columns):
    printout = read(render_receipt(FIXED_RECEIPT, columns=columns))
    too_wide = [(text, width) for text, width in printout.lines if width > columns]
    assert too_wide == []
    assert "severe allergy" in printout.text  # wrapped, not cut off


@pytest.mark.parametrize("columns", [32, 48])
def test_no_printed_line_of_a_kitchen_ticket_exceeds_the_printer_columns_in_large_type(columns):
    doc = KitchenDoc(
        station="grill",
        ticket="981",
        where="Table 12",
        course=2,
        waiter="Ana",
        sent_at=FIXED_RECEIPT.issued_at,
        lines=(
            DocLine(
                "Entrecôte with béarnaise and hand-cut fries",
                Decimal("2"),
                Decimal("0"),
                Decimal("0"),
                ("medium rare", "no salt"),
                "birthday: candle on the plate",
            ),
        ),
        order_note="Guest in a wheelchair, table by the door",
    )
    printout = read(render_kitchen_ticket(doc, columns=columns))
    assert [line for line in printout.lines if line[1] > columns] == []
    assert "GRILL" in printout.text and "Table 12" in printout.text and "Course 2" in printout.text
    assert "medium rare" in printout.text and "birthday: candle" in printout.text and "Ana" in printout.text
    assert any(width > len(text) for text, width in printout.lines if "Entrec" in text)  # large type


def test_accented_text_prints_in_the_code_page_and_the_rest_is_transliterated():
    doc = ReceiptDoc(
        **{**FIXED_RECEIPT.__dict__, "store_name": "Ñandú €uro ü 中餐 Łódź", "header": (), "footer": ()},
    )
    data = render_receipt(doc, columns=48)
    assert b"\x1bt\x13" in data  # ESC t 19: code page CP858, the one with €
    assert "Ñandú €uro ü".encode("cp858") in data
    printout = read(data)
    assert "Zhong Can" in printout.text and "Lódz" in printout.text
    assert "?" not in printout.text


def test_control_characters_in_a_note_cannot_reach_the_printer():
    line = DocLine("Tea", Decimal("1"), Decimal("2"), Decimal("2"), note="hot\x1bp\x00\x19\x19 please\x1dV\x00")
    data = render_receipt(ReceiptDoc(**{**FIXED_RECEIPT.__dict__, "lines": (line,), "cash": False}), columns=48)
    printout = read(data)
    assert printout.drawer_kicks == 0
    assert [c for c in printout.commands if c.startswith(b"\x1dV")] == [b"\x1dV\x00"]  # only the final cut
    assert "* hotp pleaseV" in printout.text


def test_a_cash_sale_kicks_the_drawer_and_a_reprint_says_copy_without_opening_it():
    original = read(render_receipt(FIXED_RECEIPT, columns=48, open_drawer=True))
    copy = read(render_receipt(FIXED_RECEIPT, columns=48, open_drawer=True, copy=True))
    assert original.drawer_kicks == 1 and "COPY" not in original.text
    assert copy.drawer_kicks == 0
    assert [text for text, _ in copy.lines if "COPY" in text] == ["COPY", "COPY"]  # top and bottom


def test_the_receipt_barcode_carries_a_code_the_refund_flow_can_read_back():
    printout = read(render_receipt(FIXED_RECEIPT, columns=32))
    assert printout.barcodes == [b"{BR3-42"]
    assert parse_receipt_code("R3-42") == (3, 42)
    assert parse_receipt_code("hello") is None
    assert printout.cut


@pytest.fixture
def paid_order(location, cashier):
    location.receipt_header = "Main Street 1"
    location.receipt_footer = "Thank you"
    location.save()
    printer = PrinterFactory(columns=32, paper_width_mm=58, has_cash_drawer=True)
    register = RegisterFactory(location=location, printer=printer, name="Front")
    session = CashSessionFactory(register=register, opened_by=cashier)
    order = OrderFactory(location=location, staff=cashier, status="paid")
    OrderLineFactory(
        order=order,
        name="Croissant",
        unit_price=Decimal("1.80"),
        quantity=Decimal("3"),
        line_total=Decimal("5.40"),
        tax_rate_name="Reduced",
        tax_rate_percent=Decimal("5.500"),
        tax_amount=Decimal("0.28"),
        modifiers=[{"name": "warmed", "price": "0"}],
        note="in a bag",
    )
    OrderLineFactory(
        order=order,
        name="Orange juice",
        unit_price=Decimal("3.60"),
        quantity=Decimal("1"),
        line_total=Decimal("3.60"),
        tax_rate_name="Standard",
        tax_rate_percent=Decimal("20.000"),
        tax_amount=Decimal("0.60"),
    )
    OrderLineFactory(order=order, name="Voided muffin", line_total=Decimal("2.00"), status="voided")
    order.subtotal = order.total = order.paid_total = Decimal("9.00")
    order.tax_total = Decimal("0.88")
    order.save()
    Payment.objects.create(
        order=order,
        session=session,
        tender="cash",
        amount=Decimal("9.00"),
        tendered=Decimal("10.00"),
        change=Decimal("1.00"),
        created_by=cashier,
    )
    return Receipt.objects.create(register=register, number=7, order=order, session=session)


def test_a_receipt_document_reads_what_was_stored_at_the_sale(paid_order):
    doc = receipt_document(paid_order)
    assert [(line.name, line.quantity, line.total) for line in doc.lines] == [
        ("Croissant", Decimal("3"), Decimal("5.40")),
        ("Orange juice", Decimal("1"), Decimal("3.60")),
    ]
    assert doc.lines[0].modifiers == ("warmed",) and doc.lines[0].note == "in a bag"
    assert {(t.name, t.tax) for t in doc.taxes} == {("Reduced", Decimal("0.28")), ("Standard", Decimal("0.60"))}
    assert doc.total == Decimal("9.00")
    assert [(t.label, t.tendered, t.change) for t in doc.tenders] == [("Cash", Decimal("10.00"), Decimal("1.00"))]
    assert doc.header == ("Main Street 1",) and doc.footer == ("Thank you",)
    assert doc.number == "000007" and doc.cash


def test_a_printed_cash_sale_opens_the_drawer_but_a_card_sale_does_not(paid_order):
    job = PrintJob.objects.create(kind="receipt", printer=paid_order.register.printer, receipt=paid_order)
    assert read(render_job(job)).drawer_kicks == 1
    card_job = PrintJob.objects.create(
        kind="receipt", printer=paid_order.register.printer, receipt=paid_order, payload={"open_drawer": False}
    )
    assert read(render_job(card_job)).drawer_kicks == 0


def test_a_kitchen_ticket_document_names_the_table_course_and_waiter(location, waiter):
    table = TableFactory(location=location, name="12")
    order = OrderFactory(location=location, staff=waiter, table=table, channel="dine_in")
    ticket = KitchenTicket.objects.create(order=order, location=location, station="grill", course=2, sent_by=waiter)
    OrderLineFactory(order=order, name="Steak", kitchen_ticket=ticket, note="rare", course=2)
    doc = kitchen_document(ticket)
    assert (doc.station, doc.where, doc.course, doc.waiter) == ("grill", "Table 12", 2, waiter.first_name)
    assert [(line.name, line.note) for line in doc.lines] == [("Steak", "rare")]


def test_the_html_receipt_shows_the_same_lines_and_totals(client, paid_order):
    response = client.get(f"/receipts/{paid_order.pk}/{paid_order.public_token}/")
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("Croissant", "Orange juice", "warmed", "in a bag", "9.00", "Change", "1.00", "000007", "R"):
        assert text in body
    assert "Voided muffin" not in body


def test_the_html_receipt_shows_the_business_identity_tip_rounding_and_change(client, location, cashier):
    from billing.services import sell
    from inventory.tests.factories import ProductFactory
    from orders.pricing import TenderInput
    from orders.services import NewLine

    location.legal_name, location.address, location.tax_id = "Main Street Ltd", "1 Main Street", "GB987"
    location.cash_rounding = Decimal("0.05")
    location.save()
    register = RegisterFactory(location=location)
    CashSessionFactory(register=register, opened_by=cashier)
    bun = ProductFactory(price=Decimal("3.58"), tracked=False)
    sale = sell(
        register_id=register.pk,
        user=cashier,
        lines=[NewLine(bun.pk)],
        tenders=[TenderInput("cash", tendered=Decimal("5.00"), tip=Decimal("0.40"))],
    )

    body = client.get(f"/receipts/{sale.receipt.pk}/{sale.receipt.public_token}/").content.decode()
    for text in ("Main Street Ltd", "1 Main Street", "Tax ID GB987", "Tip", "0.40", "Cash rounding", "+0.02"):
        assert text in body
    assert "Change" in body and "1.00" in body


def test_the_html_receipt_is_not_found_by_its_order_uuid_and_id(client, paid_order):
    """The address before receipts had their own token: the order's uuid is no longer what opens a receipt."""
    assert client.get(f"/receipts/{paid_order.order.uuid}/{paid_order.pk}/").status_code == 404


def test_a_refund_receipt_prints_what_was_given_back_and_why(location, cashier, manager):
    from billing import services
    from orders.pricing import TenderInput
    from orders.tests.helpers import line, open_register, stocked_product

    register = open_register(location, printer=PrinterFactory(columns=32, has_cash_drawer=True))
    product = stocked_product(location, on_hand="5", price="4.50", name="Flat white")
    sale = services.sell(
        register_id=register.pk, user=cashier, lines=[line(product, "2")], tenders=[TenderInput("cash")]
    )
    sold_line = sale.order.lines.get()
    refund = services.refund(
        order_id=sale.order.pk,
        register_id=register.pk,
        items=[services.RefundItem(line_id=sold_line.pk, quantity=Decimal("1"))],
        reason="spilled",
        user=manager,
        approver=manager,
    )

    job = refund.receipt.print_jobs.get()
    printout = read(render_job(job))
    assert "REFUND" in printout.text and "Reason: spilled" in printout.text
    assert "1 x Flat white" not in printout.text and "Flat white" in printout.text
    assert "-4.50" in printout.text
    assert printout.drawer_kicks == 1  # cash goes back out of the drawer
    assert printout.barcodes == [f"{{BR{register.pk}-{refund.receipt.number}".encode()]


def test_a_report_laid_out_by_its_producer_prints_as_is_and_a_copy_says_copy_once(location):
    printer = PrinterFactory(columns=32)
    lines = ["X REPORT (not a closing)", "-" * 32, "Sales                      12.00"]
    original = PrintJob.objects.create(kind="report", printer=printer, location=location, payload={"lines": lines})
    copy = PrintJob.objects.create(
        kind="report", printer=printer, location=location, payload={"lines": lines}, is_copy=True
    )
    marked = PrintJob.objects.create(
        kind="report",
        printer=printer,
        location=location,
        payload={"lines": ["*** COPY ***", *lines], "marked_copy": True},
        is_copy=True,
    )

    assert read(render_job(original)).text.splitlines() == lines
    assert read(render_job(copy)).text.count("COPY") == 2
    assert read(render_job(marked)).text.count("COPY") == 1


def test_a_no_sale_drawer_job_only_kicks_the_drawer(location):
    printer = PrinterFactory(has_cash_drawer=True)
    job = PrintJob.objects.create(
        kind="report",
        printer=printer,
        location=location,
        payload={"report": "drawer", "open_drawer": True, "lines": []},
    )
    printout = read(render_job(job))
    assert printout.drawer_kicks == 1 and printout.lines == [] and not printout.cut


def test_a_z_report_job_without_a_layout_prints_its_stored_figures(location, manager):
    from billing.models import ZReport

    register = RegisterFactory(location=location, name="Front", printer=PrinterFactory(columns=32))
    session = CashSessionFactory(register=register, opened_by=manager, status="closed", closed_at=timezone.now())
    z = ZReport.objects.create(
        register=register,
        session=session,
        number=4,
        gross_sales=Decimal("120.00"),
        net_sales=Decimal("100.00"),
        tax_total=Decimal("20.00"),
        grand_total=Decimal("5100.00"),
        data={"tenders": {"cash": "70.00", "card": "50.00"}},
    )
    job = PrintJob.objects.create(kind="report", printer=register.printer, location=location, z_report=z)

    printout = read(render_job(job))
    assert "Z report 4" in printout.text and "Front" in printout.text
    assert "Gross sales" in printout.text and "120.00" in printout.text and "5,100.00" in printout.text
    assert "Tenders" in printout.text and "70.00" in printout.text
    assert all(width <= 32 for _, width in printout.lines)


def test_a_cash_sale_rounded_to_the_nickel_shows_the_rounding_between_total_and_change(location, cashier):
    from billing.services import sell
    from inventory.tests.factories import ProductFactory
    from orders.pricing import TenderInput
    from orders.services import NewLine

    location.cash_rounding = Decimal("0.05")
    location.save()
    register = RegisterFactory(location=location, printer=PrinterFactory(columns=32, paper_width_mm=58))
    CashSessionFactory(register=register, opened_by=cashier)
    crisps = ProductFactory(price=Decimal("2.29"), tracked=False)

    sale = sell(
        register_id=register.pk,
        user=cashier,
        lines=[NewLine(product_id=crisps.pk, quantity=Decimal(2))],
        tenders=[TenderInput(tender="cash", tendered=Decimal("10.00"))],
    )

    text = read(render_job(sale.print_job)).text
    assert "TOTAL" in text and "4.58" in text
    assert [line.split() for line in text.splitlines() if "Cash rounding" in line] == [["Cash", "rounding", "0.02"]]
    assert [line.split()[-1] for line in text.splitlines() if line.strip().startswith("Change")] == ["5.40"]


TIPPED_RECEIPT = ReceiptDoc(
    **{
        **FIXED_RECEIPT.__dict__,
        "store_name": "Café Zoë",
        "legal_name": "Zoë & Fils SARL",
        "address": ("Rue de la Paix 12", "75002 Paris"),
        "tax_id": "FR12345678901",
        "header": (),
        "number": "000043",
        "code": "R3-43",
        "lines": (DocLine("Espresso", Decimal("2"), Decimal("2.29"), Decimal("4.58")),),
        "totals": (
            ("Subtotal", Decimal("4.58")),
            ("Service 10% of net", Decimal("0.38")),
            ("TOTAL", Decimal("4.96")),
        ),
        "taxes": (TaxRow("VAT", Decimal("20.000"), Decimal("0.76")),),
        "tenders": (
            TenderRow(
                "Cash",
                Decimal("4.96"),
                Decimal("10.00"),
                Decimal("4.05"),
                Decimal("-0.01"),
                cash=True,
                tip=Decimal("1"),
            ),
        ),
    }
)


@pytest.mark.parametrize(
    ("name", "columns"), [("receipt_tip_rounding_58mm.bin", 32), ("receipt_tip_rounding_80mm.bin", 48)]
)
def test_receipt_with_tip_change_and_rounding_bytes_equal_the_committed_golden_file(name, columns):
    data = render_receipt(TIPPED_RECEIPT, columns=columns, open_drawer=True)
    assert data == _golden(name, data)


def test_a_receipt_prints_the_business_legal_name_address_and_tax_id(location, cashier):
    from billing.services import sell
    from inventory.tests.factories import ProductFactory
    from orders.pricing import TenderInput
    from orders.services import NewLine

    location.name, location.legal_name = "Corner Café", "Corner Holdings Ltd"
    location.address, location.tax_id = "1 High Street\nTownsville", "GB123456789"
    location.save()
    register = RegisterFactory(location=location, printer=PrinterFactory(columns=32))
    CashSessionFactory(register=register, opened_by=cashier)
    tea = ProductFactory(price=Decimal("2.00"), tracked=False)

    sale = sell(register_id=register.pk, user=cashier, lines=[NewLine(tea.pk)], tenders=[TenderInput("card")])

    lines = [line.strip() for line in read(render_job(sale.print_job)).text.splitlines()]
    assert lines[:5] == ["Corner Café", "Corner Holdings Ltd", "1 High Street", "Townsville", "Tax ID GB123456789"]


def test_a_card_tip_and_an_exact_cash_change_of_nothing_are_printed(location, cashier):
    from billing.services import sell
    from inventory.tests.factories import ProductFactory
    from orders.pricing import TenderInput
    from orders.services import NewLine

    register = RegisterFactory(location=location, printer=PrinterFactory(columns=32))
    CashSessionFactory(register=register, opened_by=cashier)
    meal = ProductFactory(price=Decimal("20.00"), tracked=False)

    sale = sell(
        register_id=register.pk,
        user=cashier,
        lines=[NewLine(meal.pk)],
        tenders=[TenderInput("card", amount=Decimal("12.00"), tip_percent=Decimal("10")), TenderInput("cash")],
    )

    rows = [line.split() for line in read(render_job(sale.print_job)).text.splitlines()]
    assert rows[rows.index(["Card", "12.00"]) + 1] == ["Tip", "2.00"]
    assert ["Tendered", "8.00"] in rows and ["Change", "0.00"] in rows


def test_a_service_charge_says_what_it_was_taken_of_and_a_refund_gives_it_back_on_its_own_line(
    location, cashier, manager
):
    from billing import services
    from orders.pricing import TenderInput
    from orders.services import open_order
    from orders.tests.helpers import line, open_register, stocked_product

    location.service_charge_percent = Decimal("10")
    location.service_charge_base = "after_tax"
    location.save()
    register = open_register(location, printer=PrinterFactory(columns=32))
    product = stocked_product(location, on_hand="5", price="6.00", name="Pasta")
    order = open_order(location_id=location.pk, user=cashier, lines=[line(product, "2")], channel="dine_in")
    sale = services.take_payment(
        order_id=order.pk, register_id=register.pk, tenders=[TenderInput("card")], user=cashier
    )
    sale_rows = [row.split() for row in read(render_job(sale.print_job)).text.splitlines()]
    assert ["Service", "10%", "of", "gross", "1.20"] in sale_rows

    record = services.refund(
        order_id=order.pk,
        register_id=register.pk,
        items=[services.RefundItem(line_id=order.lines.get().pk, quantity=Decimal("1"))],
        reason="cold",
        user=manager,
    )

    rows = [row.split() for row in read(render_job(record.receipt.print_jobs.get())).text.splitlines()]
    assert ["Pasta", "-6.00"] in rows  # the dish at what it cost
    assert ["Service", "10%", "of", "gross", "-0.60"] in rows  # its service charge, said separately
    assert ["TOTAL", "REFUNDED", "EUR", "-6.60"] in rows


def test_no_amount_is_printed_as_minus_zero():
    from billing.receipts import money

    doc = ReceiptDoc(**{**FIXED_RECEIPT.__dict__, "totals": (("Discount", Decimal("-0.00")), ("TOTAL", Decimal("0")))})

    text = read(render_receipt(doc, columns=48)).text
    assert "-0.00" not in text and money(Decimal("-0.001")) == "0.00"
