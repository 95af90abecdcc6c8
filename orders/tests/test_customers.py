from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import CashSession
from billing.services import sell
from core.errors import Conflict, DomainError, PermissionDenied
from orders import selectors, services
from orders.models import Customer, Order
from orders.pricing import TenderInput
from orders.tests.factories import CustomerFactory
from orders.tests.helpers import line, open_register, stocked_product
from staff.models import AuditEvent

pytestmark = pytest.mark.django_db


def new_customer(user, **typed):
    typed.setdefault("name", "Ada Lovelace")
    return services.create_customer(user=user, **typed)


def paid_order(location, user, price="10.00"):
    till = open_register(location)
    product = stocked_product(location, price=price)
    return sell(register_id=till.pk, user=user, lines=[line(product)], tenders=[TenderInput("card")]).order


def close_sessions_of(order):
    CashSession.objects.filter(payments__order=order).update(status=CashSession.Status.CLOSED, closed_at=timezone.now())


# --- Creating: normalisation, validation, duplicates ---------------------------------------------------------------


def test_a_new_customer_keeps_the_phone_as_digits_and_the_email_lower_cased(cashier):
    customer = new_customer(cashier, phone=" +44 (20) 7946-0000 ", email="  Ada@Example.COM ")

    assert (customer.phone, customer.email) == ("+442079460000", "ada@example.com")


def test_a_customer_needs_a_phone_or_an_email(cashier):
    with pytest.raises(DomainError) as refused:
        new_customer(cashier)

    assert refused.value.code == "required"
    assert set(refused.value.fields) == {"phone", "email"}


@pytest.mark.parametrize("phone", ["12345", "0770090012345678", "0770 ext 12", "++4412345678"])
def test_a_phone_that_is_not_6_to_15_digits_is_refused(cashier, phone):
    with pytest.raises(DomainError) as refused:
        new_customer(cashier, phone=phone)

    assert (refused.value.code, list(refused.value.fields)) == ("invalid", ["phone"])


def test_an_email_that_is_not_an_address_is_refused(cashier):
    with pytest.raises(DomainError) as refused:
        new_customer(cashier, email="ada@")

    assert (refused.value.code, list(refused.value.fields)) == ("invalid", ["email"])


def test_the_same_phone_typed_differently_is_refused_naming_the_customer_who_has_it(cashier):
    first = new_customer(cashier, phone="07700 900123")

    with pytest.raises(DomainError) as refused:
        new_customer(cashier, name="Someone Else", phone="07700-900-123")

    assert (refused.value.code, refused.value.status) == ("duplicate_customer", 409)
    assert f"#{first.pk}" in refused.value.message and "Ada Lovelace" in refused.value.message
    assert Customer.objects.count() == 1


def test_the_same_email_in_other_capitals_is_refused_as_a_duplicate(cashier):
    new_customer(cashier, email="ada@example.com")

    with pytest.raises(DomainError) as refused:
        new_customer(cashier, name="Ada L", email="ADA@example.com")

    assert refused.value.code == "duplicate_customer" and list(refused.value.fields) == ["email"]


def test_a_duplicate_slipping_past_the_check_is_refused_by_the_constraint_the_same_way(cashier):
    existing = CustomerFactory(phone="07700900123")
    details = services.customers.clean_details(name="Late", phone="07700900123")

    with pytest.raises(DomainError) as refused:
        services.customers._save(Customer(**details.__dict__), details)

    assert refused.value.code == "duplicate_customer" and f"#{existing.pk}" in refused.value.message


def test_a_waiter_may_not_add_customers(waiter):
    with pytest.raises(PermissionDenied):
        new_customer(waiter, phone="07700900123")


# --- Consent ------------------------------------------------------------------------------------------------------


def test_consent_given_is_dated_and_withdrawn_clears_the_date(cashier):
    customer = new_customer(cashier, phone="07700900123", marketing_consent=True)
    assert customer.marketing_consent and customer.marketing_consent_at is not None

    customer = services.set_marketing_consent(customer.pk, consent=False, user=cashier)

    assert (customer.marketing_consent, customer.marketing_consent_at) == (False, None)


