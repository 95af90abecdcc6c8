"""Modifier groups: choosing options (min/max), their price and snapshot, the ingredients they use, merging lines."""

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from billing.services import RefundItem, refund, sell, take_payment
from core.errors import Conflict, DomainError
from inventory.models import StockLevel, StockMove
from inventory.tests.factories import CategoryFactory
from orders import services
from orders.models import OrderLine
from orders.pricing import TenderInput
from orders.tests.factories import ModifierGroupFactory, ModifierOptionFactory
from orders.tests.helpers import dish_with_groups, line, open_register, stocked_product
from orders.tests.pos_helpers import terminal

pytestmark = pytest.mark.django_db


@pytest.fixture
def dish(location):
    return dish_with_groups(location)


def open_with(location, user, *lines):
    return services.open_order(location_id=location.pk, user=user, lines=list(lines))


def on_hand(product, location):
    return StockLevel.objects.get(product=product, location=location).on_hand


# --- Choosing ---------------------------------------------------------------------------------------------------


def test_a_dish_with_a_required_group_cannot_be_added_without_a_choice(location, waiter, dish):
    product, _options, _ = dish
    order = open_with(location, waiter)

    with pytest.raises(DomainError) as error:
        services.add_lines(order.pk, user=waiter, lines=[line(product)])

    assert error.value.code == "modifier_required"
    assert "Doneness" in error.value.message
    assert list(error.value.fields) == ["lines[0].modifiers"]
    assert not OrderLine.objects.filter(order=order).exists()


def test_more_choices_than_a_group_allows_are_refused(location, waiter, dish):
    product, o, _ = dish
    order = open_with(location, waiter)
    too_many = [o["Rare"].pk, o["Bacon"].pk, o["Cheese"].pk, o["Chips"].pk, o["Egg"].pk]

    with pytest.raises(DomainError) as error:
        services.add_lines(order.pk, user=waiter, lines=[line(product, modifiers=too_many)])
    with pytest.raises(DomainError) as two_doneness:
        services.add_lines(order.pk, user=waiter, lines=[line(product, modifiers=[o["Rare"].pk, o["Medium"].pk])])

    assert (error.value.code, list(error.value.fields)) == ("modifier_excess", ["lines[0].modifiers"])
    assert two_doneness.value.code == "modifier_excess"
    assert not OrderLine.objects.filter(order=order).exists()


def test_an_option_of_another_product_or_an_inactive_one_is_refused(location, waiter, dish):
    product, options, _ = dish
    other = ModifierOptionFactory(name="Gluten free")
    options["Cheese"].active = False
    options["Cheese"].save()
    order = open_with(location, waiter)

    for foreign in (other, options["Cheese"]):
        with pytest.raises(DomainError) as error:
            services.add_lines(order.pk, user=waiter, lines=[line(product, modifiers=[options["Rare"].pk, foreign.pk])])
        assert list(error.value.fields) == ["lines[0].modifiers"]


def test_chosen_options_are_priced_and_kept_as_they_were_sold(location, waiter, dish):
    product, o, bacon = dish

    order = open_with(location, waiter, line(product, "2", modifiers=[o["Bacon"].pk, o["Medium"].pk]))
    o["Bacon"].name, o["Bacon"].price_delta = "Streaky bacon", Decimal("9.00")
    o["Bacon"].save()

    saved = order.lines.get()
    assert order.total == Decimal("27.00")  # (12.00 + 1.50) × 2
    assert saved.modifiers == [
        {"group": "Doneness", "option": o["Medium"].pk, "name": "Medium", "price": "0.00"},
        {
            "group": "Extras",
            "option": o["Bacon"].pk,
            "name": "Bacon",
            "price": "1.50",
            "ingredient": bacon.pk,
            "ingredient_quantity": "0.050",
        },
    ]


