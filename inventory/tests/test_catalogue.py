"""The catalogue CSV: a dry run lists every bad row and writes nothing; a clean file imports in one go; importing
the same file or an export again changes nothing; opening stock reaches the ledger once."""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory import catalogue
from inventory.models import Category, Product, StockLevel, StockMove
from inventory.tests.factories import LocationFactory, ProductFactory, TaxRateFactory
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db

HEADER = "sku,barcode,name,category,price,cost,tax_rate,kind,stock_policy,stock:main\n"


@pytest.fixture
def rates(location):
    return TaxRateFactory(name="Standard", percent=Decimal("20")), TaxRateFactory(name="Reduced", percent=Decimal("5"))


def catalogue_file(count: int, *, bad: dict[int, str] | None = None) -> str:
    """`count` good rows (SKU P00001 …); `bad` replaces row n (1-based) with the given text."""
    lines = [HEADER]
    for n in range(1, count + 1):
        row = f"P{n:05d},40{n:011d},Product {n},Drinks,{n % 50 + 1}.50,1.25,Standard,goods,block,{n % 7}\n"
        lines.append((bad or {}).get(n, row))
    return "".join(lines)


def snapshot():
    products = list(Product.objects.order_by("sku").values())
    return products, StockMove.objects.count(), list(StockLevel.objects.order_by("id").values("id", "on_hand"))


def test_a_clean_file_creates_products_categories_and_opening_stock(rates, location):
    result = catalogue.import_catalogue(catalogue_file(20))

    assert result.clean and result.applied
    assert (result.created, result.updated, result.unchanged, result.categories_created) == (20, 0, 0, 1)
    product = Product.objects.get(sku="P00003")
    assert (product.name, product.price, product.cost, product.category.name) == (
        "Product 3",
        Decimal("4.50"),
        Decimal("1.25"),
        "Drinks",
    )
    assert product.barcode == "4000000000003" and product.tax_rate.name == "Standard"
    move = StockMove.objects.get(product=product, location=location)
    assert (move.delta, move.reference, move.reason) == (Decimal("3"), catalogue.OPENING_REFERENCE, "adjustment")
    assert StockLevel.objects.get(product=product, location=location).on_hand == Decimal("3")
    assert not StockMove.objects.filter(product__sku="P00007").exists()  # 7 % 7 == 0: nothing to book
    assert result.stock_moves == StockMove.objects.count() == 18


def test_five_bad_rows_among_a_thousand_are_each_reported_and_nothing_is_imported(rates, location):
    bad = {
        10: "P00010,,Product 10,Drinks,abc,1.25,Standard,goods,block,1\n",  # price not a number
        200: "P00200,,,Drinks,2.00,1.25,Standard,goods,block,1\n",  # no name
        333: "P00333,,Product 333,Drinks,2.00,1.25,Luxury,goods,block,1\n",  # unknown tax rate
        600: "P00600,,Product 600,Drinks,2.00,1.25,Standard,gadget,block,1\n",  # unknown kind
        999: "P00999,,Product 999,Drinks,2.00,1.25,Standard,goods,block,-4\n",  # negative opening stock
    }
    text = catalogue_file(1000, bad=bad)

    checked = catalogue.check_catalogue(text)
    imported = catalogue.import_catalogue(text)

    expected = [(11, "price"), (201, "name"), (334, "tax_rate"), (601, "kind"), (1000, "stock:main")]
    for result in (checked, imported):
        assert [(error.line, error.field) for error in result.errors] == expected
        assert not result.applied
    assert "Luxury" in checked.errors[2].reason and "Reduced, Standard" in checked.errors[2].reason
    assert Product.objects.count() == 0 and Category.objects.count() == 0 and StockMove.objects.count() == 0


def test_a_dry_run_of_a_clean_file_says_what_it_would_do_and_writes_nothing(rates, location):
    result = catalogue.check_catalogue(catalogue_file(12))

    assert result.clean and not result.applied
    assert (result.created, result.categories_created, result.stock_moves) == (12, 1, 11)
    assert Product.objects.count() == 0 and StockMove.objects.count() == 0


def test_importing_the_same_file_again_changes_nothing(rates, location):
    text = catalogue_file(50)
    catalogue.import_catalogue(text)
    before = snapshot()

    again = catalogue.import_catalogue(text)

    assert (again.created, again.updated, again.unchanged, again.stock_moves) == (0, 0, 50, 0)
    assert snapshot() == before