def test_consent_given_again_keeps_its_first_date(cashier):
    customer = new_customer(cashier, phone="07700900123", marketing_consent=True)
    first = customer.marketing_consent_at

    customer = services.set_marketing_consent(customer.pk, consent=True, user=cashier)

    assert customer.marketing_consent_at == first


def test_editing_a_customer_to_another_customers_email_is_refused(manager):
    CustomerFactory(email="taken@example.com")
    customer = CustomerFactory()

    with pytest.raises(DomainError) as refused:
        services.update_customer(customer.pk, user=manager, name=customer.name, email="Taken@example.com")

    assert refused.value.code == "duplicate_customer"


# --- Attaching to an order ----------------------------------------------------------------------------------------


def test_a_cashier_attaches_a_customer_to_an_open_order_without_an_audit_row(location, cashier):
    order = services.open_order(location_id=location.pk, user=cashier)
    customer = CustomerFactory()

    services.attach_customer(order.pk, customer_id=customer.pk, user=cashier)

    order.refresh_from_db()
    assert order.customer == customer
    assert not AuditEvent.objects.filter(action__startswith="customer.").exists()


def test_a_customer_attached_after_payment_is_audited_while_the_session_is_open(location, cashier):
    order = paid_order(location, cashier)
    customer = CustomerFactory()

    services.attach_customer(order.pk, customer_id=customer.pk, user=cashier)

    order.refresh_from_db()
    assert order.customer == customer
    event = AuditEvent.objects.get(action="customer.attached_after_payment")
    assert (event.actor, event.object_id, event.data["customer"]) == (cashier, str(order.pk), customer.pk)


def test_a_customer_cannot_be_attached_after_the_orders_session_is_closed(location, cashier):
    order = paid_order(location, cashier)
    close_sessions_of(order)

    with pytest.raises(Conflict) as refused:
        services.attach_customer(order.pk, customer_id=CustomerFactory().pk, user=cashier)

    assert refused.value.code == "session_closed"
    order.refresh_from_db()
    assert order.customer is None


def test_a_customer_cannot_be_detached_after_the_orders_session_is_closed(location, cashier):
    order = paid_order(location, cashier)
    services.attach_customer(order.pk, customer_id=CustomerFactory().pk, user=cashier)
    close_sessions_of(order)

    with pytest.raises(Conflict):
        services.detach_customer(order.pk, user=cashier)


def test_detaching_after_payment_is_audited(location, cashier):
    order = paid_order(location, cashier)
    customer = CustomerFactory()
    services.attach_customer(order.pk, customer_id=customer.pk, user=cashier)

    services.detach_customer(order.pk, user=cashier)

    order.refresh_from_db()
    assert order.customer is None
    assert AuditEvent.objects.get(action="customer.detached_after_payment").data["previous_customer"] == customer.pk


def test_a_voided_order_takes_no_customer(location, cashier, manager):
    order = services.open_order(location_id=location.pk, user=cashier)
    services.void_order(order.pk, user=manager, reason="test")

    with pytest.raises(Conflict) as refused:
        services.attach_customer(order.pk, customer_id=CustomerFactory().pk, user=cashier)

    assert refused.value.code == "not_open"


def test_an_erased_customer_cannot_be_attached(location, cashier, manager):
    order = services.open_order(location_id=location.pk, user=cashier)
    customer = services.erase_customer(CustomerFactory().pk, user=manager)

    with pytest.raises(Conflict) as refused:
        services.attach_customer(order.pk, customer_id=customer.pk, user=cashier)

    assert refused.value.code == "customer_erased"


def test_attaching_a_merged_customer_attaches_the_survivor(location, cashier, manager):
    source, survivor = CustomerFactory(), CustomerFactory()
    services.merge_customers(source_id=source.pk, into_id=survivor.pk, user=manager)
    order = services.open_order(location_id=location.pk, user=cashier)

    services.attach_customer(order.pk, customer_id=source.pk, user=cashier)

    order.refresh_from_db()
    assert order.customer == survivor


# --- Merge --------------------------------------------------------------------------------------------------------


