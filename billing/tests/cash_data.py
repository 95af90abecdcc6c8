"""Test data for cash sessions and reports: paid orders, payments, receipts and refunds written as rows.

Amounts follow the rules `orders.pricing` applies (tax per line, included in the price at a tax-inclusive store),
so the totals tests compare are sums a person can check by hand.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F
from django.utils import timezone

from billing.models import Payment, Receipt, Refund, RefundLine, Register
from inventory.tests.factories import ProductFactory, TaxRateFactory
from orders.models import Order, OrderLine

CENT = Decimal("0.01")


def tax_of(amount: Decimal, percent: Decimal) -> Decimal:
    return (amount * percent / (100 + percent)).quantize(CENT, rounding=ROUND_HALF_UP)


def product(price="10.00", *, cost="4.00", tax="20", tax_name=None, **kwargs):
    rate = TaxRateFactory(name=tax_name or f"VAT {tax}", percent=Decimal(tax))
    return ProductFactory(price=Decimal(price), cost=Decimal(cost), tax_rate=rate, **kwargs)


def order_with_lines(location, staff, items, *, status=Order.Status.OPEN, paid_at=None, voided=()):
    """items: [(product, qty)]; voided: [(product, qty, reason)] added as voided lines."""
    order = Order.objects.create(location=location, staff=staff, status=status, paid_at=paid_at)
    subtotal = tax = Decimal(0)
    for prod, qty in items:
        qty = Decimal(qty)
        total = (prod.price * qty).quantize(CENT)
        line_tax = tax_of(total, prod.tax_rate.percent)
        OrderLine.objects.create(
            order=order,
            product=prod,
            name=prod.name,
            unit_price=prod.price,
            tax_rate_name=prod.tax_rate.name,
            tax_rate_percent=prod.tax_rate.percent,
            prices_include_tax=True,
            unit_cost=prod.cost,
            quantity=qty,
            line_total=total,
            amount_due=total,
            tax_amount=line_tax,
            added_by=staff,
        )
        subtotal += total
        tax += line_tax
    for prod, qty, reason in voided:
        OrderLine.objects.create(
            order=order,
            product=prod,
            name=prod.name,
            unit_price=prod.price,
            tax_rate_name=prod.tax_rate.name,
            tax_rate_percent=prod.tax_rate.percent,
            unit_cost=prod.cost,
            quantity=Decimal(qty),
            status=OrderLine.Status.VOIDED,
            void_reason=reason,
            voided_by=staff,
            added_by=staff,
        )
    Order.objects.filter(pk=order.pk).update(subtotal=subtotal, tax_total=tax, total=subtotal)
    order.refresh_from_db()
    return order


def next_receipt_number(register: Register) -> int:
    Register.objects.filter(pk=register.pk).update(last_receipt_number=F("last_receipt_number") + 1)
    return Register.objects.get(pk=register.pk).last_receipt_number


def sell(session, staff, items, *, tender="cash", tendered=None, tip="0", paid_at=None, voided=()):
    """A paid order: lines, one payment of `tender`, a sale receipt from the register's counter."""
    paid_at = paid_at or timezone.now()
    order = order_with_lines(
        session.register.location, staff, items, status=Order.Status.PAID, paid_at=paid_at, voided=voided
    )
    tip = Decimal(tip)
    tendered = Decimal(tendered) if tendered is not None else order.total + tip
    change = tendered - order.total - tip if tender == "cash" else Decimal(0)
    Order.objects.filter(pk=order.pk).update(paid_total=order.total)
    payment = Payment.objects.create(
        order=order,
        session=session,
        tender=tender,
        amount=order.total,
        tendered=tendered,
        change=change,
        tip=tip,
        created_by=staff,
    )
    Receipt.objects.create(
        register=session.register, number=next_receipt_number(session.register), order=order, session=session
    )
    order.refresh_from_db()
    return order, payment


def refund_line(session, staff, approver, order, *, qty="1", tender="cash", reason="Wrong item"):
    """Refund `qty` of the order's first active line in `session`, with its refund receipt."""
    line = order.lines.filter(status=OrderLine.Status.ACTIVE).first()
    qty = Decimal(qty)
    amount = (line.unit_price * qty).quantize(CENT)
    tax = tax_of(amount, line.tax_rate_percent)
    refund = Refund.objects.create(
        order=order,
        session=session,
        tender=tender,
        amount=amount,
        tax_amount=tax,
        reason=reason,
        created_by=staff,
        approved_by=approver,
    )
    RefundLine.objects.create(refund=refund, order_line=line, quantity=qty, amount=amount, tax_amount=tax)
    OrderLine.objects.filter(pk=line.pk).update(quantity_refunded=F("quantity_refunded") + qty)
    Order.objects.filter(pk=order.pk).update(refunded_total=F("refunded_total") + amount)
    Receipt.objects.create(
        register=session.register,
        number=next_receipt_number(session.register),
        kind=Receipt.Kind.REFUND,
        order=order,
        refund=refund,
        session=session,
    )
    return refund
