"""Re-checks the invariants of DESIGN.md §3 on live data and names every row that breaks one.

Each check is a read-only query returning `Violation`s. `run_integrity_check()` runs them all, keeps the last report
(for /health, /metrics and the ops page) and alerts through `core.notify` when anything is wrong. The command
`manage.py integrity_check`, the daily beat task and the "Run now" button all call it.

Checked:
- stock ledger: for every product and location, StockLevel.on_hand == sum(StockMove.delta), and no ledger moves
  without a stock level (§3.2);
- order totals vs lines: tax_total == sum of the active lines' tax, and
  total == subtotal − discount_total + service_charge + exclusive tax (orders.pricing) (§3.1);
- payments vs totals: paid_total == sum(payments), refunded_total == sum(refunds), a paid order is paid in full;
- gift cards: every card's balance == sum of its movements (GiftCardMovement.amount), and >= 0;
- numbering: receipt numbers and Z numbers per register run 1..last number with no gap (§3.5) but the ranges a
  restore audited as issued before it (they are in its safety copy);
- loyalty points: every customer's balance is never negative and equals the sum of their points ledger
  (billing.loyalty), and no movement left a negative balance behind it.
"""

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db.models import (
    BigIntegerField,
    Count,
    DecimalField,
    Exists,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from billing import giftcards
from billing.models import LoyaltyAccount, LoyaltyMovement, Payment, Receipt, Refund, Register, ZReport
from billing.sessions import NUMBERS_CONTINUED_ACTION
from core.notify import notify
from inventory.models import StockLevel, StockMove
from orders.models import Order, OrderLine
from staff.models import AuditEvent

logger = logging.getLogger("tillhouse.integrity")

LAST_REPORT_KEY = "ops:integrity:last-report"
REQUESTED_KEY = "ops:integrity:requested"
REQUEST_EXPIRES_SECONDS = 15 * 60  # a run that never reports back (a worker lost) stops counting as running
MAX_VIOLATIONS_STORED = 200
_ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=18, decimal_places=4))


@dataclass(frozen=True)
class Violation:
    invariant: str
    message: str
    ids: dict = field(default_factory=dict)


@dataclass
class IntegrityReport:
    ran_at: str
    violations: list[Violation]
    checked: dict

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {
            "ran_at": self.ran_at,
            "violation_count": len(self.violations),
            "violations": [asdict(v) for v in self.violations[:MAX_VIOLATIONS_STORED]],
            "checked": self.checked,
        }


def _sum(queryset, column: str):
    """A correlated subquery: SUM(column) of `queryset` for the outer row, 0 when it has no rows."""
    summed = queryset.order_by().annotate(s=Func(F(column), function="SUM")).values("s")
    return Coalesce(Subquery(summed, output_field=_ZERO.output_field), _ZERO)


def check_stock_ledger() -> list[Violation]:
    moves = StockMove.objects.filter(product=OuterRef("product"), location=OuterRef("location"))
    levels = (
        StockLevel.objects.annotate(ledger=_sum(moves, "delta"))
        .exclude(on_hand=F("ledger"))
        .values("id", "product_id", "location_id", "on_hand", "ledger")
        .order_by("id")
    )
    violations = [
        Violation(
            "stock_level_matches_ledger",
            f"stock level {row['id']}: on hand {row['on_hand']} but the ledger sums to {row['ledger']}",
            {"stock_level": row["id"], "product": row["product_id"], "location": row["location_id"]},
        )
        for row in levels
    ]
    has_level = StockLevel.objects.filter(product=OuterRef("product_id"), location=OuterRef("location_id"))
    orphans = (
        StockMove.objects.order_by()
        .filter(~Exists(has_level))
        .values("product_id", "location_id")
        .annotate(total=Sum("delta"), move_ids=Count("id"))
        .exclude(total=0)
    )
    for row in orphans:
        violations.append(
            Violation(
                "stock_level_matches_ledger",
                f"product {row['product_id']} at location {row['location_id']}: ledger sums to {row['total']} "
                "but there is no stock level",
                {"product": row["product_id"], "location": row["location_id"]},
            )
        )
    return violations


def check_order_totals() -> list[Violation]:
    active = OrderLine.objects.filter(order=OuterRef("pk"), status=OrderLine.Status.ACTIVE)
    orders = (
        Order.objects.filter(status__in=[Order.Status.PAID, Order.Status.REFUNDED])
        .annotate(
            lines_tax=_sum(active, "tax_amount"),
            exclusive_tax=_sum(active.filter(prices_include_tax=False), "tax_amount"),
        )
        .annotate(expected_total=F("subtotal") - F("discount_total") + F("service_charge") + F("exclusive_tax"))
        .filter(~Q(tax_total=F("lines_tax")) | ~Q(total=F("expected_total")))
        .values("id", "uuid", "total", "tax_total", "lines_tax", "expected_total")
        .order_by("id")
    )
    violations = []
    for row in orders:
        if row["tax_total"] != row["lines_tax"]:
            violations.append(
                Violation(
                    "order_tax_matches_lines",
                    f"order {row['id']}: tax {row['tax_total']} but its lines' tax sums to {row['lines_tax']}",
                    {"order": row["id"], "order_uuid": str(row["uuid"])},
                )
            )
        if row["total"] != row["expected_total"]:
            violations.append(
                Violation(
                    "order_total_matches_lines",
                    f"order {row['id']}: total {row['total']} but subtotal − discounts + service charge "
                    f"+ exclusive tax is {row['expected_total']}",
                    {"order": row["id"], "order_uuid": str(row["uuid"])},
                )
            )
    return violations