def test_an_export_imports_as_a_no_op(rates, location):
    LocationFactory(code="depot", name="Depot")
    catalogue.import_catalogue(catalogue_file(30))
    ProductFactory(sku="=CMD", name="+danger", barcode=None, category=None, tax_rate=rates[1], kind="service")
    ProductFactory(sku="QUOTE", name="'=typed so", barcode=None, category=None, tax_rate=rates[1])
    ProductFactory(sku="QUOTE2", name="'quoted", barcode=None, category=None, tax_rate=rates[1])
    before = snapshot()
    out = io.StringIO()

    assert catalogue.export_catalogue(out) == 33
    result = catalogue.import_catalogue(out.getvalue())

    assert result.clean, result.errors
    assert (result.created, result.updated, result.unchanged, result.stock_moves) == (0, 0, 33, 0)
    assert snapshot() == before
    assert "'=CMD,,'+danger,,10.00,4.00,Reduced,service,block,," in out.getvalue()


def test_a_changed_row_updates_only_that_product(rates, location):
    catalogue.import_catalogue(catalogue_file(5))
    untouched = Product.objects.get(sku="P00001").updated_at
    text = catalogue_file(5, bad={2: "P00002,,Renamed,Snacks,9.90,,Reduced,goods,warn,2\n"})

    result = catalogue.import_catalogue(text)

    assert (result.created, result.updated, result.unchanged, result.stock_moves) == (0, 1, 4, 0)
    product = Product.objects.get(sku="P00002")
    assert (product.name, product.price, product.category.name, product.tax_rate.name, product.stock_policy) == (
        "Renamed",
        Decimal("9.90"),
        "Snacks",
        "Reduced",
        "warn",
    )
    assert product.barcode is None and product.cost == Decimal("1.25")  # blank cost keeps the cost
    assert Product.objects.get(sku="P00001").updated_at == untouched


def test_a_different_opening_stock_for_a_booked_one_is_refused_with_its_line(rates, location):
    catalogue.import_catalogue(catalogue_file(3))
    text = catalogue_file(3, bad={2: "P00002,4000000000002,Product 2,Drinks,3.50,1.25,Standard,goods,block,9\n"})

    result = catalogue.check_catalogue(text)

    assert [(e.line, e.field) for e in result.errors] == [(3, "stock:main")]
    assert "booked as 2 already" in result.errors[0].reason


def test_duplicate_skus_and_barcodes_in_one_file_name_the_first_line(rates, location):
    text = HEADER + (
        "A1,111,One,,1.00,,Standard,,,\nA2,222,Two,,1.00,,Standard,,,\nA1,333,Again,,1.00,,Standard,,,\n"
        "A3,222,Three,,1.00,,Standard,,,\n"
    )

    errors = catalogue.check_catalogue(text).errors

    assert [(e.line, e.field, e.reason) for e in errors] == [
        (4, "sku", "The same SKU is on line 2."),
        (5, "barcode", "The same barcode is on line 3."),
    ]


def test_a_barcode_of_another_product_is_refused(rates, location):
    ProductFactory(sku="OLD", barcode="5000")

    errors = catalogue.check_catalogue(HEADER + "NEW,5000,New,,1.00,,Standard,,,\n").errors

    assert [(e.line, e.field, e.reason) for e in errors] == [(2, "barcode", "Already the barcode of OLD.")]


def test_amounts_out_of_bounds_are_refused(rates, location):
    text = HEADER + (
        "A,,A,,1000000001,,Standard,,,\n"
        "B,,B,,1.001,,Standard,,,\n"
        "C,,C,,1.00,-1,Standard,,,\n"
        "D,,D,,1.00,,Standard,,,1000000001\n"
        "E,,E,,NaN,,Standard,,,1.5\n"
    )

    errors = catalogue.check_catalogue(text).errors

    assert [(e.line, e.field) for e in errors] == [
        (2, "price"),
        (3, "price"),
        (4, "cost"),
        (5, "stock:main"),
        (6, "price"),
        (6, "stock:main"),
    ]


