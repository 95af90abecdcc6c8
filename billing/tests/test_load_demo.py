from django.core.management import call_command

from inventory.models import Product
from orders.services import groups_for


def test_the_demo_burgers_offer_a_doneness_and_extras_one_using_an_ingredient(db):
    call_command("load_demo", verbosity=0)

    burger = Product.objects.get(name="Classic burger")
    groups = groups_for([burger])[burger.pk]

    assert [(g.name, g.min_choices, g.max_choices) for g in groups] == [("Doneness", 1, 1), ("Extras", 0, 3)]
    assert [o.ingredient.name for o in groups[1].choices if o.ingredient] == ["Cheddar slice"]


def test_the_demo_has_terminals_at_its_stores_for_the_manager_to_pair_this_browser_as(db):
    from staff.models import Terminal

    call_command("load_demo", verbosity=0)

    terminals = {(t.location.code, t.name): t for t in Terminal.objects.select_related("location", "register")}
    assert set(terminals) == {
        ("harbour", "Till 1"),
        ("harbour", "Till 2"),
        ("harbour", "Waiter tablet"),
        ("harbour", "Kitchen"),
        ("harbour", "Bar"),
        ("corner", "Till 1"),
    }
    assert terminals[("harbour", "Till 2")].register.name == "Till 2"
    assert terminals[("harbour", "Kitchen")].kitchen_stations == ["kitchen"]
    assert not any(t.is_paired for t in terminals.values())