def check_payments() -> list[Violation]:
    orders = (
        Order.objects.annotate(
            payments_sum=_sum(Payment.objects.filter(order=OuterRef("pk")), "amount"),
            refunds_sum=_sum(Refund.objects.filter(order=OuterRef("pk")), "amount"),
        )
        .filter(
            ~Q(paid_total=F("payments_sum"))
            | ~Q(refunded_total=F("refunds_sum"))
            | (Q(status__in=[Order.Status.PAID, Order.Status.REFUNDED]) & ~Q(paid_total=F("total")))
        )
        .values("id", "uuid", "status", "total", "paid_total", "payments_sum", "refunded_total", "refunds_sum")
        .order_by("id")
    )
    violations = []
    for row in orders:
        ids = {"order": row["id"], "order_uuid": str(row["uuid"])}
        if row["paid_total"] != row["payments_sum"]:
            violations.append(
                Violation(
                    "paid_total_matches_payments",
                    f"order {row['id']}: paid total {row['paid_total']} but its payments sum to {row['payments_sum']}",
                    ids,
                )
            )
        if row["refunded_total"] != row["refunds_sum"]:
            violations.append(
                Violation(
                    "refunded_total_matches_refunds",
                    f"order {row['id']}: refunded total {row['refunded_total']} but its refunds sum to "
                    f"{row['refunds_sum']}",
                    ids,
                )
            )
        if row["status"] in (Order.Status.PAID, Order.Status.REFUNDED) and row["paid_total"] != row["total"]:
            violations.append(
                Violation(
                    "paid_order_paid_in_full",
                    f"order {row['id']} is {row['status']}: total {row['total']} but paid {row['paid_total']}",
                    ids,
                )
            )
    return violations


def _skipped_by_restores(register_id: int, kind: str) -> set[int]:
    """Numbers a restore audited as issued before it (they live in its safety copy, not here): not gaps."""
    skipped: set[int] = set()
    events = AuditEvent.objects.filter(
        action=NUMBERS_CONTINUED_ACTION, object_type="billing.register", object_id=str(register_id)
    )
    for data in events.values_list("data", flat=True):
        if data.get("kind") == kind:
            skipped.update(range(int(data["first"]), int(data["last"]) + 1))
    return skipped


def _numbering_gaps(model, counter_field: str, invariant: str, label: str, kind: str) -> list[Violation]:
    numbers = model.objects.filter(register=OuterRef("pk")).order_by().values("register")
    registers = (
        Register.objects.annotate(
            n=Coalesce(Subquery(numbers.annotate(c=Count("id")).values("c")), 0),
            low=Subquery(numbers.annotate(m=Min("number")).values("m")),
            high=Subquery(numbers.annotate(m=Max("number")).values("m")),
        )
        .filter(~Q(n=F(counter_field)) | ~Q(high=F(counter_field)) | ~Q(low=1))
        .values("id", "n", "low", "high", counter_field)
        .order_by("id")
    )
    violations = []
    for row in registers:
        last = row[counter_field]
        if row["n"] == 0 and last == 0:
            continue
        present = set(model.objects.filter(register_id=row["id"]).values_list("number", flat=True))
        skipped = _skipped_by_restores(row["id"], kind)
        missing = [n for n in range(1, max(last, row["high"] or 0) + 1) if n not in present and n not in skipped]
        beyond = sorted(n for n in present if n > last)
        if not missing and not beyond and row["n"] + len(skipped & set(range(1, last + 1))) == last:
            continue
        parts = []
        if missing:
            shown = ", ".join(str(n) for n in missing[:20]) + (" …" if len(missing) > 20 else "")
            parts.append(f"missing {label} number(s) {shown}")
        if beyond:
            parts.append(f"{label} number(s) {', '.join(str(n) for n in beyond[:20])} above the register's last {last}")
        if not parts:
            parts.append(f"{row['n']} {label}s but the register's last number is {last}")
        violations.append(
            Violation(
                invariant,
                f"register {row['id']}: " + "; ".join(parts),
                {"register": row["id"], "missing": missing[:100], "beyond_last": beyond[:100]},
            )
        )
    return violations