def test_a_group_attached_to_a_category_applies_to_its_products(location, waiter):
    category = CategoryFactory()
    first = stocked_product(location, category=category)
    group = ModifierGroupFactory(name="Milk", min_choices=1, max_choices=1)
    group.categories.add(category)
    oat = ModifierOptionFactory(group=group, name="Oat", price_delta=Decimal("0.40"))

    with pytest.raises(DomainError):
        open_with(location, waiter, line(first))
    order = open_with(location, waiter, line(first, modifiers=[oat.pk]))

    assert order.total == Decimal("10.40")


def test_changing_an_unsent_lines_choices_reprices_it_and_checks_the_groups(location, waiter, dish):
    product, o, _ = dish
    order = open_with(location, waiter, line(product, modifiers=[o["Rare"].pk]))
    saved = order.lines.get()

    services.change_line(saved.pk, user=waiter, modifiers=[o["Medium"].pk, o["Chips"].pk])
    with pytest.raises(DomainError) as error:
        services.change_line(saved.pk, user=waiter, modifiers=[o["Chips"].pk])

    saved.refresh_from_db()
    order.refresh_from_db()
    assert [m["name"] for m in saved.modifiers] == ["Medium", "Chips"]
    assert order.total == Decimal("14.00")
    assert (error.value.code, list(error.value.fields)) == ("modifier_required", ["modifiers"])


def test_a_sent_lines_choices_cannot_be_changed(location, waiter, dish):
    product, o, _ = dish
    order = open_with(location, waiter, line(product, modifiers=[o["Rare"].pk]))
    services.send_to_kitchen(order.pk, user=waiter)

    with pytest.raises(Conflict):
        services.change_line(order.lines.get().pk, user=waiter, modifiers=[o["Medium"].pk])


# --- Stock --------------------------------------------------------------------------------------------------------


def test_selling_an_extra_takes_its_ingredient_out_of_stock_and_a_refund_puts_it_back(location, cashier, manager, dish):
    product, o, bacon = dish
    till = open_register(location)
    order = open_with(location, cashier, line(product, "2", modifiers=[o["Rare"].pk, o["Bacon"].pk]))

    take_payment(order_id=order.pk, register_id=till.pk, tenders=[TenderInput("card")], user=cashier)

    sale_move = StockMove.objects.get(product=bacon, reason=StockMove.Reason.SALE)
    assert (sale_move.delta, sale_move.reference) == (Decimal("-0.100"), str(order.uuid))
    assert on_hand(bacon, location) == Decimal("4.900")

    sold = order.lines.get()
    # A menu item is wasted by default (it was cooked); sent back untouched, the cashier puts it back to stock.
    refund(
        order_id=order.pk,
        register_id=till.pk,
        items=[RefundItem(sold.pk, Decimal("1"), restock=True)],
        reason="x",
        user=manager,
    )

    assert on_hand(bacon, location) == Decimal("4.950")


def test_a_counter_sale_takes_the_ingredient_of_its_extras_too(location, cashier, dish):
    product, o, bacon = dish
    till = open_register(location)

    sell(
        register_id=till.pk,
        user=cashier,
        lines=[line(product, modifiers=[o["Medium"].pk, o["Bacon"].pk])],
        tenders=[TenderInput("card")],
    )

    assert on_hand(bacon, location) == Decimal("4.950")


# --- Merging ------------------------------------------------------------------------------------------------------


def test_adding_the_same_product_again_with_merge_adds_one_to_its_line(location, waiter):
    product = stocked_product(location, price="2.50")
    order = open_with(location, waiter)

    services.add_lines(order.pk, user=waiter, lines=[line(product)], merge=True)
    services.add_lines(order.pk, user=waiter, lines=[line(product)], merge=True)

    order.refresh_from_db()
    [only] = order.lines.all()
    assert only.quantity == Decimal("2")
    assert (only.line_total, order.total) == (Decimal("5.00"), Decimal("5.00"))


