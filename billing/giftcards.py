"""Gift cards and store credit: money the business owes, kept on a card with an append-only ledger.

A card's `balance` is the sum of its movements (GiftCardMovement): issue and refund add, redeem and expire take
away, a manager's adjustment goes either way. Every change of the balance is one guarded UPDATE
(`balance = balance - x WHERE id = … AND balance >= x`, checked by its row count and backed by the database's
`balance >= 0` constraint) and one movement row in the same transaction, so the balance never goes below zero and
always equals its ledger, however many tills redeem the same card at once.

Selling a gift card is not a sale: a line of a `gift_card` product carries no tax, takes nothing from stock, and
its amount is money owed (billing.figures counts it as `gift_cards`, apart from sales); the card is issued with
that amount when the order is paid, in the checkout's transaction. Redeeming a card is a tender (`gift_card`): the
revenue is the goods it pays for. A card past its `expires_at` is written off by `expire_due_cards` (a Celery beat
task): its balance goes to zero with an `expire` movement, the breakage.

Lock order inside a sale or a refund: the order row, stock, the register, then the cards (by code) — the cards'
guarded UPDATEs go in the register's own round trip and the ledger rows in the payments', so a redemption adds
statements to a checkout but no round trip.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from billing import queries
from billing.models import GiftCard, GiftCardMovement, Payment, Refund
from core.errors import DomainError, NotFound
from core.inputs import clean_money, clean_text, invalid
from core.limits import count_in_window, counted
from core.money import ZERO, quantize
from inventory.models import Location, Product
from orders import pricing
from orders.models import Customer, Order, OrderLine
from orders.pricing import TenderInput, allocate
from staff.access import manager_approval
from staff.audit import audit

GIFT_CARD = Payment.Tender.GIFT_CARD
Kind = GiftCardMovement.Kind

# Crockford's base 32: no I, L, O or U, so a code read aloud or typed from paper is not misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 80 random bits


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text) -> str:
    """A code as typed or scanned (any case, spaces or dashes, O for 0 …) in its stored form."""
    if not isinstance(text, str):
        return ""
    code = text.strip().upper().replace("-", "").replace(" ", "")
    return code.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def display_code(code: str) -> str:
    """XXXX-XXXX-XXXX-XXXX, as printed."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def max_balance() -> Decimal:
    return quantize(Decimal(settings.GIFT_CARD_MAX_BALANCE))


def expiry_from(moment: datetime) -> datetime | None:
    """When a card issued at `moment` expires: GIFT_CARD_EXPIRY_DAYS later, or never when it is 0."""
    days = settings.GIFT_CARD_EXPIRY_DAYS
    return moment + timedelta(days=days) if days and days > 0 else None


def clean_card_amount(value, field_name: str = "amount") -> Decimal:
    amount = clean_money(value, field_name, allow_zero=False)
    if amount > max_balance():
        raise invalid(f"A card holds at most {max_balance()}.", field_name, code="gift_card_limit")
    return amount


def not_found(field_name: str = "card") -> NotFound:
    return NotFound("No gift card with this code.", code="gift_card_not_found", fields={field_name: ["Unknown code."]})


def find_card(code, *, field_name: str = "card") -> GiftCard:
    """The card with this code (as typed or scanned). Raises NotFound `gift_card_not_found`."""
    code = normalize_code(code)
    card = GiftCard.objects.filter(code=code).first() if 0 < len(code) <= 32 else None
    if card is None:
        raise not_found(field_name)
    return card


LOOKUP_MISSES_ALLOWED = 20  # wrong codes per person per window before balance checks are refused for a while
LOOKUP_WINDOW_SECONDS = 600


def check_balance(code, *, user) -> GiftCard:
    """A card's balance check at the till (screen or API). Wrong codes are counted per person: after
    LOOKUP_MISSES_ALLOWED in LOOKUP_WINDOW_SECONDS further checks are refused (429 `too_many_attempts`), so codes
    cannot be tried in bulk. Raises NotFound `gift_card_not_found`, DomainError `too_many_attempts`."""
    key = f"giftcard-misses:{getattr(user, 'pk', None)}"
    if counted(key, what="gift-card lookup") >= LOOKUP_MISSES_ALLOWED:
        raise DomainError("Too many unknown card codes; try again later.", code="too_many_attempts", status=429)
    try:
        return find_card(code, field_name="code")
    except NotFound:
        count_in_window(key, LOOKUP_WINDOW_SECONDS, what="gift-card lookup")
        raise


