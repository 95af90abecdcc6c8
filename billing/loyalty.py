"""Loyalty points: earned on what a customer pays, redeemed as a tender, taken back or given back on refunds.

Points are whole numbers. A store says how many points one currency unit paid earns (`loyalty_points_per_unit`,
a Decimal: 1, 0.1, 0.0001 for IDR) and what one point pays when redeemed (`loyalty_point_value`); a sale earns the
whole points of its basis × rate, rounded down. Whole points keep the ledger's sums exact and the receipt plain.

The ledger is `LoyaltyMovement` (append-only); the balance is kept on `LoyaltyAccount`, one row per customer, equal
to the sum of the customer's movements and never below zero (a CheckConstraint, and spending is a conditional UPDATE
`balance >= points`). In a sale or a refund the account row is locked after the order and before the stock rows and
the register (billing.services' lock order), so two terminals spending the same points wait for each other and the
second finds them gone (`insufficient_points`).

- Earn (in the sale's transaction, once per order): the amount paid less tips (never in `Payment.amount`), less
  what points paid, less gift-card lines (money owed, not a sale: `gift_card_products`).
- Redeem: a `points` tender; its amount must be a whole number of points at the store's value, at least the store's
  minimum, no more than the balance. A customer must be attached (`customer_required`).
- Refund: earned points are taken back in proportion to the share of the order's (non-gift-card) lines refunded so
  far; a refund to the points tender gives back the points that paid that share. Taking back never goes below zero:
  what the customer already spent is recorded as the movement's `shortfall`, audited (`loyalty_reversal_short`), and
  the refund goes through. Points are given back before earned ones are taken, so a refund to points nets out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.db.models import F, Sum
from django.utils import timezone

from billing.models import MAX_POINTS, LoyaltyAccount, LoyaltyMovement, Payment, Refund, RefundLine
from core.errors import Conflict, DomainError, NotFound
from core.idempotency import atomic_step
from core.inputs import clean_text, invalid
from core.money import ZERO, quantize
from inventory.models import Location, Product
from orders.models import Customer, Order, OrderLine
from staff.access import manager_approval
from staff.audit import audit

POINTS = Payment.Tender.POINTS
GIFT_CARD_KIND = Product.Kind.GIFT_CARD  # money owed, not a sale (billing.giftcards)


def gift_card_products(product_ids) -> set[int]:
    """Which of these products are gift cards: money owed, not a sale, so their lines earn no points. The one
    place that says what a gift card is (a product of kind GIFT_CARD_KIND)."""
    return set(Product.objects.filter(pk__in=set(product_ids), kind=GIFT_CARD_KIND).values_list("pk", flat=True))


def _points_lines(lines) -> list[OrderLine]:
    """The lines that earn points: every line but gift cards."""
    cards = gift_card_products(line.product_id for line in lines)
    return [line for line in lines if line.product_id not in cards]


def earns_points(location: Location) -> bool:
    return location.loyalty_points_per_unit > 0


def redeems_points(location: Location) -> bool:
    return location.loyalty_point_value > 0


def points_for(amount: Decimal, location: Location) -> int:
    """The whole points `amount` paid earns at `location` (rounded down)."""
    if amount <= 0 or not earns_points(location):
        return 0
    return min(int((amount * location.loyalty_points_per_unit).to_integral_value(rounding=ROUND_DOWN)), MAX_POINTS)


def points_worth(points: int, location: Location) -> Decimal:
    """What `points` pay at `location` (to the currency's smallest unit, rounded down: never more than they buy)."""
    return (Decimal(points) * location.loyalty_point_value).quantize(quantize(ZERO), rounding=ROUND_DOWN)


def points_paying(amount: Decimal, location: Location, field_name: str = "amount") -> int:
    """How many points pay exactly `amount` at `location`. Raises DomainError (`invalid`) when it is not a whole
    number of points, naming the nearest amounts that are."""
    value = location.loyalty_point_value
    exact = amount / value
    points = int(exact.to_integral_value(rounding=ROUND_DOWN))
    if Decimal(points) != exact or points <= 0:
        below, above = points_worth(points, location), quantize(Decimal(points + 1) * value)
        raise invalid(
            f"Points pay in steps of {value.normalize():f}: {amount} is not a whole number of points "
            f"(try {below} or {above}).",
            field_name,
        )
    return points


# --- The account row -------------------------------------------------------------------------------------------


def lock_account(customer_id: int) -> LoyaltyAccount:
    """The customer's account row, created if need be, locked for the rest of the transaction."""
    LoyaltyAccount.objects.bulk_create([LoyaltyAccount(customer_id=customer_id)], ignore_conflicts=True)
    return LoyaltyAccount.objects.select_for_update().get(pk=customer_id)


def _spend(account: LoyaltyAccount, points: int, field_name: str) -> None:
    """Take `points` off a locked account; a conditional UPDATE, so a balance that changed under us refuses."""
    taken = LoyaltyAccount.objects.filter(pk=account.pk, balance__gte=points).update(
        balance=F("balance") - points, updated_at=timezone.now()
    )
    if not taken:
        raise DomainError(
            f"The customer has {account.balance} points; {points} cannot be redeemed.",
            code="insufficient_points",
            fields={field_name: ["More points than the customer has."]},
        )
    account.balance -= points


def _add(account: LoyaltyAccount, points: int) -> int:
    """Add `points` to a locked account, up to MAX_POINTS; returns what was added."""
    points = min(points, MAX_POINTS - account.balance)
    if points > 0:
        LoyaltyAccount.objects.filter(pk=account.pk).update(balance=F("balance") + points, updated_at=timezone.now())
        account.balance += points
    return points


# --- Sales -----------------------------------------------------------------------------------------------------


@dataclass
class SalePoints:
    """What a sale does to a customer's points, worked out before its stock and register locks (`prepare_sale`)
    and written after its payments (`record_sale`)."""

    account: LoyaltyAccount
    redeemed: dict[int, int] = field(default_factory=dict)  # settlement index -> points
    balances: dict[int, int] = field(default_factory=dict)  # settlement index -> balance after it


def prepare_sale(order: Order, settlements) -> SalePoints | None:
    """Check and spend the points tenders of a sale, and lock the customer's account for the points it earns.

    Runs in the sale's transaction after the order is locked and before stock. Raises DomainError
    (`customer_required`: a points tender without a customer; `points_off`: the store does not redeem points;
    `invalid`: not a whole number of points or fewer than the store's minimum; `insufficient_points`)."""
    location = order.location
    spending = [(i, s) for i, s in enumerate(settlements) if s.tender == POINTS]
    if spending and not order.customer_id:
        raise DomainError(
            "Attach the customer to pay with points.",
            code="customer_required",
            fields={f"tenders[{spending[0][0]}].tender": ["No customer on this order."]},
        )
    if spending and not redeems_points(location):
        raise DomainError(
            f"{location.name} does not take loyalty points.",
            code="points_off",
            fields={f"tenders[{spending[0][0]}].tender": ["Not taken here."]},
        )
    if not order.customer_id or not (spending or earns_points(location)):
        return None
    wanted = {}
    for i, s in spending:
        where = f"tenders[{i}].amount"
        if s.tip:
            raise invalid("Points pay no tip.", f"tenders[{i}].tip")
        points = points_paying(s.amount, location, where)
        if points < location.loyalty_min_redeem:
            raise invalid(f"At least {location.loyalty_min_redeem} points are redeemed at once here.", where)
        wanted[i] = points
    account = lock_account(order.customer_id)
    sale = SalePoints(account=account)
    for i, points in wanted.items():
        _spend(account, points, f"tenders[{i}].amount")
        sale.redeemed[i] = points
        sale.balances[i] = account.balance
    return sale


def sale_basis(order: Order, lines: list[OrderLine], payments: list[Payment]) -> Decimal:
    """What earns points on a sale: what was paid towards the order (tips are never in `amount`) less what points
    paid and less the gift-card lines, never below zero."""
    paid = sum((p.amount for p in payments if p.tender != POINTS), ZERO)
    counted = _points_lines(lines)
    gift_cards = sum((line.amount_due for line in lines), ZERO) - sum((line.amount_due for line in counted), ZERO)
    return max(paid - gift_cards, ZERO)


def record_sale(
    sale: SalePoints | None, order: Order, lines: list[OrderLine], payments: list[Payment], *, user
) -> list[LoyaltyMovement]:
    """Write a sale's redemptions (one movement per points payment) and the points it earns (one movement), in the
    sale's transaction. `payments` are the saved payments, in the order of the settlements."""
    if sale is None:
        return []
    movements = [
        LoyaltyMovement(
            customer_id=order.customer_id,
            kind=LoyaltyMovement.Kind.REDEEM,
            points=-points,
            balance_after=sale.balances[i],
            order=order,
            payment=payments[i],
            location_id=order.location_id,
            user=user,
        )
        for i, points in sale.redeemed.items()
    ]
    basis = sale_basis(order, lines, payments)
    earned = _add(sale.account, points_for(basis, order.location))
    if earned:
        movements.append(
            LoyaltyMovement(
                customer_id=order.customer_id,
                kind=LoyaltyMovement.Kind.EARN,
                points=earned,
                balance_after=sale.account.balance,
                basis=basis,
                order=order,
                location_id=order.location_id,
                user=user,
            )
        )
    return LoyaltyMovement.objects.bulk_create(movements)


@atomic_step
def earn_for_paid_order(*, order_id: int, user) -> LoyaltyMovement | None:
    """Award the points of an order paid before its customer was attached (attaching after payment, until the Z).

    Idempotent: an order earns once (a unique constraint backs it); an order already refunded in part earns on
    what is left. Returns the earn movement, or None when nothing is earned. Raises NotFound, `customer_required`.
    """
    from orders.services import lock_order

    order = lock_order(order_id, user, editable=False)
    if order.status not in (Order.Status.PAID, Order.Status.REFUNDED):
        raise DomainError("Only a paid order earns points.", code="not_paid", status=409)
    if not order.customer_id:
        raise DomainError("Attach a customer first.", code="customer_required")
    done = LoyaltyMovement.objects.filter(order=order, kind=LoyaltyMovement.Kind.EARN).first()
    if done is not None or not earns_points(order.location):
        return done
    account = lock_account(order.customer_id)
    lines = list(order.lines.filter(status=OrderLine.Status.ACTIVE))
    basis = max(sale_basis(order, lines, list(order.payments.all())) - order.refunded_total, ZERO)
    earned = _add(account, points_for(basis, order.location))
    if not earned:
        return None
    return LoyaltyMovement.objects.create(
        customer_id=order.customer_id,
        kind=LoyaltyMovement.Kind.EARN,
        points=earned,
        balance_after=account.balance,
        basis=basis,
        order=order,
        location_id=order.location_id,
        user=user,
    )


# --- Refunds ---------------------------------------------------------------------------------------------------


def prepare_refund(order: Order) -> LoyaltyAccount | None:
    """Lock the customer's account for a refund of `order` (before its stock and register locks), if the order
    moved any points."""
    if not order.customer_id:
        return None
    if not LoyaltyMovement.objects.filter(order=order, kind__in=_SALE_KINDS).exists():
        return None
    return lock_account(order.customer_id)


_SALE_KINDS = (LoyaltyMovement.Kind.EARN, LoyaltyMovement.Kind.REDEEM)


def _share(points: int, part: Decimal, whole: Decimal) -> int:
    if whole <= 0 or part >= whole:
        return points
    return int((Decimal(points) * part / whole).to_integral_value(rounding=ROUND_HALF_UP))


def record_refund(account: LoyaltyAccount | None, refund: Refund, *, user) -> list[LoyaltyMovement]:
    """Give back the points that paid what `refund` returns to the points tender, and take back the points earned
    on the share of the order's lines refunded so far (cumulative, so several refunds add up to what was earned).
    Writes the movements in the refund's transaction; a shortfall is recorded and audited, never refused."""
    if account is None:
        return []
    order = refund.order
    movements = LoyaltyMovement.objects.filter(order=order)
    sale = {
        row["kind"]: row
        for row in movements.filter(kind__in=_SALE_KINDS)
        .values("kind")
        .annotate(points=Sum("points"), basis=Sum("basis"))
    }
    written = []
    redeemed = -(sale.get(LoyaltyMovement.Kind.REDEEM, {}).get("points") or 0)
    if refund.tender == POINTS and redeemed:
        paid = order.payments.filter(tender=POINTS).aggregate(s=Sum("amount"))["s"] or ZERO
        back = order.refunds.filter(tender=POINTS).aggregate(s=Sum("amount"))["s"] or ZERO  # this one included
        returned = movements.filter(kind=LoyaltyMovement.Kind.RETURN_REDEEMED).aggregate(s=Sum("points"))["s"] or 0
        owed = _share(redeemed, back, paid) - returned
        if owed > 0 and (given := _add(account, owed)):
            written.append(_refund_movement(LoyaltyMovement.Kind.RETURN_REDEEMED, given, account, refund, user))
    earned = sale.get(LoyaltyMovement.Kind.EARN, {}).get("points") or 0
    if earned:
        counted = _points_lines(list(order.lines.filter(status=OrderLine.Status.ACTIVE)))
        whole = sum((line.amount_due for line in counted), ZERO)
        part = (
            RefundLine.objects.filter(order_line__in=[line.pk for line in counted]).aggregate(s=Sum("amount"))["s"]
            or ZERO
        )
        reversed_rows = movements.filter(kind=LoyaltyMovement.Kind.REVERSE_EARN)
        settled = reversed_rows.aggregate(s=Sum(F("shortfall") - F("points")))["s"] or 0
        owed = _share(earned, part, whole) - settled
        if owed > 0:
            taken = min(owed, account.balance)
            shortfall = owed - taken
            if taken:
                _spend(account, taken, "points")
            written.append(
                _refund_movement(LoyaltyMovement.Kind.REVERSE_EARN, -taken, account, refund, user, shortfall)
            )
            if shortfall:
                audit(
                    "loyalty_reversal_short",
                    actor=user,
                    location_id=order.location_id,
                    obj=refund,
                    order=str(order.uuid),
                    customer=order.customer_id,
                    owed=owed,
                    taken=taken,
                    shortfall=shortfall,
                )
    return LoyaltyMovement.objects.bulk_create(written)


def _refund_movement(kind, points: int, account, refund: Refund, user, shortfall: int = 0) -> LoyaltyMovement:
    return LoyaltyMovement(
        customer_id=account.pk,
        kind=kind,
        points=points,
        shortfall=shortfall,
        balance_after=account.balance,
        order_id=refund.order_id,
        refund=refund,
        location_id=refund.order.location_id,
        user=user,
    )


# --- Managers ----------------------------------------------------------------------------------------------------


@atomic_step
def adjust_points(*, customer_id: int, points: int, reason: str, user, approver=None) -> LoyaltyMovement:
    """A manager adds (positive) or takes off (negative) points with a reason; audited as `loyalty_adjust`.
    Raises ApprovalRequired, NotFound, DomainError (`invalid`, `insufficient_points`)."""
    approved_by = manager_approval(user, approver, "Adjusting loyalty points")
    reason = clean_text(reason, "reason", required=True)
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or abs(points) > MAX_POINTS:
        raise invalid(f"A whole number of points, not 0, at most {MAX_POINTS:,} either way.", "points")
    if not Customer.objects.filter(pk=customer_id, erased_at__isnull=True).exists():
        raise NotFound("Unknown customer.", fields={"customer": ["Unknown customer."]})
    account = lock_account(customer_id)
    if points < 0:
        _spend(account, -points, "points")
    elif _add(account, points) != points:
        raise invalid(f"A balance holds at most {MAX_POINTS:,} points.", "points")
    movement = LoyaltyMovement.objects.create(
        customer_id=customer_id,
        kind=LoyaltyMovement.Kind.ADJUST,
        points=points,
        balance_after=account.balance,
        reason=reason,
        user=user,
    )
    audit(
        "loyalty_adjust",
        actor=user,
        approver=approved_by,
        obj=movement,
        reason=reason,
        customer=customer_id,
        points=points,
        balance=account.balance,
    )
    return movement


@atomic_step
def move_points(*, from_customer_id: int, to_customer_id: int, user) -> list[LoyaltyMovement]:
    """Move a customer's whole balance to another (a merge of duplicate customers): two `adjust` movements that say
    where the points went and came from; audited as `loyalty_move`. Both accounts are locked in id order.
    Returns the movements ([] when there was nothing to move)."""
    if from_customer_id == to_customer_id:
        raise invalid("Choose two different customers.", "customer")
    accounts = {pk: lock_account(pk) for pk in sorted((from_customer_id, to_customer_id))}
    source, target = accounts[from_customer_id], accounts[to_customer_id]
    points = source.balance
    if not points:
        return []
    _spend(source, points, "customer")
    if _add(target, points) != points:
        raise invalid(f"A balance holds at most {MAX_POINTS:,} points.", "customer")
    movements = LoyaltyMovement.objects.bulk_create(
        [
            LoyaltyMovement(
                customer_id=from_customer_id,
                kind=LoyaltyMovement.Kind.ADJUST,
                points=-points,
                balance_after=source.balance,
                reason=f"Moved to customer {to_customer_id}",
                user=user,
            ),
            LoyaltyMovement(
                customer_id=to_customer_id,
                kind=LoyaltyMovement.Kind.ADJUST,
                points=points,
                balance_after=target.balance,
                reason=f"Moved from customer {from_customer_id}",
                user=user,
            ),
        ]
    )
    audit(
        "loyalty_move",
        actor=user,
        object_type="orders.customer",
        object_id=str(to_customer_id),
        source=from_customer_id,
        target=to_customer_id,
        points=points,
    )
    return movements


# --- Reading -----------------------------------------------------------------------------------------------------


def balance_of(customer_id: int) -> int:
    return LoyaltyAccount.objects.filter(pk=customer_id).values_list("balance", flat=True).first() or 0


@dataclass(frozen=True)
class PointsLine:
    """What a receipt says about points: earned and redeemed on this sale (or given back and taken back by this
    refund), the balance right after, and what a refund could not take back."""

    earned: int = 0
    redeemed: int = 0
    returned: int = 0
    reversed: int = 0
    shortfall: int = 0
    balance: int = 0


def receipt_points(receipt) -> PointsLine | None:
    """The points lines of a receipt, from the ledger: only for an order with a customer whose sale (or refund)
    moved points."""
    order = receipt.order
    if not order.customer_id:
        return None
    if receipt.refund_id:
        rows = list(LoyaltyMovement.objects.filter(refund_id=receipt.refund_id).order_by("id"))
    else:
        rows = list(LoyaltyMovement.objects.filter(order_id=order.pk, kind__in=_SALE_KINDS).order_by("id"))
    if not rows:
        return None
    kinds = LoyaltyMovement.Kind
    total = {kind: sum(r.points for r in rows if r.kind == kind) for kind in kinds.values}
    return PointsLine(
        earned=total[kinds.EARN],
        redeemed=-total[kinds.REDEEM],
        returned=total[kinds.RETURN_REDEEMED],
        reversed=-total[kinds.REVERSE_EARN],
        shortfall=sum(r.shortfall for r in rows),
        balance=rows[-1].balance_after,
    )


# --- Customers changed on paid orders and merged (orders.signals) --------------------------------------------------


def on_customer_changed_after_payment(sender, *, order, previous_customer, user, **kwargs) -> None:
    """A paid order's customer was attached, changed or taken off (until the Z): the customer now attached earns
    the sale's points (once per order), unless points of this sale already moved for another customer, in which
    case the change is refused (`points_already_moved`) and rolled back with it: a manager adjusts points instead,
    so that attaching after payment cannot move a guest's points to someone else."""
    others = LoyaltyMovement.objects.filter(order_id=order.pk)
    if order.customer_id:
        others = others.exclude(customer_id=order.customer_id)
    if others.exists():
        raise Conflict(
            "This sale's loyalty points already went to another customer; a manager can adjust points instead.",
            code="points_already_moved",
        )
    if order.customer_id:
        earn_for_paid_order(order_id=order.pk, user=user)


def on_customers_merged(sender, *, source_id: int, into_id: int, user, **kwargs) -> None:
    """Two customers merged: the one merged away hands its whole points balance to the one kept."""
    move_points(from_customer_id=source_id, to_customer_id=into_id, user=user)