def test_a_line_with_other_choices_or_a_note_or_already_sent_is_not_merged(location, waiter, dish):
    product, o, _ = dish
    order = open_with(location, waiter, line(product, modifiers=[o["Rare"].pk]))

    services.add_lines(order.pk, user=waiter, lines=[line(product, modifiers=[o["Medium"].pk])], merge=True)
    services.add_lines(
        order.pk, user=waiter, lines=[line(product, modifiers=[o["Rare"].pk], note="no salt")], merge=True
    )
    services.add_lines(order.pk, user=waiter, lines=[line(product, modifiers=[o["Rare"].pk])], merge=True)
    services.send_to_kitchen(order.pk, user=waiter)
    services.add_lines(order.pk, user=waiter, lines=[line(product, modifiers=[o["Rare"].pk])], merge=True)

    quantities = [(m.modifiers[0]["name"], m.note, m.quantity, bool(m.sent_at)) for m in order.lines.order_by("id")]
    assert quantities == [
        ("Rare", "", Decimal("2"), True),
        ("Medium", "", Decimal("1"), True),
        ("Rare", "no salt", Decimal("1"), True),
        ("Rare", "", Decimal("1"), False),
    ]


def test_without_merge_the_same_product_makes_a_new_line(location, waiter):
    product = stocked_product(location)
    order = open_with(location, waiter, line(product))

    services.add_lines(order.pk, user=waiter, lines=[line(product)])

    assert order.lines.count() == 2


# --- API ------------------------------------------------------------------------------------------------------------


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_refuses_a_missing_choice_with_400_naming_the_modifiers_field(location, waiter, dish):
    product, _o, _ = dish
    client = api(waiter)

    response = client.post(
        "/api/v1/orders/", {"location": location.pk, "lines": [{"product": product.pk}]}, format="json"
    )

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "modifier_required"
    assert list(body["fields"]) == ["lines[0].modifiers"]


def test_the_api_adds_a_line_with_its_options_and_merges_when_asked(location, waiter, dish):
    product, o, _ = dish
    client = api(waiter)
    chosen = {"product": product.pk, "modifiers": [o["Rare"].pk, o["Cheese"].pk]}
    created = client.post("/api/v1/orders/", {"location": location.pk, "lines": [chosen]}, format="json").json()
    url = f"/api/v1/orders/{created['uuid']}/lines/"

    merged = client.post(url, {"lines": [chosen], "merge": True}, format="json")
    separate = client.post(url, {"lines": [chosen]}, format="json")

    assert merged.status_code == 201, merged.json()
    assert [line["quantity"] for line in merged.json()["lines"]] == ["2.000"]
    assert [line["quantity"] for line in separate.json()["lines"]] == ["2.000", "1.000"]
    shown = separate.json()["lines"][0]["modifiers"]
    assert [(m["group"], m["option"], m["name"], m["price"]) for m in shown] == [
        ("Doneness", o["Rare"].pk, "Rare", "0.00"),
        ("Extras", o["Cheese"].pk, "Cheese", "1.00"),
    ]
    assert separate.json()["total"] == "39.00"


def test_the_openapi_schema_documents_modifiers_as_option_ids(manager):
    client = APIClient()
    client.force_login(manager)

    schema = client.get("/api/schema/", {"format": "json"}).json()

    new_line = schema["components"]["schemas"]["NewLineRequest"]["properties"]["modifiers"]
    assert new_line["type"] == "array" and new_line["items"]["type"] == "integer"
    assert "merge" in schema["components"]["schemas"]["LinesRequest"]["properties"]
    shown = schema["components"]["schemas"]["OrderLine"]["properties"]["modifiers"]
    assert shown["items"]["$ref"].endswith("/ChosenModifier")


# --- POS screen ---------------------------------------------------------------------------------------------------


def _pos(user, location):
    client = terminal(user)
    order = open_with(location, user)
    return client, reverse("orders:add_line", args=[order.uuid]), order