def is_gift_card_line(line: OrderLine) -> bool:
    return line.product.kind == Product.Kind.GIFT_CARD


# --- issuing -----------------------------------------------------------------------------------------------------


def _new_card(*, amount: Decimal, kind: str, location_id: int, user, customer_id=None, order=None, now=None):
    now = now or timezone.now()
    return GiftCard(
        code=new_code(),
        kind=kind,
        customer_id=customer_id,
        issued_at_id=location_id,
        initial_value=amount,
        balance=amount,
        expires_at=expiry_from(now),
        order=order,
        created_by=user,
    )


def issue_for_sale(order: Order, lines: list[OrderLine], payments: list[Payment], *, user) -> list[GiftCard]:
    """Issue the cards sold on a paid order (inside the checkout's transaction): one card per unit of each
    gift-card line, each holding its share of what was paid for the line (its sales, service charge aside)."""
    cards = []
    for line in lines:
        if not is_gift_card_line(line):
            continue
        units = int(line.quantity)
        for value in allocate(line.amount_due - line.service_charge_amount, [Decimal(1)] * units):
            if value > 0:
                cards.append(
                    _new_card(
                        amount=value,
                        kind=GiftCard.Kind.GIFT_CARD,
                        location_id=order.location_id,
                        user=user,
                        customer_id=order.customer_id,
                        order=order,
                    )
                )
    if not cards:
        return []
    GiftCard.objects.bulk_create(cards)
    GiftCardMovement.objects.bulk_create(
        GiftCardMovement(
            card=card,
            kind=Kind.ISSUE,
            amount=card.balance,
            balance_after=card.balance,
            location_id=order.location_id,
            order=order,
            user=user,
        )
        for card in cards
    )
    return cards


@transaction.atomic
def issue_card(
    *,
    amount: Decimal,
    location_id: int,
    user,
    approver=None,
    reason: str,
    kind: str = GiftCard.Kind.STORE_CREDIT,
    customer_id: int | None = None,
) -> GiftCard:
    """Issue a card with no sale behind it (goodwill store credit, a replacement card): money owed that nobody
    paid, so a manager approves it and it is audited (`gift_card_issued`). Preconditions: `location_id` is an
    active store. Raises ApprovalRequired, DomainError `invalid` / `gift_card_limit`, NotFound."""
    amount = clean_card_amount(amount)
    reason = clean_text(reason, "reason", required=True)
    if kind not in GiftCard.Kind.values:
        raise invalid("Kind is gift_card or store_credit.", "kind")
    approved_by = manager_approval(user, approver, "Issuing a card without a sale")
    if not Location.objects.filter(pk=location_id, kind=Location.Kind.STORE, active=True).exists():
        raise NotFound("Unknown store.", fields={"location": ["Unknown store."]})
    if customer_id is not None and not Customer.objects.filter(pk=customer_id, erased_at=None).exists():
        raise NotFound("Unknown customer.", fields={"customer": ["Unknown customer."]})
    card = _new_card(amount=amount, kind=kind, location_id=location_id, user=user, customer_id=customer_id)
    card.save()
    GiftCardMovement.objects.create(
        card=card,
        kind=Kind.ISSUE,
        amount=amount,
        balance_after=amount,
        location_id=location_id,
        reason=reason,
        user=user,
    )
    audit(
        "gift_card_issued",
        actor=user,
        approver=approved_by,
        location_id=location_id,
        obj=card,
        reason=reason,
        card=card.masked_code,
        amount=amount,
        kind=kind,
    )
    return card


# --- redeeming (a tender) ---------------------------------------------------------------------------------------


@dataclass
class Redemption:
    """What a gift-card tender of a sale takes from a card. Planned before the sale (`plan_redemptions`), taken
    with the register's lock (`take_statements` / `took`), recorded with the payments (`payment_groups`)."""

    index: int  # the tender's place in the list
    code: str
    amount: Decimal
    card: GiftCard | None = None  # set once the balance is taken
    balance_after: Decimal = ZERO


def _check_usable(card: GiftCard, now, field_name: str) -> None:
    if card.is_expired(now):
        raise DomainError("This gift card has expired.", code="gift_card_expired", fields={field_name: ["Expired."]})


def _insufficient(card: GiftCard, wanted: Decimal, field_name: str) -> DomainError:
    available = quantize(card.balance)
    return DomainError(
        f"The gift card holds {available}, less than {quantize(wanted)}.",
        code="insufficient_balance",
        fields={field_name: [f"Available: {available}."], "available": [str(available)]},
    )