def check_receipt_numbers() -> list[Violation]:
    return _numbering_gaps(Receipt, "last_receipt_number", "receipt_numbers_gapless", "receipt", "receipt")


def check_z_numbers() -> list[Violation]:
    return _numbering_gaps(ZReport, "last_z_number", "z_numbers_gapless", "Z", "z")


def check_gift_cards() -> list[Violation]:
    return [
        Violation(
            "gift_card_balance_matches_ledger",
            f"gift card {row['card']} ({row['code']}): balance {row['balance']} but its ledger sums to {row['ledger']}"
            + (" (below zero)" if row["balance"] < 0 else ""),
            {"gift_card": row["card"]},
        )
        for row in giftcards.ledger_mismatches()
    ]


def check_loyalty_points() -> list[Violation]:
    movements = LoyaltyMovement.objects.filter(customer=OuterRef("customer")).order_by().values("customer")
    summed = movements.annotate(s=Func(F("points"), function="SUM")).values("s")
    accounts = (
        LoyaltyAccount.objects.annotate(
            ledger=Coalesce(Subquery(summed, output_field=BigIntegerField()), Value(0, output_field=BigIntegerField()))
        )
        .filter(Q(balance__lt=0) | ~Q(balance=F("ledger")))
        .values("customer_id", "balance", "ledger")
        .order_by("customer_id")
    )
    violations = [
        Violation(
            "loyalty_balance_matches_ledger",
            f"customer {row['customer_id']}: {row['balance']} points but the ledger sums to {row['ledger']}",
            {"customer": row["customer_id"]},
        )
        for row in accounts
    ]
    has_account = LoyaltyAccount.objects.filter(customer=OuterRef("customer_id"))
    orphans = (
        LoyaltyMovement.objects.order_by()
        .filter(~Exists(has_account))
        .values("customer_id")
        .annotate(total=Sum("points"))
        .exclude(total=0)
    )
    violations += [
        Violation(
            "loyalty_balance_matches_ledger",
            f"customer {row['customer_id']}: the ledger sums to {row['total']} points but there is no balance",
            {"customer": row["customer_id"]},
        )
        for row in orphans
    ]
    below = LoyaltyMovement.objects.filter(balance_after__lt=0).values("id", "customer_id").order_by("id")[:100]
    violations += [
        Violation(
            "loyalty_balance_not_negative",
            f"points movement {row['id']} left customer {row['customer_id']} below zero",
            {"customer": row["customer_id"], "movement": row["id"]},
        )
        for row in below
    ]
    return violations


CHECKS = {
    "stock_ledger": check_stock_ledger,
    "gift_cards": check_gift_cards,
    "order_totals": check_order_totals,
    "payments": check_payments,
    "receipt_numbers": check_receipt_numbers,
    "z_numbers": check_z_numbers,
    "loyalty_points": check_loyalty_points,
}


def collect_violations() -> IntegrityReport:
    """Run every check; no side effects."""
    violations: list[Violation] = []
    checked = {}
    for name, check in CHECKS.items():
        found = check()
        checked[name] = len(found)
        violations.extend(found)
    return IntegrityReport(
        ran_at=dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"), violations=violations, checked=checked
    )


def run_integrity_check() -> IntegrityReport:
    """Run every check, keep the report for /health and the ops page, alert people when something is wrong."""
    report = collect_violations()
    try:
        cache.set(LAST_REPORT_KEY, report.as_dict(), timeout=None)
        cache.delete(REQUESTED_KEY)
    except Exception:
        logger.exception("could not store the integrity report")
    if report.violations:
        logger.error(
            "integrity check found %d violation(s)",
            len(report.violations),
            extra={"violations": [asdict(v) for v in report.violations[:20]]},
        )
        notify(
            "integrity.violations",
            f"Integrity check found {len(report.violations)} violation(s): "
            + "; ".join(v.message for v in report.violations[:5]),
            count=len(report.violations),
            by_invariant=_count_by_invariant(report.violations),
        )
    else:
        logger.info("integrity check passed", extra={"checked": report.checked})
    return report


def _count_by_invariant(violations: list[Violation]) -> dict:
    counts: dict[str, int] = {}
    for violation in violations:
        counts[violation.invariant] = counts.get(violation.invariant, 0) + 1
    return counts


def request_integrity_check() -> None:
    """Mark a run as asked for (the ops page shows it running until a report comes); the caller queues the task."""
    cache.set(REQUESTED_KEY, dt.datetime.now(tz=dt.UTC).isoformat(timespec="seconds"), REQUEST_EXPIRES_SECONDS)


def integrity_check_running() -> bool:
    """Whether a run asked for from the ops page has not reported yet (for at most REQUEST_EXPIRES_SECONDS)."""
    return cache.get(REQUESTED_KEY) is not None


def last_report() -> dict | None:
    """The report of the most recent run (any process), or None."""
    return cache.get(LAST_REPORT_KEY)
