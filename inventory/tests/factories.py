from decimal import Decimal

import factory

from inventory import models
from staff.tests.factories import StaffProfileFactory, UserFactory  # noqa: F401 (their old home)


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Location
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"store-{n}")
    name = factory.Sequence(lambda n: f"Store {n}")


class TaxRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TaxRate
        django_get_or_create = ("name",)

    name = "Standard"
    percent = Decimal("20.000")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Category

    name = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Product

    sku = factory.Sequence(lambda n: f"SKU{n:06d}")
    barcode = factory.Sequence(lambda n: f"200{n:010d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    price = Decimal("10.00")
    cost = Decimal("4.00")
    tax_rate = factory.SubFactory(TaxRateFactory)
    category = factory.SubFactory(CategoryFactory)
