from django.core.management import call_command

from inventory.models import Product
from orders.services import groups_for


def test_the_demo_burgers_offer_a_doneness_and_extras_one_using_an_ingredient(db):
    call_command("load_demo", verbosity=0)

    burger = Product.objects.get(name="Classic burger")
    groups = groups_for([burger])[burger.pk]

    assert [(g.name, g.min_choices, g.max_choices) for g in groups] == [("Doneness", 1, 1), ("Extras", 0, 3)]
    assert [o.ingredient.name for o in groups[1].choices if o.ingredient] == ["Cheddar slice"]
