"""First-day setup: a store and all it needs in one go, or nothing with every problem beside its field; then the
checklist that says whether a sale can be made, with a test print through the outbox."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from billing import printing, setup
from billing.models import Printer, PrintJob, Register
from billing.tests.factories import RegisterFactory
from inventory.models import Location, TaxRate
from inventory.tests.factories import CategoryFactory, ProductFactory, TaxRateFactory
from orders.models import Table
from staff import pins, terminals
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db


def form_data(tmp_path, **overrides) -> dict:
    """What a manager types on the setup page for a small café with one till and a file printer."""
    data = {
        "store-name": "Harbour Café",
        "store-code": "harbour-cafe",
        "store-legal_name": "Harbour Café Ltd",
        "store-address": "1 Quay Street\nPortsmouth",
        "store-tax_id": "GB123456789",
        "store-prices_include_tax": "1",
        "store-cash_rounding": "0.05",
        "store-service_charge_percent": "10",
        "store-service_charge_base": "before_tax",
        "tax-TOTAL_FORMS": "3",
        "tax-INITIAL_FORMS": "0",
        "tax-0-name": "Standard",
        "tax-0-percent": "20",
        "tax-1-name": "Reduced",
        "tax-1-percent": "5",
        "register-TOTAL_FORMS": "2",
        "register-INITIAL_FORMS": "0",
        "register-0-name": "Till 1",
        "register-0-connection": "file",
        "register-0-device_path": str(tmp_path / "till1.bin"),
        "register-0-port": "9100",
        "register-0-paper_width_mm": "80",
        "tables-tables": "Main room: 1-4\nTerrace: T1-T2, Bar",
        "staff-TOTAL_FORMS": "4",
        "staff-INITIAL_FORMS": "0",
        "staff-0-username": "carla",
        "staff-0-first_name": "Carla",
        "staff-0-role": "Cashier",
        "staff-0-pin": "402718",
        "staff-0-password": "a-long-pass-phrase-42",
        "staff-1-username": "walt",
        "staff-1-first_name": "Walt",
        "staff-1-role": "Waiter",
        "staff-1-pin": "530691",
    }
    data.update(overrides)
    return data


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_the_setup_page_creates_a_store_with_everything_it_needs(manager_client, manager, tmp_path):
    response = manager_client.post(reverse("setup:start"), form_data(tmp_path))

    store = Location.objects.get(code="harbour-cafe")
    assert response.status_code == 302 and response["Location"] == reverse("setup:store", args=[store.pk])
    assert (store.legal_name, store.tax_id, store.prices_include_tax) == ("Harbour Café Ltd", "GB123456789", True)
    assert (store.cash_rounding, store.service_charge_percent) == (Decimal("0.05"), Decimal("10"))
    assert sorted(TaxRate.objects.values_list("name", "percent")) == [
        ("Reduced", Decimal("5.000")),
        ("Standard", Decimal("20.000")),
    ]
    register = Register.objects.get(location=store)
    assert register.name == "Till 1" and register.printer.device_path == str(tmp_path / "till1.bin")
    assert list(Table.objects.filter(location=store).values_list("section", "name")) == [
        ("Main room", "1"),
        ("Main room", "2"),
        ("Main room", "3"),
        ("Main room", "4"),
        ("Terrace", "T1"),
        ("Terrace", "T2"),
        ("Terrace", "Bar"),
    ]
    carla = User.objects.get(username="carla")
    assert carla.groups.get().name == "Cashier" and carla.check_password("a-long-pass-phrase-42")
    assert list(carla.staff.locations.all()) == [store]
    assert pins.verify_pin(user_id=carla.pk, pin="402718", location=store) == carla
    walt = User.objects.get(username="walt")
    assert not walt.has_usable_password() and walt.groups.get().name == "Waiter"
    event = AuditEvent.objects.get(action="store_set_up")
    assert event.actor == manager and event.location == store and event.data["tables"] == 7


def test_every_problem_is_shown_beside_its_field_and_nothing_is_created(manager_client, tmp_path):
    TaxRateFactory(name="Standard", percent=Decimal("19"))
    User.objects.create_user("carla")
    data = form_data(
        tmp_path,
        **{
            "store-service_charge_percent": "150",
            "register-0-device_path": "/etc/passwd",
            "staff-1-pin": "123456",
            "tables-tables": "Main room: 1-4, 2",
        },
    )

    response = manager_client.post(reverse("setup:start"), data)

    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-field-error="store-service_charge_percent"' in body
    for field in ("tax-0-name", "register-0-device_path", "staff-0-username", "staff-1-pin", "tables-tables"):
        assert f'data-field-error="{field}"' in body, field
    assert "Nothing was created" in body
    assert not Location.objects.filter(code="harbour-cafe").exists()
    assert not Printer.objects.exists() and not Table.objects.exists()
    assert not User.objects.filter(username="walt").exists()


def test_problems_found_by_the_service_also_create_nothing(manager, tmp_path):
    """The form checks shapes; the service checks against the database, all before writing anything."""
    store = setup.StoreInput(code="harbour-cafe", name="Harbour Café", legal_name="H", address="A")
    Location.objects.create(code="HARBOUR-CAFE", name="Old")

    with pytest.raises(setup.DomainError) as caught:
        setup.set_up_store(
            store=store,
            tax_rates=[setup.TaxRateInput("Standard", Decimal(20))],
            registers=[setup.RegisterInput("Till 1", "network", host="10.0.0.1", port=6379)],
            staff=[setup.StaffInput("x", "X", "Cashier", pin="12")],
            user=manager,
        )

    assert set(caught.value.fields) == {"store-code", "register-0-port", "staff-0-pin"}
    assert not TaxRate.objects.exists() and not Register.objects.exists() and not User.objects.filter(username="x")


def test_a_tax_rate_that_exists_with_the_same_percent_is_reused(manager, tmp_path):
    standard = TaxRateFactory(name="Standard", percent=Decimal("20"))

    made = setup.set_up_store(
        store=setup.StoreInput(code="two", name="Two"),
        tax_rates=[setup.TaxRateInput("standard", Decimal("20"))],
        registers=[setup.RegisterInput("Till 1")],
        staff=[],
        user=manager,
    )

    assert made.tax_rates == [standard] and TaxRate.objects.count() == 1


def test_table_lines_are_parsed_into_sections_and_refused_with_the_line_at_fault():
    assert setup.parse_tables("1-3\nPatio: P9-P10") == [
        ("Main", "1"),
        ("Main", "2"),
        ("Main", "3"),
        ("Patio", "P9"),
        ("Patio", "P10"),
    ]
    with pytest.raises(setup.DomainError, match="Line 2: “5-1” counts backwards"):
        setup.parse_tables("1-3\nPatio: 5-1")
    with pytest.raises(setup.DomainError, match="at most 500"):
        setup.parse_tables("1-100000")


def test_the_checklist_says_what_a_first_sale_still_needs(manager, tmp_path):
    store = Location.objects.create(code="new", name="New shop")
    missing = {check.key for check in setup.checklist(store) if not check.ok}
    assert missing == {"store", "tax_rate", "register", "printer", "test_print", "terminal", "product", "staff"}

    made = setup.set_up_store(
        store=setup.StoreInput(code="cafe", name="Café", legal_name="Café Ltd", address="1 Road", tax_id="X1"),
        tax_rates=[setup.TaxRateInput("Standard", Decimal(20))],
        registers=[setup.RegisterInput("Till 1", "file", device_path=str(tmp_path / "till.bin"))],
        staff=[setup.StaffInput("carla", "Carla", "Cashier", pin="402718")],
        user=manager,
    )
    store = made.location
    assert {check.key for check in setup.checklist(store) if not check.ok} == {"test_print", "terminal", "product"}
    assert [(t.name, t.register) for t in made.terminals] == [("Till 1", made.registers[0])]

    ProductFactory(category=CategoryFactory(location=store), tax_rate=made.tax_rates[0])
    job = setup.print_test_page(register_id=made.registers[0].pk, user=manager)
    assert job.status == PrintJob.Status.QUEUED and job.location == store
    assert [check.key for check in setup.checklist(store) if not check.ok] == ["test_print", "terminal"]

    assert printing.deliver_print_job(job.pk) == PrintJob.Status.PRINTED  # what the worker does
    assert (tmp_path / "till.bin").read_bytes()
    assert [check.key for check in setup.checklist(store) if not check.ok] == ["terminal"]
    assert not setup.ready_to_sell(store)

    terminals.pair(terminal_id=made.terminals[0].pk, actor=manager, how="admin")  # the till's browser, paired
    assert setup.ready_to_sell(store)


def test_the_store_page_shows_the_checklist_and_sends_a_test_page(manager_client, manager, tmp_path):
    made = setup.set_up_store(
        store=setup.StoreInput(code="cafe", name="Café", legal_name="Café Ltd", address="1 Road", tax_id="X1"),
        tax_rates=[setup.TaxRateInput("Standard", Decimal(20))],
        registers=[setup.RegisterInput("Till 1", "file", device_path=str(tmp_path / "till.bin"))],
        staff=[],
        user=manager,
    )
    page = manager_client.get(reverse("setup:store", args=[made.location.pk])).content.decode()
    assert 'data-check="test_print" data-ok="no"' in page and "Not ready to sell yet" in page

    other = RegisterFactory(name="Elsewhere")
    url = reverse("setup:test-print", args=[made.location.pk])
    assert manager_client.post(url, {"register": other.pk}).status_code == 404
    assert manager_client.post(url, {"register": "x"}).status_code == 302
    response = manager_client.post(url, {"register": made.registers[0].pk})

    assert response.status_code == 302
    job = PrintJob.objects.get()
    assert job.printer == made.registers[0].printer and job.payload["purpose"] == setup.TEST_PAGE


def test_a_cashier_cannot_open_the_setup_page(client, cashier):
    client.force_login(cashier)

    assert client.get(reverse("setup:start")).status_code == 403
    assert client.post(reverse("setup:start"), {}).status_code == 403


def test_a_tampered_row_count_is_refused_with_a_message_not_an_error(manager_client, tmp_path):
    response = manager_client.post(reverse("setup:start"), form_data(tmp_path, **{"staff-TOTAL_FORMS": "5000"}))

    assert response.status_code == 400
    assert "Please submit at most 20 forms" in response.content.decode()
    assert not Location.objects.filter(code="harbour-cafe").exists()


def test_a_name_taken_between_the_check_and_the_write_is_a_conflict_not_an_error(manager, monkeypatch):
    real_check = setup._check

    def check_then_someone_else_writes(*args, **kwargs):
        found = real_check(*args, **kwargs)
        User.objects.create_user("carla")  # another manager, a moment later
        return found

    monkeypatch.setattr(setup, "_check", check_then_someone_else_writes)
    with pytest.raises(setup.Conflict, match="Someone else created"):
        setup.set_up_store(
            store=setup.StoreInput(code="cafe", name="Café"),
            tax_rates=[setup.TaxRateInput("Standard", Decimal(20))],
            registers=[setup.RegisterInput("Till 1")],
            staff=[setup.StaffInput("carla", "Carla", "Cashier", pin="402718")],
            user=manager,
        )

    assert not Location.objects.filter(code="cafe").exists() and not TaxRate.objects.exists()


def test_the_admin_location_list_links_to_the_setup_page(manager_client):
    page = manager_client.get(reverse("admin:inventory_location_changelist")).content.decode()

    assert f'href="{reverse("setup:start")}"' in page