def _take(card: GiftCard, amount: Decimal) -> None:
    """The guarded decrement: refuses (insufficient_balance) unless the balance covers `amount`."""
    if not GiftCard.objects.filter(pk=card.pk, balance__gte=amount).update(balance=F("balance") - amount):
        card.refresh_from_db(fields=["balance"])
        raise _insufficient(card, amount, "card")
    card.balance -= amount


def plan_redemptions(due: Decimal, tenders: list[TenderInput]) -> tuple[list[TenderInput], list[Redemption]]:
    """Work out what each `gift_card` tender takes from its card, before the sale is priced into payments: its
    amount, or what the non-cash tenders before it leave of `due`. With `allow_partial` the card is read first
    (not locked) and pays at most what it holds then; the taking itself is guarded (`take_statements`), so a card
    emptied meanwhile refuses the sale rather than going below zero. Reads nothing otherwise: the sale's checks
    of the card are the guarded UPDATE itself (`took` explains a refusal).

    Returns the tenders with the gift cards' amounts and masked codes filled in, and the redemptions. Raises
    DomainError `gift_card_not_found`, `gift_card_expired`, `insufficient_balance`, `invalid`."""
    wanted = [(i, t) for i, t in enumerate(tenders) if t.tender == GIFT_CARD]
    if not wanted:
        return tenders, []
    codes: dict[int, str] = {}
    for i, t in wanted:
        code = normalize_code(t.card)
        if not code or len(code) > 32:
            raise invalid("Scan or type the gift card's code.", f"tenders[{i}].card", code="required")
        if code in codes.values():
            raise invalid("Each card once per sale.", f"tenders[{i}].card")
        codes[i] = code
    partial = [codes[i] for i, t in wanted if t.allow_partial]
    read = {card.code: card for card in GiftCard.objects.filter(code__in=partial)} if partial else {}
    now = timezone.now()
    remaining = quantize(due)
    filled = list(tenders)
    planned: list[Redemption] = []
    for i, t in enumerate(tenders):
        if t.tender == pricing.CASH:
            continue
        if t.tender != GIFT_CARD:
            remaining -= min(remaining, t.amount if t.amount is not None else remaining)
            continue
        where = f"tenders[{i}].card"
        amount = remaining if t.amount is None else t.amount
        if t.allow_partial:
            card = read.get(codes[i])
            if card is None:
                raise not_found(where)
            _check_usable(card, now, where)
            if card.balance <= 0:
                raise _insufficient(card, amount, where)
            amount = min(amount, card.balance)
        if amount <= 0:
            raise DomainError("Nothing is left to pay with this card.", code="invalid_tender", fields={where: []})
        remaining -= min(remaining, amount)
        filled[i] = replace(t, amount=amount, reference=f"…{codes[i][-4:]}")
        planned.append(Redemption(index=i, code=codes[i], amount=amount))
    return filled, planned


def take_statements(planned: Sequence[Redemption]) -> list[tuple[str, list]]:
    """The guarded UPDATEs that take the planned amounts off their cards, in code order (every sale locks cards in
    the same order, after its register: no deadlock). Run in the same round trip as the register's counter."""
    return [queries.take_from_card(r.code, r.amount, timezone.now()) for r in sorted(planned, key=lambda r: r.code)]


def took(planned: Sequence[Redemption], rows: list[list[tuple]]) -> None:
    """Read the results of `take_statements` (in the same order): each redemption gets its card and the balance
    left, or the sale is refused with why the card said no (not found, expired, not enough on it)."""
    now = timezone.now()
    for r, result in zip(sorted(planned, key=lambda r: r.code), rows, strict=True):
        where = f"tenders[{r.index}].card"
        if not result:
            card = GiftCard.objects.filter(code=r.code).first()
            if card is None:
                raise not_found(where)
            _check_usable(card, now, where)
            raise _insufficient(card, r.amount, where)
        card_id, balance = result[0]
        r.balance_after = quantize(Decimal(str(balance)))
        r.card = GiftCard(pk=card_id, code=r.code, balance=r.balance_after)