def test_names_that_differ_only_in_case_are_told_apart_and_matched_case_blind_otherwise(rates, location):
    upper, lower = Category.objects.create(name="Tea"), Category.objects.create(name="tea")
    Category.objects.create(name="Cakes")
    text = HEADER + "A,,A,Tea,1.00,,standard,,,\nB,,B,tea,1.00,,Standard,,,\nC,,C,CAKES,1.00,,Standard,,,\n"

    result = catalogue.import_catalogue(text)

    assert result.clean and result.categories_created == 0
    assert Product.objects.get(sku="A").category == upper and Product.objects.get(sku="B").category == lower
    assert Product.objects.get(sku="C").category.name == "Cakes"
    assert catalogue.check_catalogue(HEADER + "D,,D,TEA,1.00,,Standard,,,\n").errors[0].field == "category"


def test_a_bad_header_is_reported_on_line_one(rates, location):
    errors = catalogue.check_catalogue("sku,name,colour,stock:nowhere\nA,B,red,1\n").errors

    assert [(e.line, e.field) for e in errors] == [(1, "colour"), (1, "stock:nowhere"), (1, "price"), (1, "tax_rate")]


def test_quoted_cells_semicolons_and_a_byte_order_mark_are_read(rates, location):
    data = '\ufeffSKU;Name;Price;Tax rate;Stock: MAIN\nX1;"Tea; green, large";2.40;standard;5\n'

    result = catalogue.import_catalogue(catalogue.decode(data.encode("utf-8")))

    assert result.clean, result.errors
    product = Product.objects.get(sku="X1")
    assert product.name == "Tea; green, large" and product.tax_rate.name == "Standard"
    assert StockLevel.objects.get(product=product, location=location).on_hand == 5


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(catalogue.DomainError) as caught:
        catalogue.decode("Café".encode("latin-1"))
    assert caught.value.fields == {"file": ["Not UTF-8 text."]}


def test_an_import_that_writes_leaves_an_audit_event(rates, location, manager):
    catalogue.import_catalogue(catalogue_file(4), user=manager)
    catalogue.import_catalogue(catalogue_file(4), user=manager)  # nothing changes: no second event

    event = AuditEvent.objects.get(action="catalogue_import")
    assert event.actor == manager and event.data["created"] == 4 and event.data["stock_moves"] == 4


def test_the_commands_import_and_export(rates, location, tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text(catalogue_file(6, bad={6: "P00006,,,Drinks,1,1,Standard,goods,block,\n"}))

    with pytest.raises(CommandError, match="1 error"):
        call_command("import_catalogue", str(path), stdout=io.StringIO())
    assert Product.objects.count() == 0

    path.write_text(catalogue_file(6))
    out = io.StringIO()
    call_command("import_catalogue", str(path), "--dry-run", stdout=out)
    assert "Would create 6" in out.getvalue() and Product.objects.count() == 0
    call_command("import_catalogue", str(path), stdout=io.StringIO())
    assert Product.objects.count() == 6

    exported = tmp_path / "export.csv"
    call_command("export_catalogue", str(exported), stderr=io.StringIO())
    out = io.StringIO()
    call_command("import_catalogue", str(exported), stdout=out)
    assert "Created 0, updated 0, unchanged 6" in out.getvalue()


TEXT = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"))
        | st.sampled_from(",;\"'=+-@"),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    products=st.lists(
        st.tuples(
            TEXT,
            st.none() | st.from_regex(r"[0-9A-Z+=-]{1,20}", fullmatch=True),
            st.none() | TEXT.map(lambda name: name[:80]),
            st.decimals(min_value=0, max_value=999999, places=2),
            st.sampled_from(Product.Kind.values),
            st.sampled_from(Product.StockPolicy.values),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_catalogue_exports_and_imports_back_unchanged(rates, location, products):
    Product.objects.all().delete()
    Category.objects.all().delete()
    barcodes = set()
    for n, (name, barcode, category, price, kind, policy) in enumerate(products):
        if barcode in barcodes:
            barcode = None
        barcodes.add(barcode)
        ProductFactory(
            sku=f"{name[:50]}#{n}",
            name=name,
            barcode=barcode,
            category=Category.objects.get_or_create(name=category)[0] if category else None,
            price=price,
            kind=kind,
            stock_policy=policy,
            tax_rate=rates[n % 2],
        )
    before = list(Product.objects.order_by("sku").values())
    out = io.StringIO()
    catalogue.export_catalogue(out)

    result = catalogue.import_catalogue(out.getvalue())

    assert result.clean, result.errors
    assert (result.created, result.updated, result.stock_moves) == (0, 0, 0)
    assert list(Product.objects.order_by("sku").values()) == before
