"""Every write to a customer: create, edit, consent, attach to and detach from an order, merge, export and erase.

Screens, the API and the admin all call these. Phone and e-mail are cleaned by core.inputs (one normal form), so a
duplicate is refused however it is typed: DomainError `duplicate_customer` (409) naming the customer who already
has it. Merging, exporting and erasing are a manager's (the `orders.merge_customer`, `export_customer` and
`erase_customer` permissions, staff/roles.py) and are audited; audit rows carry ids, never personal data.

A customer can be attached to an order while it is open, and after payment until the order's cash session is
closed (the Z): after that the day's figures are final. Attaching or detaching after payment is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import Conflict, DomainError, NotFound, PermissionDenied
from core.inputs import clean_email, clean_phone, clean_text
from orders.models import Customer, Order
from orders.services.access import lock_order
from orders.signals import customer_changed_after_payment, customers_merged
from staff.audit import audit

NAME_MAX = 120
COMPANY_MAX = 120
TAX_ID_MAX = 40
CARD_CODE_MAX = 64
NOTES_MAX = 2000
ATTACHABLE_AFTER_PAYMENT = (Order.Status.PAID, Order.Status.REFUNDED)


@dataclass(frozen=True)
class CustomerDetails:
    """What a person types about a customer, cleaned (see clean_details)."""

    name: str
    phone: str = ""
    email: str = ""
    company: str = ""
    tax_id: str = ""
    card_code: str | None = None
    notes: str = ""


def clean_details(
    *,
    name,
    phone=None,
    email=None,
    company=None,
    tax_id=None,
    card_code=None,
    notes=None,
) -> CustomerDetails:
    """Clean what was typed (DomainError naming the field otherwise). A customer has a name and a phone or an
    e-mail, so that they can be found again."""
    details = CustomerDetails(
        name=clean_text(name, "name", max_length=NAME_MAX, required=True),
        phone=clean_phone(phone),
        email=clean_email(email),
        company=clean_text(company, "company", max_length=COMPANY_MAX),
        tax_id=clean_text(tax_id, "tax_id", max_length=TAX_ID_MAX),
        card_code=clean_text(card_code, "card_code", max_length=CARD_CODE_MAX) or None,
        notes=clean_text(notes, "notes", max_length=NOTES_MAX),
    )
    if not details.phone and not details.email:
        message = "Give a phone number or an e-mail address."
        raise DomainError(message, code="required", fields={"phone": [message], "email": [message]})
    return details


def duplicate_of(details: CustomerDetails, *, exclude_id: int | None = None) -> None:
    """Raise `duplicate_customer` (409) when another unmerged customer has this phone, e-mail or card code."""
    checks = [("phone", details.phone), ("email", details.email), ("card_code", details.card_code)]
    for field, value in checks:
        if not value:
            continue
        others = Customer.objects.filter(**{field: value})
        if field != "card_code":
            others = others.filter(merged_into__isnull=True)
        if exclude_id is not None:
            others = others.exclude(pk=exclude_id)
        existing = others.order_by("pk").first()
        if existing is not None:
            label = {"phone": "phone number", "email": "e-mail address", "card_code": "card code"}[field]
            message = f"{existing.name} (customer #{existing.pk}) already has this {label}."
            raise DomainError(message, code="duplicate_customer", status=409, fields={field: [message]})


def _save(customer: Customer, details: CustomerDetails) -> Customer:
    """Save under the unique constraints: a duplicate written by someone else in the meantime is refused the same
    way as one found before (the constraint is the last word)."""
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        duplicate_of(details, exclude_id=customer.pk)
        raise
    return customer


def _consent(customer: Customer, consent: bool | None) -> None:
    """Set marketing consent, dated when it is given, the date cleared when it is withdrawn."""
    if consent is None or bool(consent) == customer.marketing_consent:
        return
    customer.marketing_consent = bool(consent)
    customer.marketing_consent_at = timezone.now() if consent else None


def _check_may(user, perm: str, message: str) -> None:
    if not user or not user.is_authenticated or not user.has_perm(perm):
        raise PermissionDenied(message)


@transaction.atomic
def create_customer(*, user, marketing_consent: bool = False, **typed) -> Customer:
    """Create a customer from what was typed (clean_details's fields). Raises DomainError (invalid input),
    `duplicate_customer` (409) or PermissionDenied (no `orders.add_customer`)."""
    _check_may(user, "orders.add_customer", "Your role may not add customers.")
    details = clean_details(**typed)
    duplicate_of(details)
    customer = Customer(**details.__dict__)
    _consent(customer, marketing_consent)
    return _save(customer, details)


def _lock_customer(customer_id: int) -> Customer:
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("Unknown customer.")
    return customer


def _check_live(customer: Customer) -> None:
    if customer.erased_at is not None:
        raise Conflict("This customer was erased.", code="customer_erased")
    if customer.merged_into_id is not None:
        raise Conflict(f"This customer was merged into customer #{customer.merged_into_id}.", code="customer_merged")


@transaction.atomic
def update_customer(customer_id: int, *, user, marketing_consent: bool | None = None, **typed) -> Customer:
    """Change a customer's details (every field of clean_details given) and, when not None, their consent.
    Raises NotFound, Conflict (`customer_erased`, `customer_merged`), `duplicate_customer` or PermissionDenied."""
    _check_may(user, "orders.change_customer", "Your role may not change customers.")
    customer = _lock_customer(customer_id)
    _check_live(customer)
    details = clean_details(**typed)
    duplicate_of(details, exclude_id=customer.pk)
    for field, value in details.__dict__.items():
        setattr(customer, field, value)
    _consent(customer, marketing_consent)
    return _save(customer, details)


@transaction.atomic
def set_marketing_consent(customer_id: int, *, consent: bool, user) -> Customer:
    """Record that the customer gave (dated now) or withdrew (date cleared) marketing consent."""
    _check_may(user, "orders.view_customer", "Your role may not see customers.")
    customer = _lock_customer(customer_id)
    _check_live(customer)
    _consent(customer, consent)
    customer.save(update_fields=["marketing_consent", "marketing_consent_at", "updated_at"])
    return customer


# --- Orders ---------------------------------------------------------------------------------------------------------


def order_is_settled(order: Order) -> bool:
    """Whether a cash session that took a payment or issued a receipt for `order` is closed (its Z is printed).
    Reads billing's rows through the order's reverse relations (billing stands above orders)."""
    closed = "closed"
    return (
        Order.objects.filter(pk=order.pk)
        .filter(Q(payments__session__status=closed) | Q(receipts__session__status=closed))
        .exists()
    )


def _lock_for_customer(order_id: int, user) -> tuple[Order, bool]:
    """Lock the order; return it and whether it is already paid. Refuses voided and merged orders, and paid ones
    whose cash session is closed (`session_closed`)."""
    order = lock_order(order_id, user, editable=False)
    if order.is_editable:
        return order, False
    if order.status not in ATTACHABLE_AFTER_PAYMENT:
        raise Conflict(f"This order is {order.get_status_display().lower()}.", code="not_open")
    if order_is_settled(order):
        raise Conflict(
            "This order's cash session is closed (the Z is done): its customer can no longer change.",
            code="session_closed",
        )
    return order, True


@transaction.atomic
def attach_customer(order_id: int, *, customer_id: int, user) -> Order:
    """Attach a customer to an order: while it is open or held, or after payment until its cash session is closed
    (audited then). A merged customer's survivor is attached in their place. Raises NotFound, PermissionDenied,
    Conflict (`not_open`, `session_closed`, `customer_erased`)."""
    _check_may(user, "orders.view_customer", "Your role may not see customers.")
    order, paid = _lock_for_customer(order_id, user)
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("Unknown customer.", fields={"customer": ["Unknown customer."]})
    seen = set()
    while customer.merged_into_id is not None and customer.pk not in seen:
        seen.add(customer.pk)
        customer = Customer.objects.get(pk=customer.merged_into_id)
    _check_live(customer)
    if order.customer_id == customer.pk:
        return order
    previous = order.customer_id
    order.customer = customer
    order.save(update_fields=["customer"])
    if paid:
        audit(
            "customer.attached_after_payment",
            actor=user,
            obj=order,
            location_id=order.location_id,
            customer=customer.pk,
            previous_customer=previous,
        )
        customer_changed_after_payment.send(sender=Order, order=order, previous_customer=previous, user=user)
    return order


@transaction.atomic
def detach_customer(order_id: int, *, user) -> Order:
    """Take the customer off an order, on the same terms as attach_customer (audited after payment)."""
    _check_may(user, "orders.view_customer", "Your role may not see customers.")
    order, paid = _lock_for_customer(order_id, user)
    previous = order.customer_id
    if previous is None:
        return order
    order.customer = None
    order.save(update_fields=["customer"])
    if paid:
        audit(
            "customer.detached_after_payment",
            actor=user,
            obj=order,
            location_id=order.location_id,
            previous_customer=previous,
        )
        customer_changed_after_payment.send(sender=Order, order=order, previous_customer=previous, user=user)
    return order


# --- A manager's: merge, export, erase --------------------------------------------------------------------------


@transaction.atomic
def merge_customers(*, source_id: int, into_id: int, user) -> Customer:
    """Merge the customer `source_id` into `into_id` (the survivor): the source's orders move to the survivor,
    the source points at it (`merged_into`) and is no longer found; contact details, card code, company and tax
    id the survivor lacks are taken over, and consent is kept only if both gave it. Audited.

    Raises PermissionDenied (not a manager), NotFound, DomainError `same_customer`, Conflict `customer_erased` /
    `customer_merged`."""
    _check_may(user, "orders.merge_customer", "Only a manager may merge customers.")
    if source_id == into_id:
        raise DomainError("A customer cannot be merged into themselves.", code="same_customer")
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[source_id, into_id]).order_by("pk")}
    if len(locked) != 2:
        raise NotFound("Unknown customer.")
    source, survivor = locked[source_id], locked[into_id]
    _check_live(source)
    _check_live(survivor)
    moved = Order.objects.filter(customer=source).update(customer=survivor)
    taken = {
        field: getattr(source, field)
        for field in ("phone", "email", "card_code", "company", "tax_id")
        if getattr(source, field) and not getattr(survivor, field)
    }
    source.merged_into = survivor
    if "card_code" in taken:
        source.card_code = None
    source.save(update_fields=["merged_into", "card_code", "updated_at"])
    for field, value in taken.items():
        setattr(survivor, field, value)
    if source.notes and source.notes not in survivor.notes:
        survivor.notes = "\n".join(part for part in (survivor.notes, source.notes) if part)[:NOTES_MAX]
    if survivor.marketing_consent and not source.marketing_consent:
        _consent(survivor, False)
    survivor.save()
    audit(
        "customer.merged",
        actor=user,
        obj=survivor,
        merged=source.pk,
        orders_moved=moved,
        fields_taken=sorted(taken),
    )
    customers_merged.send(sender=Customer, source_id=source.pk, into_id=survivor.pk, user=user)
    return survivor


@transaction.atomic
def export_customer(customer_id: int, *, user) -> dict:
    """One customer's data as JSON-ready values: their details, consent, lifetime figures and every order of
    theirs with its lines and payments' totals (the subject's copy under data-protection law). Audited."""
    from orders.selectors import customer_export

    _check_may(user, "orders.export_customer", "Only a manager may export a customer's data.")
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("Unknown customer.")
    data = customer_export(customer)
    audit("customer.exported", actor=user, obj=customer, orders=len(data["orders"]))
    return data


ERASED_NAME = "Erased customer #{pk}"


@transaction.atomic
def erase_customer(customer_id: int, *, user) -> Customer:
    """Erase a customer's personal data, irreversibly: the name becomes "Erased customer #id"; phone, e-mail,
    company, tax id, notes and card code are blanked; consent is withdrawn. Their orders stay attached with their
    totals unchanged (the books must add up). Audited (without the erased data).

    Raises PermissionDenied (not a manager), NotFound, Conflict `customer_erased` (already done)."""
    _check_may(user, "orders.erase_customer", "Only a manager may erase a customer.")
    customer = _lock_customer(customer_id)
    if customer.erased_at is not None:
        raise Conflict("This customer was erased already.", code="customer_erased")
    _blank(customer)
    # The records merged into this one are the same person's.
    merged = list(Customer.objects.select_for_update().filter(merged_into=customer, erased_at__isnull=True))
    for record in merged:
        _blank(record)
    audit(
        "customer.erased",
        actor=user,
        obj=customer,
        orders=Order.objects.filter(customer=customer).count(),
        merged_records=[record.pk for record in merged],
    )
    return customer


def _blank(customer: Customer) -> None:
    customer.name = ERASED_NAME.format(pk=customer.pk)
    customer.phone = customer.email = customer.company = customer.tax_id = customer.notes = ""
    customer.card_code = None
    customer.marketing_consent = False
    customer.marketing_consent_at = None
    customer.erased_at = timezone.now()
    customer.save()