def payment_groups(payments: list[Payment], planned: Sequence[Redemption], *, order: Order, user) -> list:
    """The payments as core.sql.insert_batch groups, each gift-card payment followed by its `redeem` movement
    (linked to it), so that the ledger rows go in the payments' round trip."""
    if not planned:
        return [payments]
    by_index = {r.index: r for r in planned}
    groups: list = []
    for i, payment in enumerate(payments):
        r = by_index.get(i)
        groups.append([payment])
        if r is not None and r.card is not None:
            payment.gift_card = r.card
            movement = GiftCardMovement(
                card=r.card,
                kind=Kind.REDEEM,
                amount=-r.amount,
                balance_after=r.balance_after,
                location_id=order.location_id,
                order=order,
                user=user,
            )
            groups.append(([movement], {"payment": payment}))
    return groups


# --- refunds -----------------------------------------------------------------------------------------------------


def refundable_to(order: Order, card: GiftCard) -> Decimal:
    """What `card` paid of `order` that has not gone back to it yet."""
    paid = order.payments.filter(gift_card=card).aggregate(total=Sum("amount"))["total"] or ZERO
    back = order.refunds.filter(gift_card=card, tender=GIFT_CARD).aggregate(total=Sum("amount"))["total"] or ZERO
    return paid - back


def card_for_refund(order: Order, code: str | None) -> GiftCard:
    """The card a refund goes back to: the one named by `code`, which must have paid the order, or else the card
    that paid the most of it. Raises NotFound `gift_card_not_found`, DomainError `invalid`."""
    paid_with = order.payments.filter(tender=GIFT_CARD)
    if code:
        card = find_card(code)
        if not paid_with.filter(gift_card=card).exists():
            raise invalid("This card did not pay for this order; refund to store credit instead.", "card")
        return card
    first = paid_with.order_by("-amount", "id").values_list("gift_card_id", flat=True).first()
    if first is None:
        raise invalid("No gift card paid for this order; refund to store credit instead.", "card")
    return GiftCard.objects.get(pk=first)


def credit_refund(card: GiftCard, amount: Decimal, *, refund: Refund, user) -> GiftCard:
    """Put a refund back on `card` (locked first) with a `refund` movement. Raises DomainError `gift_card_expired`
    (money put on an expired card could not be spent: refund to store credit instead), `gift_card_limit`."""
    card = GiftCard.objects.select_for_update().get(pk=card.pk)
    if card.is_expired(timezone.now()):
        raise DomainError(
            "This gift card has expired; refund to store credit instead.",
            code="gift_card_expired",
            fields={"card": ["Expired."]},
        )
    if card.balance + amount > max_balance():
        raise DomainError(
            f"A card holds at most {max_balance()}; refund to store credit instead.",
            code="gift_card_limit",
            fields={"card": ["Over the card limit."]},
        )
    GiftCard.objects.filter(pk=card.pk).update(balance=F("balance") + amount)
    card.balance += amount
    GiftCardMovement.objects.create(
        card=card,
        kind=Kind.REFUND,
        amount=amount,
        balance_after=card.balance,
        location_id=refund.order.location_id,
        order=refund.order,
        refund=refund,
        user=user,
    )
    return card


def new_store_credit(order: Order, amount: Decimal, *, user) -> GiftCard:
    """A new store-credit card holding `amount` for a refund of `order` (tied to the order's customer, if any)."""
    card = _new_card(
        amount=amount,
        kind=GiftCard.Kind.STORE_CREDIT,
        location_id=order.location_id,
        user=user,
        customer_id=order.customer_id,
        order=order,
    )
    card.save()
    return card


def record_store_credit(card: GiftCard, *, refund: Refund, user) -> None:
    GiftCardMovement.objects.create(
        card=card,
        kind=Kind.ISSUE,
        amount=card.balance,
        balance_after=card.balance,
        location_id=refund.order.location_id,
        order=refund.order,
        refund=refund,
        reason="Store credit for a refund",
        user=user,
    )


# --- expiry and adjustments --------------------------------------------------------------------------------------


def expire_card(card_id: int, *, now=None) -> GiftCardMovement | None:
    """Write off one card past its expiry: its balance to zero with an `expire` movement (breakage). A
    compare-and-swap on the balance read, so running twice (or beside a redemption) never writes off twice or
    more than is there. Returns the movement, or None when there was nothing to do."""
    now = now or timezone.now()
    with transaction.atomic():
        card = GiftCard.objects.select_for_update().filter(pk=card_id).first()
        if card is None or card.expires_at is None or card.expires_at > now or card.balance <= 0:
            return None
        amount = card.balance
        if not GiftCard.objects.filter(pk=card.pk, balance=amount).update(balance=ZERO, expired_at=now):
            return None
        return GiftCardMovement.objects.create(
            card=card, kind=Kind.EXPIRE, amount=-amount, balance_after=ZERO, location_id=card.issued_at_id
        )


