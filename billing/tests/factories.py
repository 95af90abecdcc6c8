import factory

from billing import models
from inventory.tests.factories import LocationFactory, UserFactory
from orders.models import Customer


class PrinterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Printer

    name = factory.Sequence(lambda n: f"Printer {n}")
    host = "127.0.0.1"


class RegisterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Register

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"Till {n + 1}")


class CashSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CashSession

    register = factory.SubFactory(RegisterFactory)
    opened_by = factory.SubFactory(UserFactory)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    phone = factory.Sequence(lambda n: f"+3361000{n:04d}")