def test_merging_moves_the_orders_to_the_survivor_and_points_the_merged_one_at_it(location, cashier, manager):
    source, survivor = CustomerFactory(email=""), CustomerFactory(phone="")
    order = paid_order(location, cashier)
    services.attach_customer(order.pk, customer_id=source.pk, user=cashier)

    services.merge_customers(source_id=source.pk, into_id=survivor.pk, user=manager)

    order.refresh_from_db()
    source.refresh_from_db()
    survivor.refresh_from_db()
    assert order.customer == survivor
    assert source.merged_into == survivor
    assert survivor.phone == source.phone  # the survivor had none
    event = AuditEvent.objects.get(action="customer.merged")
    assert (event.actor, event.object_id, event.data["merged"], event.data["orders_moved"]) == (
        manager,
        str(survivor.pk),
        source.pk,
        1,
    )


def test_a_merged_customer_is_no_longer_found(manager):
    source, survivor = CustomerFactory(name="Zed Source"), CustomerFactory(name="Zed Survivor")

    services.merge_customers(source_id=source.pk, into_id=survivor.pk, user=manager)

    assert selectors.search_customers("Zed") == [survivor]


def test_only_a_manager_may_merge_customers(cashier):
    source, survivor = CustomerFactory(), CustomerFactory()

    with pytest.raises(PermissionDenied):
        services.merge_customers(source_id=source.pk, into_id=survivor.pk, user=cashier)

    source.refresh_from_db()
    assert source.merged_into is None


def test_a_customer_cannot_be_merged_into_themselves(manager):
    customer = CustomerFactory()

    with pytest.raises(DomainError) as refused:
        services.merge_customers(source_id=customer.pk, into_id=customer.pk, user=manager)

    assert refused.value.code == "same_customer"


# --- Erase and export ---------------------------------------------------------------------------------------------


def test_erasing_blanks_the_personal_fields_and_keeps_the_orders_and_their_totals(location, cashier, manager):
    customer = CustomerFactory(company="Acme", tax_id="GB123", notes="likes tea", card_code="CARD-1")
    services.set_marketing_consent(customer.pk, consent=True, user=cashier)
    order = paid_order(location, cashier, price="12.50")
    services.attach_customer(order.pk, customer_id=customer.pk, user=cashier)
    total_before = order.total

    services.erase_customer(customer.pk, user=manager)

    customer.refresh_from_db()
    assert customer.name == f"Erased customer #{customer.pk}"
    assert (customer.phone, customer.email, customer.company, customer.tax_id, customer.notes) == ("",) * 5
    assert (customer.card_code, customer.marketing_consent, customer.marketing_consent_at) == (None, False, None)
    assert customer.erased_at is not None
    order.refresh_from_db()
    assert (order.customer, order.total, order.status) == (customer, total_before, Order.Status.PAID)


def test_erasing_is_audited_without_the_erased_data(manager):
    customer = CustomerFactory(name="Grace Hopper", phone="07700900999")

    services.erase_customer(customer.pk, user=manager)

    event = AuditEvent.objects.get(action="customer.erased")
    assert (event.actor, event.object_id) == (manager, str(customer.pk))
    assert "Grace" not in str(event.data) and "07700900999" not in str(event.data)


def test_erasing_also_erases_the_records_merged_into_the_customer(manager):
    source, survivor = CustomerFactory(), CustomerFactory()
    services.merge_customers(source_id=source.pk, into_id=survivor.pk, user=manager)

    services.erase_customer(survivor.pk, user=manager)

    source.refresh_from_db()
    assert source.erased_at is not None and source.phone == "" and source.email == ""


def test_a_customer_cannot_be_erased_twice(manager):
    customer = services.erase_customer(CustomerFactory().pk, user=manager)

    with pytest.raises(Conflict) as refused:
        services.erase_customer(customer.pk, user=manager)

    assert refused.value.code == "customer_erased"


def test_only_a_manager_may_erase_or_export_a_customer(cashier):
    customer = CustomerFactory()

    with pytest.raises(PermissionDenied):
        services.erase_customer(customer.pk, user=cashier)
    with pytest.raises(PermissionDenied):
        services.export_customer(customer.pk, user=cashier)


