"""What an order costs: the one pricing module behind screens, receipts, reports and the API (DESIGN.md §3.1).

Pure functions over Decimals, no database. Every amount is quantised to the currency's exponent with ROUND_HALF_UP.

How an order is priced, in this order:

1. A line's gross is (unit price + its modifiers' prices) × quantity.
2. The line's own discount (percent of gross, or an amount, never more than the gross) gives its ``line_total``.
3. The order discount (percent of, or an amount off, the sum of line totals) is shared over the lines in proportion
   to their line totals (largest remainder, so the shares add up to the discount exactly). What is left is the
   line's ``net``.
4. Tax is computed per line on its net: extracted from it when shelf prices include tax, added on top otherwise.
   The order's tax is the sum of its lines' tax, and so is each rate's tax.
5. The service charge is a percent of the order's lines, taken of their amounts net of tax (``before_tax``, the
   default) or with their tax (``after_tax``), as the store's ``service_charge_base`` says; it carries no tax and
   is shared over the lines in proportion to that base, so that every line knows what the guest paid for it
   (``amount_due``), which is what a refund of that line gives back.
6. ``total`` is the sum of the lines' ``amount_due``.

Cash is settled to the store's rounding step (0.05, 100); the difference is recorded on the cash payment, never in
the order's total. Tips are paid on top of a tender and are not part of the order's total either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from core.money import ZERO, currency_exponent, quantize

HUNDRED = Decimal(100)
PERCENT = "percent"
AMOUNT = "amount"
BEFORE_TAX = "before_tax"  # the service charge is a percent of the lines net of tax
AFTER_TAX = "after_tax"  # ... of the lines with their tax
SERVICE_CHARGE_BASES = (BEFORE_TAX, AFTER_TAX)


@dataclass(frozen=True)
class LineInput:
    unit_price: Decimal
    quantity: Decimal
    tax_percent: Decimal
    modifiers_price: Decimal = ZERO  # per unit, added to the unit price
    discount_kind: str = ""  # "", "percent" or "amount"
    discount_value: Decimal = ZERO


@dataclass(frozen=True)
class LinePrice:
    gross: Decimal
    discount: Decimal  # the line's own discount
    line_total: Decimal  # gross - discount
    order_discount: Decimal  # this line's share of the order discount
    net: Decimal  # line_total - order_discount; tax included when prices include tax
    tax: Decimal
    service_charge: Decimal  # this line's share of the service charge
    amount_due: Decimal  # what the guest pays for this line


@dataclass(frozen=True)
class OrderPrice:
    lines: tuple[LinePrice, ...]
    subtotal: Decimal  # sum of gross
    discount_total: Decimal  # line discounts + order discount
    service_charge: Decimal
    tax_total: Decimal
    total: Decimal
    tax_by_rate: dict[Decimal, Decimal] = field(default_factory=dict)


def discount_amount(base: Decimal, kind: str, value: Decimal) -> Decimal:
    """A discount off `base`, never negative and never more than `base`."""
    if not kind or value <= 0 or base <= 0:
        return ZERO
    if kind == PERCENT:
        amount = quantize(base * min(value, HUNDRED) / HUNDRED)
    elif kind == AMOUNT:
        amount = quantize(value)
    else:
        raise ValueError(f"Unknown discount kind {kind!r}.")
    return min(amount, base)


def line_tax(net: Decimal, percent: Decimal, *, prices_include_tax: bool) -> Decimal:
    """The tax in (inclusive) or on top of (exclusive) a line's net amount."""
    if not percent:
        return ZERO
    if prices_include_tax:
        return quantize(net * percent / (HUNDRED + percent))
    return quantize(net * percent / HUNDRED)