def test_tapping_a_dish_with_groups_opens_the_chooser_instead_of_adding_it(location, waiter, dish):
    product, _o, _ = dish
    client, url, order = _pos(waiter, location)

    response = client.post(url, {"product": product.pk}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Retarget"] == "#chooser"
    page = response.content.decode()
    assert "Doneness" in page and "choose 1" in page and "up to 3" in page
    assert not order.lines.exists()


def test_the_chooser_blocks_add_until_the_required_group_is_chosen(location, waiter, dish):
    product, o, _ = dish
    client, url, order = _pos(waiter, location)

    refused = client.post(
        url, {"product": product.pk, "chooser": "1", "option": [o["Bacon"].pk]}, HTTP_HX_REQUEST="true"
    )
    added = client.post(
        url, {"product": product.pk, "chooser": "1", "option": [o["Bacon"].pk, o["Rare"].pk]}, HTTP_HX_REQUEST="true"
    )

    assert refused.status_code == 400
    assert refused["HX-Retarget"] == "#chooser"
    assert "choose one option for Doneness" in refused.content.decode()
    assert added.status_code == 200
    assert "Rare, Bacon +1.50" in added.content.decode()
    assert [m["name"] for m in order.lines.get().modifiers] == ["Rare", "Bacon"]


def test_scanning_a_product_twice_adds_one_to_its_line(location, waiter):
    stocked_product(location, barcode="4006381333931", price="1.20")
    client, url, order = _pos(waiter, location)

    client.post(url, {"code": "4006381333931"}, HTTP_HX_REQUEST="true")
    client.post(url, {"code": "4006381333931"}, HTTP_HX_REQUEST="true")

    [only] = order.lines.all()
    assert only.quantity == Decimal("2")


def test_a_lines_choices_are_changed_on_the_pos_screen(location, waiter, dish):
    product, o, _ = dish
    client, _url, order = _pos(waiter, location)
    services.add_lines(order.pk, user=waiter, lines=[line(product, modifiers=[o["Rare"].pk])])
    saved = order.lines.get()
    edit = reverse("orders:change_line", args=[order.uuid, saved.pk])

    editor = client.get(edit, HTTP_HX_REQUEST="true").content.decode()
    response = client.post(
        edit, {"quantity": "1", "options_shown": "1", "option": [o["Medium"].pk, o["Egg"].pk]}, HTTP_HX_REQUEST="true"
    )

    assert "Doneness" in editor and f'value="{o["Rare"].pk}" id="{saved.pk}-{o["Rare"].pk}" checked' in editor
    assert response.status_code == 200
    saved.refresh_from_db()
    assert [m["name"] for m in saved.modifiers] == ["Medium", "Egg"]


# --- Admin ----------------------------------------------------------------------------------------------------------


def _admin_form(product, **fields):
    data = {
        "name": "Milk",
        "min_choices": "1",
        "max_choices": "1",
        "products": [str(product.pk)],
        "sort_order": "0",
        "active": "on",
        "options-TOTAL_FORMS": "2",
        "options-INITIAL_FORMS": "0",
        "options-MIN_NUM_FORMS": "0",
        "options-MAX_NUM_FORMS": "1000",
        "options-0-name": "Oat",
        "options-0-price_delta": "0.40",
        "options-0-ingredient_quantity": "0",
        "options-0-sort_order": "0",
        "options-0-active": "on",
        "options-1-name": "Whole",
        "options-1-price_delta": "0",
        "options-1-ingredient_quantity": "0",
        "options-1-sort_order": "1",
        "options-1-active": "on",
    }
    data.update(fields)
    return data


def test_a_manager_creates_a_group_with_its_options_inline_in_the_admin(manager, location):
    from django.test import Client

    from orders.models import ModifierGroup

    manager.is_superuser = True
    manager.save()
    client = Client()
    client.force_login(manager)
    product = stocked_product(location)

    refused = client.post("/admin/orders/modifiergroup/add/", _admin_form(product, min_choices="2"))
    created = client.post("/admin/orders/modifiergroup/add/", _admin_form(product))

    assert refused.status_code == 200  # the form again, with the error: min above max
    assert created.status_code == 302, created.content.decode()[:2000]
    group = ModifierGroup.objects.get()
    assert [(o.name, o.price_delta) for o in group.options.all()] == [("Oat", Decimal("0.40")), ("Whole", 0)]
    assert list(services.groups_for([product])[product.pk]) == [group]