def test_an_export_holds_the_details_and_the_orders_and_is_audited(location, cashier, manager):
    customer = CustomerFactory(name="Ada", email="ada@example.com")
    order = paid_order(location, cashier, price="7.00")
    services.attach_customer(order.pk, customer_id=customer.pk, user=cashier)

    data = services.export_customer(customer.pk, user=manager)

    assert (data["customer"]["name"], data["customer"]["email"]) == ("Ada", "ada@example.com")
    assert [o["uuid"] for o in data["orders"]] == [str(order.uuid)]
    assert data["orders"][0]["total"] == "7.00" and data["orders"][0]["lines"][0]["amount_due"] == "7.00"
    assert data["summary"]["orders_count"] == 1
    assert AuditEvent.objects.get(action="customer.exported").object_id == str(customer.pk)


# --- Selectors: figures and search ----------------------------------------------------------------------------------


def test_the_summary_counts_paid_orders_and_what_was_spent_net_of_refunds(location, cashier):
    customer = CustomerFactory()
    first, second = paid_order(location, cashier, price="10.00"), paid_order(location, cashier, price="20.00")
    for order in (first, second):
        services.attach_customer(order.pk, customer_id=customer.pk, user=cashier)
    Order.objects.filter(pk=second.pk).update(refunded_total=Decimal("5.00"))
    services.attach_customer(
        services.open_order(location_id=location.pk, user=cashier).pk, customer_id=customer.pk, user=cashier
    )

    summary = selectors.customer_summary(customer)

    assert (summary.orders_count, summary.total_spent, summary.average_ticket) == (
        2,
        Decimal("25.00"),
        Decimal("12.50"),
    )
    assert (summary.first_visit, summary.last_visit) == (first.paid_at, second.paid_at)


def test_the_summary_of_a_customer_without_orders_is_zero(location):
    summary = selectors.customer_summary(CustomerFactory())

    assert (summary.orders_count, summary.total_spent, summary.average_ticket, summary.last_visit) == (
        0,
        Decimal("0.00"),
        None,
        None,
    )


def test_search_finds_a_customer_by_phone_typed_with_spaces(cashier):
    wanted = CustomerFactory(phone="07700900123")
    CustomerFactory(phone="07800900123")

    assert selectors.search_customers("07700 900") == [wanted]


def test_search_finds_an_international_number_typed_without_its_plus():
    wanted = CustomerFactory(phone="+447700900123")

    assert selectors.search_customers("4477009") == [wanted]


def test_search_finds_a_customer_by_email_prefix_in_any_case():
    wanted = CustomerFactory(email="ada.lovelace@example.com")
    CustomerFactory(email="grace@example.com")

    assert selectors.search_customers("ADA.LOVE") == [wanted]
    assert selectors.search_customers("ada.lovelace@ex") == [wanted]


def test_search_finds_names_starting_with_the_query_in_alphabetical_order():
    CustomerFactory(name="Bob")
    adam, ada = CustomerFactory(name="adam Smith"), CustomerFactory(name="Ada Lovelace")

    assert selectors.search_customers("ad") == [ada, adam]


def test_search_finds_names_containing_the_query():
    wanted = CustomerFactory(name="Ada Lovelace")

    assert selectors.search_customers("love") == [wanted]


def test_a_scanned_card_code_finds_its_customer():
    wanted = CustomerFactory(card_code="2900000012345")
    CustomerFactory(phone="2900000012345")

    assert selectors.search_customers("2900000012345") == [wanted]


def test_search_never_finds_an_erased_customer(manager):
    customer = CustomerFactory(name="Erin", card_code="C-9")
    services.erase_customer(customer.pk, user=manager)

    assert selectors.search_customers("Erased") == []
    assert selectors.search_customers("C-9") == []


def test_order_customer_hides_an_erased_customer(location, cashier, manager):
    order = services.open_order(location_id=location.pk, user=cashier)
    customer = CustomerFactory()
    services.attach_customer(order.pk, customer_id=customer.pk, user=cashier)
    assert selectors.order_customer(Order.objects.get(pk=order.pk)) == customer

    services.erase_customer(customer.pk, user=manager)

    assert selectors.order_customer(Order.objects.get(pk=order.pk)) is None
