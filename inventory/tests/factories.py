from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User

from inventory import models


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    password = factory.django.Password("secret-pass-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
            if extracted == "Manager":
                self.is_staff = True
                self.save(update_fields=["is_staff"])


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


class StaffProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.StaffProfile
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)
