from decimal import Decimal

import factory

from inventory.tests.factories import LocationFactory, UserFactory
from orders import models


class TableFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Table

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: str(n + 1))


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Order

    location = factory.SubFactory(LocationFactory)
    staff = factory.SubFactory(UserFactory)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory("inventory.tests.factories.ProductFactory")
    name = factory.LazyAttribute(lambda o: o.product.name)
    unit_price = factory.LazyAttribute(lambda o: o.product.price)
    tax_rate_name = factory.LazyAttribute(lambda o: o.product.tax_rate.name)
    tax_rate_percent = factory.LazyAttribute(lambda o: o.product.tax_rate.percent)
    quantity = Decimal("1")
    added_by = factory.LazyAttribute(lambda o: o.order.staff)


class ModifierGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ModifierGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class ModifierOptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ModifierOption

    group = factory.SubFactory(ModifierGroupFactory)
    name = factory.Sequence(lambda n: f"Option {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    """A customer as orders.services.create_customer leaves one: phone digits only, e-mail lower-cased."""

    class Meta:
        model = models.Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    phone = factory.Sequence(lambda n: f"07700{n:06d}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
