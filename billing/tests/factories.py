from decimal import Decimal

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


class GiftCardFactory(factory.django.DjangoModelFactory):
    """A card issued with `balance` (and its `issue` movement, so that its ledger adds up)."""

    class Meta:
        model = models.GiftCard
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"TEST{n:012d}")
    issued_at = factory.SubFactory(LocationFactory)
    initial_value = factory.SelfAttribute("balance")
    balance = Decimal("50.00")
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def issue_movement(obj, create, extracted, **kwargs):
        if create:
            models.GiftCardMovement.objects.create(
                card=obj,
                kind=models.GiftCardMovement.Kind.ISSUE,
                amount=obj.balance,
                balance_after=obj.balance,
                location=obj.issued_at,
                user=obj.created_by,
            )


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Guest {n}")
    phone = factory.Sequence(lambda n: f"+3361000{n:04d}")
    email = factory.Sequence(lambda n: f"guest{n}@example.com")