def allocate(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Share `amount` over `weights` in proportion, in the currency's smallest units, adding up exactly.

    Largest remainder: each share is first rounded down; the units left over go to the largest remainders (ties to
    the earliest). With no positive weight nothing can be shared, and `amount` must be zero.
    """
    unit = currency_exponent()
    amount = quantize(amount)
    total_weight = sum((w for w in weights if w > 0), ZERO)
    if not weights:
        if amount:
            raise ValueError("Cannot share a non-zero amount over nothing.")
        return []
    if total_weight <= 0:
        if amount:
            raise ValueError("Cannot share a non-zero amount over zero weights.")
        return [ZERO for _ in weights]
    units = int(amount / unit)
    exact = [Decimal(units) * max(w, ZERO) / total_weight for w in weights]
    floors = [int(x) for x in exact]  # amounts are never negative here, so int() rounds down
    left = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [quantize(Decimal(n) * unit) for n in floors]


def price_order(
    lines: list[LineInput],
    *,
    prices_include_tax: bool,
    discount_kind: str = "",
    discount_value: Decimal = ZERO,
    service_charge_percent: Decimal = ZERO,
    service_charge_base: str = BEFORE_TAX,
) -> OrderPrice:
    if service_charge_base not in SERVICE_CHARGE_BASES:
        raise ValueError(f"Unknown service charge base {service_charge_base!r}.")
    grosses = [quantize((line.unit_price + line.modifiers_price) * line.quantity) for line in lines]
    own_discounts = [
        discount_amount(gross, line.discount_kind, line.discount_value)
        for gross, line in zip(grosses, lines, strict=True)
    ]
    line_totals = [gross - disc for gross, disc in zip(grosses, own_discounts, strict=True)]
    order_discount = discount_amount(sum(line_totals, ZERO), discount_kind, discount_value)
    order_shares = allocate(order_discount, line_totals)
    nets = [total - share for total, share in zip(line_totals, order_shares, strict=True)]
    taxes = [
        line_tax(net, line.tax_percent, prices_include_tax=prices_include_tax)
        for net, line in zip(nets, lines, strict=True)
    ]
    pre_tax = [net if not prices_include_tax else net - tax for net, tax in zip(nets, taxes, strict=True)]
    with_tax = [net if prices_include_tax else net + tax for net, tax in zip(nets, taxes, strict=True)]
    base = pre_tax if service_charge_base == BEFORE_TAX else with_tax
    service_charge = quantize(sum(base, ZERO) * max(service_charge_percent, ZERO) / HUNDRED)
    service_shares = allocate(service_charge, base)

    priced = []
    tax_by_rate: dict[Decimal, Decimal] = defaultdict(Decimal)
    for i, line in enumerate(lines):
        due = nets[i] + (ZERO if prices_include_tax else taxes[i]) + service_shares[i]
        priced.append(
            LinePrice(
                gross=grosses[i],
                discount=own_discounts[i],
                line_total=line_totals[i],
                order_discount=order_shares[i],
                net=nets[i],
                tax=taxes[i],
                service_charge=service_shares[i],
                amount_due=due,
            )
        )
        tax_by_rate[line.tax_percent] += taxes[i]
    return OrderPrice(
        lines=tuple(priced),
        subtotal=sum(grosses, ZERO),
        discount_total=sum(own_discounts, ZERO) + order_discount,
        service_charge=service_charge,
        tax_total=sum(taxes, ZERO),
        total=sum((p.amount_due for p in priced), ZERO),
        tax_by_rate=dict(tax_by_rate),
    )


def round_cash(amount: Decimal, step: Decimal) -> Decimal:
    """What a cash payment of `amount` comes to at a rounding step (0.05 → 12.34 is 12.35; 100 → 1050 is 1100)."""
    if not step or step <= 0:
        return quantize(amount)
    return quantize((amount / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def tip_from_percent(total: Decimal, percent: Decimal) -> Decimal:
    """A tip of `percent` of the order's `total` (10% of 23.45 is 2.35), in the currency's smallest unit."""
    if percent < 0:
        raise ValueError("A tip percent cannot be negative.")
    return quantize(total * percent / HUNDRED)


def split_evenly(amount: Decimal, parts: int) -> list[Decimal]:
    """`amount` in `parts` shares that differ by at most one smallest unit and add up exactly."""
    if parts < 1:
        raise ValueError("parts must be at least 1.")
    return allocate(amount, [Decimal(1)] * parts)


def refund_share(*, amount_due: Decimal, quantity: Decimal, refund_quantity: Decimal, already: Decimal) -> Decimal:
    """What refunding `refund_quantity` of a line gives back: its share of what was paid for the line.

    The last units give back exactly what is left (`amount_due - already`), so all the refunds of a line add up to
    what was paid for it, never a cent more.
    """
    left = amount_due - already
    if refund_quantity >= quantity:
        return left
    return min(quantize(amount_due * refund_quantity / quantity), left)


# --- Tenders ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenderInput:
    """One tender offered at checkout. For cash, `tendered` is what the guest handed over (defaults to exactly what
    is due); for other tenders `amount` is what is charged to it (defaults to all that is left)."""

    tender: str  # cash | card | voucher | other | gift_card
    amount: Decimal | None = None
    tendered: Decimal | None = None
    tip: Decimal = ZERO
    reference: str = ""
    guest: int | None = None
    tip_percent: Decimal | None = None  # instead of `tip`: this percent of the amount due (the order's total)
    card: str = ""  # gift_card: the card's code as scanned or typed
    allow_partial: bool = False  # gift_card: a card holding less than `amount` pays what it holds


@dataclass(frozen=True)
class Settlement:
    tender: str
    amount: Decimal  # towards the order
    tendered: Decimal
    change: Decimal
    tip: Decimal
    rounding: Decimal  # cash rounding; positive when the guest paid more than the exact amount
    reference: str = ""
    guest: int | None = None


class TenderError(ValueError):
    """The tenders cannot settle the amount; `field` names the offending input (e.g. "tenders[1].amount")."""

    def __init__(self, message: str, field: str = "tenders"):
        super().__init__(message)
        self.message = message
        self.field = field


CASH = "cash"


def settle(due: Decimal, tenders: list[TenderInput], *, cash_step: Decimal = ZERO) -> list[Settlement]:
    """Settle `due` with the tenders: non-cash first (never more than what is left, no change), then cash (the
    only tender that gives change, rounded to `cash_step`). A tip is on top of its tender, given as an amount or as
    a percent of `due`. Raises TenderError unless the tenders cover `due` exactly with nothing left over.
    """
    remaining = quantize(due)
    settled: list[tuple[int, Settlement]] = []
    indexed = list(enumerate(tenders))
    for i, t in [pair for pair in indexed if pair[1].tender != CASH] + [
        pair for pair in indexed if pair[1].tender == CASH
    ]:
        where = f"tenders[{i}]"
        tip = (t.tip or ZERO) if t.tip_percent is None else tip_from_percent(due, t.tip_percent)
        if tip < 0:
            raise TenderError("A tip cannot be negative.", f"{where}.tip")
        if remaining <= 0:
            raise TenderError("Nothing is left to pay for this tender.", where)
        if t.tender != CASH:
            amount = remaining if t.amount is None else t.amount
            if amount <= 0:
                raise TenderError("A tender's amount must be positive.", f"{where}.amount")
            if amount > remaining:
                raise TenderError(
                    f"{t.tender.title()} cannot pay more than what is left ({remaining}); only cash gives change.",
                    f"{where}.amount",
                )
            remaining -= amount
            settled.append((i, Settlement(t.tender, amount, amount + tip, ZERO, tip, ZERO, t.reference, t.guest)))
            continue
        cash_due = round_cash(remaining, cash_step)
        tendered = cash_due + tip if t.tendered is None else t.tendered
        if tendered < 0 or (tendered == 0 and cash_due > 0):
            raise TenderError("Cash tendered must be positive.", f"{where}.tendered")
        if tendered - tip >= cash_due:
            amount, rounding, change = remaining, cash_due - remaining, tendered - tip - cash_due
        elif tendered - tip >= remaining:  # covers the exact rest, but cash at this store is paid to the step
            raise TenderError(
                f"Cash is paid in steps of {quantize(cash_step)} here: {cash_due} is due in cash.",
                f"{where}.tendered",
            )
        else:
            if tip:
                raise TenderError("A cash tip needs the cash to cover what is due.", f"{where}.tip")
            amount, rounding, change = tendered, ZERO, ZERO
        remaining -= amount
        settled.append((i, Settlement(CASH, amount, tendered, change, tip, rounding, t.reference, t.guest)))
    if remaining > 0:
        raise TenderError(f"The tenders leave {remaining} unpaid.", "tenders")
    return [s for _, s in sorted(settled, key=lambda pair: pair[0])]