def expire_due_cards(*, now=None, limit: int = 5000) -> int:
    """Write off every card whose expiry has passed and that still holds money (each in its own transaction).
    Returns how many were written off. Idempotent: a card written off holds nothing and is skipped."""
    now = now or timezone.now()
    due = list(
        GiftCard.objects.filter(expires_at__lte=now, balance__gt=0).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in due if expire_card(pk, now=now) is not None)


@transaction.atomic
def adjust_card(*, card_id: int, amount: Decimal, reason: str, user, approver=None) -> GiftCardMovement:
    """Correct a card's balance by `amount` (signed), with a reason and a manager's approval, audited
    (`gift_card_adjusted`). Raises ApprovalRequired, NotFound, DomainError `invalid`, `insufficient_balance`
    (the balance would go below zero), `gift_card_limit`."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount == 0:
        raise invalid("Give a non-zero amount.", "amount")
    size = clean_card_amount(abs(amount))
    reason = clean_text(reason, "reason", required=True)
    approved_by = manager_approval(user, approver, "Adjusting a gift card")
    card = GiftCard.objects.select_for_update().filter(pk=card_id).first()
    if card is None:
        raise not_found()
    if amount < 0:
        _take(card, size)
    else:
        if card.balance + size > max_balance():
            raise invalid(f"A card holds at most {max_balance()}.", "amount", code="gift_card_limit")
        GiftCard.objects.filter(pk=card.pk).update(balance=F("balance") + size)
        card.balance += size
    movement = GiftCardMovement.objects.create(
        card=card,
        kind=Kind.ADJUST,
        amount=amount,
        balance_after=card.balance,
        location_id=card.issued_at_id,
        reason=reason,
        user=user,
    )
    audit(
        "gift_card_adjusted",
        actor=user,
        approver=approved_by,
        location_id=card.issued_at_id,
        obj=card,
        reason=reason,
        card=card.masked_code,
        amount=amount,
        balance=card.balance,
    )
    return movement


# --- figures -----------------------------------------------------------------------------------------------------


def outstanding() -> dict:
    """The money owed now: the sum of every card's balance, and how many cards hold some."""
    row = GiftCard.objects.filter(balance__gt=0).aggregate(amount=Sum("balance"), cards=Count("id"))
    return {"amount": row["amount"] or ZERO, "cards": row["cards"]}


def movements_between(start, end, *, location_ids=None) -> dict[str, Decimal]:
    """Per movement kind, the sum of the amounts (as money owed changes: issue and refund positive, redeem and
    expire negative) of the movements made in [start, end), at the given stores (by where each happened)."""
    qs = GiftCardMovement.objects.filter(created_at__gte=start, created_at__lt=end)
    if location_ids is not None:
        qs = qs.filter(location_id__in=list(location_ids))
    sums = {kind: ZERO for kind in Kind.values}
    for row in qs.values("kind").annotate(amount=Sum("amount")).order_by():
        sums[row["kind"]] = row["amount"]
    return sums


def liability_summary(start, end, *, location_ids=None) -> dict[str, Decimal]:
    """The gift-card figures of a period, apart from sales: `sold` (issued, store credit included), `redeemed`,
    `refunded_to_cards`, `breakage` (expired), `adjusted`, and `outstanding` (the sum of every card's balance
    now, whatever store issued it)."""
    sums = movements_between(start, end, location_ids=location_ids)
    return {
        "sold": sums[Kind.ISSUE],
        "redeemed": -sums[Kind.REDEEM],
        "refunded_to_cards": sums[Kind.REFUND],
        "breakage": -sums[Kind.EXPIRE],
        "adjusted": sums[Kind.ADJUST],
        "outstanding": outstanding()["amount"],
    }


def ledger_mismatches() -> list[dict]:
    """Cards whose balance is not the sum of their movements, or is negative (for ops' integrity check)."""
    rows = (
        GiftCard.objects.annotate(ledger=Sum("movements__amount"))
        .filter(Q(balance__lt=0) | ~Q(balance=F("ledger")) | Q(ledger=None))
        .values("pk", "code", "balance", "ledger")
    )
    return [
        {"card": row["pk"], "code": f"…{row['code'][-4:]}", "balance": row["balance"], "ledger": row["ledger"] or ZERO}
        for row in rows
    ]
