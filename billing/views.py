"""POS screens for money: start and end of shift, payment, receipt and reprint, refunds, print problems.

Views parse the request, call a service in billing.sessions / billing.services / billing.printing and render.
"""

import uuid
from dataclasses import asdict

from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing import giftcards, loyalty, printing, receipt_mail, services, sessions
from billing.forms import (
    CashMoveForm,
    PaymentForm,
    close_count_from,
    find_receipt,
    float_from,
    forms_money,
    id_or_none,
    quick_cash_amounts,
    refund_items,
    restock_choice,
    tender_rows,
)
from billing.models import CashSession, Payment, Receipt, Register, ZReport
from billing.receipts import receipt_document
from billing.report_printout import report_lines
from core.errors import DomainError
from core.idempotency import run_once, scope_for
from core.idempotent_screens import applied_once
from core.inputs import clean_search
from orders import pricing
from orders.models import Order, OrderLine
from orders.terminal import (
    approver_from_pin,
    poll_render,
    pos_render,
    pos_view,
    redirect_to,
)
from staff import pins


def _open_session(request) -> CashSession | None:
    """The open cash session of this terminal's register, if any (whoever opened it: the till is the terminal's)."""
    register_id = request.terminal.register_id
    if not register_id:
        return None
    return (
        CashSession.objects.select_related("register", "opened_by")
        .filter(register_id=register_id, register__location=request.terminal.location, status=CashSession.Status.OPEN)
        .first()
    )


def _terminal_registers(request):
    """The register a session can be opened on here: the terminal's own (none for a terminal without a till)."""
    return Register.objects.filter(
        pk=request.terminal.register_id or 0, location=request.terminal.location, active=True
    ).select_related("location")


def managers_for(location):
    return pins.pin_users_for(location, managers_only=True)


# --- Start and end of shift ---------------------------------------------------------------------------------------


@pos_view("billing.add_cashsession")
def shift(request):
    """Start of shift (count the float for the terminal's register) or, with its session open, its overview."""
    session = _open_session(request)
    if session is None:
        context = {
            "registers": _terminal_registers(request),
            "denominations": sessions.denominations(),
            "error": request.GET.get("error", ""),
        }
        return pos_render(request, "pos/shift_start.html", context, nav="shift")
    context = {"session": session, "move_form": CashMoveForm(), "managers": managers_for(request.terminal.location)}
    return pos_render(request, "pos/shift.html", context, nav="shift")


@require_POST
@pos_view("billing.add_cashsession")
@applied_once
def shift_open(request):
    register = _terminal_registers(request).first()
    if register is None:
        return _shift_start_error(request, _("This terminal has no till: a manager sets its register in the admin."))
    if sessions.open_session_for(register.pk):
        return redirect("orders:floor")
    try:
        amount, counts = float_from(request.POST, sessions.denominations())
        sessions.open_session(
            register_id=register.pk, user=request.user, opening_float=amount, float_denominations=counts
        )
    except DomainError as exc:
        return _shift_start_error(request, exc.message)
    return redirect("orders:floor")


def _shift_start_error(request, message: str):
    context = {
        "registers": _terminal_registers(request),
        "denominations": sessions.denominations(),
        "error": message,
        "posted": request.POST,
    }
    return pos_render(request, "pos/shift_start.html", context, status=400, nav="shift")


@pos_view("billing.view_cashsession")
def shift_x(request):
    session = _open_session(request)
    if session is None:
        return redirect("billing:shift")
    try:
        totals = sessions.x_report(session_id=session.pk, user=request.user)
    except DomainError as exc:
        return pos_render(request, "pos/shift.html", {"session": session, "error": exc.message}, status=exc.status)
    totals.update(register_name=session.register.name, location=request.terminal.location.name)
    context = {
        "session": session,
        "report": totals,
        "lines": report_lines(totals, copy=False),
        "move_form": CashMoveForm(),
        "managers": managers_for(request.terminal.location),
    }
    return pos_render(request, "pos/shift.html", context, nav="shift")


@require_POST
@pos_view("billing.add_cashmovement")
@applied_once
def shift_move(request):
    session = _open_session(request)
    if session is None:
        return redirect("billing:shift")
    form = CashMoveForm(request.POST)
    managers = managers_for(request.terminal.location)
    error = ""
    if form.is_valid():
        service = sessions.pay_in if form.cleaned_data["kind"] == "pay_in" else sessions.pay_out
        try:
            service(
                session_id=session.pk,
                user=request.user,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                approver=approver_from_pin(request),
            )
        except DomainError as exc:
            error = exc.message
        else:
            context = {"session": session, "move_form": CashMoveForm(), "done": True, "managers": managers}
            return pos_render(request, "pos/shift.html", context)
    else:
        error = _("Enter an amount and a reason.")
    context = {"session": session, "move_form": form, "error": error, "managers": managers, "posted": request.POST}
    return pos_render(request, "pos/shift.html", context, status=400, nav="shift")


@pos_view("billing.change_cashsession")
@applied_once
def shift_close(request):
    """End of shift: the blind count (the expected cash is not shown), then the Z report."""
    session = _open_session(request)
    if session is None:
        return redirect("billing:shift")
    context = {
        "session": session,
        "denominations": sessions.denominations(),
        "managers": managers_for(request.terminal.location),
    }
    if request.method == "POST":
        try:
            approver = approver_from_pin(request)
            z = sessions.close_session(
                session_id=session.pk,
                user=request.user,
                denominations=close_count_from(request.POST, sessions.denominations()),
                approver=approver,
                note=request.POST.get("note", ""),
            )
        except DomainError as exc:
            context.update(error=exc.message, posted=request.POST, needs_sign_off=exc.code == "sign_off_required")
            return pos_render(request, "pos/shift_close.html", context, status=400, nav="shift")
        return redirect_to(request, reverse("billing:z_report", args=[z.pk]))
    return pos_render(request, "pos/shift_close.html", context, nav="shift")


@pos_view("billing.view_cashsession")
def z_report(request, pk: int):
    z = get_object_or_404(
        ZReport.objects.select_related("register"), pk=pk, register__location=request.terminal.location
    )
    context = {"z": z, "data": z.data, "lines": report_lines(z.data, copy=False)}
    return pos_render(request, "pos/z_report.html", context, nav="shift")


@require_POST
@pos_view("billing.view_cashsession")
@applied_once
def z_reprint(request, pk: int):
    z = get_object_or_404(ZReport, pk=pk, register__location=request.terminal.location)
    try:
        sessions.reprint_z_report(z_report_id=z.pk, user=request.user)
    except DomainError as exc:
        context = {"z": z, "data": z.data, "lines": report_lines(z.data, copy=False), "error": exc.message}
        return pos_render(request, "pos/z_report.html", context, status=exc.status)
    context = {"z": z, "data": z.data, "lines": report_lines(z.data, copy=False), "reprinted": True}
    return pos_render(request, "pos/z_report.html", context, nav="shift")


# --- Payment and receipt ------------------------------------------------------------------------------------------


def _order_here(request, order_uuid) -> Order:
    order = Order.objects.select_related("location", "table", "customer").filter(uuid=order_uuid).first()
    if order is None or order.location_id != request.terminal.location.pk:
        raise Http404
    return order


@pos_view("billing.add_payment")
@applied_once
def pay(request, order_uuid):
    """The payment screen: tenders, keypad, quick cash, change due, split by guest. Finishing shows the receipt.

    The form carries a uuid made when the screen was drawn: sent twice (a double tap, a resubmitted form), the
    payment is taken once and the second answer is the first one's receipt."""
    order = _order_here(request, order_uuid)
    if order.status == Order.Status.PAID:
        receipt = order.receipts.filter(kind=Receipt.Kind.SALE).first()
        if receipt:
            return redirect("billing:receipt", receipt.pk)
    session = _open_session(request)
    guests = PaymentForm.guests_from(request.GET.get("guests"))
    shares = pricing.split_evenly(order.total, guests) if guests > 1 else []
    step = order.location.cash_rounding
    cash_due = pricing.round_cash(order.total, step)
    context = {
        "order": order,
        "session": session,
        "key": uuid.uuid4(),
        "tenders": [(value, label) for value, label in Payment.Tender.choices if value != Payment.Tender.POINTS],
        "single_tenders": [
            c for c in Payment.Tender.choices if c[0] not in (Payment.Tender.GIFT_CARD, Payment.Tender.POINTS)
        ],
        "points": _points_offer(order),
        "guests": guests,
        "shares": shares,
        "rows": tender_rows(request.POST if request.method == "POST" else None, shares=shares),
        "quick_cash": quick_cash_amounts(order.total, step=step),
        "tip_percents": TIP_PERCENTS,
        "cash_due": cash_due,
        "cash_rounding": cash_due - order.total,
        "managers": managers_for(order.location),
    }
    if request.method == "POST":
        return _take_payment(request, order, session, context)
    return pos_render(request, "pos/pay.html", context)


TIP_PERCENTS = (5, 10, 15, 20)  # the quick tip buttons of the payment screen


def _points_offer(order) -> dict | None:
    """The attached customer's points and what they can pay of this order (the "Pay with points" box), or None
    without a customer. `usable` is the most points this order can take: whole points, no more than is due."""
    if not order.customer_id:
        return None
    location = order.location
    balance = loyalty.balance_of(order.customer_id)
    value = location.loyalty_point_value
    usable = 0
    if loyalty.redeems_points(location):
        usable = min(balance, int(order.total // value))
        if usable < location.loyalty_min_redeem:
            usable = 0
    return {
        "customer": order.customer,
        "balance": balance,
        "worth": loyalty.points_worth(balance, location) if value else None,
        "value": value,
        "usable": usable,
        "usable_worth": loyalty.points_worth(usable, location),
        "minimum": location.loyalty_min_redeem,
    }


def _take_payment(request, order, session, context):
    form = PaymentForm(
        request.POST, nothing_due=not order.total, due=order.total, point_value=order.location.loyalty_point_value
    )
    error = ""
    if session is None:
        error = _("Open a cash session on this terminal first (Shift).")
    elif not form.is_valid():
        error = form.error_text()
    else:
        tenders = form.tenders()
        reason = request.POST.get("reason", "")
        payload = {"order": str(order.uuid), "tenders": [asdict(t) for t in tenders], "reason": reason}

        def action():
            sale = services.take_payment(
                order_id=order.pk,
                register_id=session.register_id,
                tenders=tenders,
                user=request.user,
                approver=approver,
                reason=reason,
                printer_id=request.terminal.printer_id,
            )
            return 201, {"receipt": sale.receipt.pk}

        try:
            approver = approver_from_pin(request)  # before the sale's transaction: a wrong PIN counts
            outcome = run_once(
                scope=scope_for(request.user),
                key=form.cleaned_data["key"],
                endpoint="pos.take_payment",
                payload=payload,
                action=action,
            )
        except DomainError as exc:
            receipt = order.receipts.filter(kind=Receipt.Kind.SALE).first()
            if exc.code == "already_paid" and receipt:
                return redirect("billing:receipt", receipt.pk)
            error = exc.message
        else:
            return redirect_to(request, reverse("billing:receipt", args=[outcome.body["receipt"]]))
    order.refresh_from_db()
    context.update(order=order, error=error, key=request.POST.get("key") or context["key"], posted=request.POST)
    return pos_render(request, "pos/pay.html", context, status=400)


def _receipt_here(request, pk: int) -> Receipt:
    receipt = (
        Receipt.objects.select_related(
            "register", "order__location", "order__staff", "order__customer", "refund__created_by"
        )
        .prefetch_related("order__lines__product", "order__payments")
        .filter(pk=pk, register__location=request.terminal.location)
        .first()
    )
    if receipt is None:
        raise Http404
    return receipt


def _receipt_context(request, receipt: Receipt, **extra) -> dict:
    customer = receipt.order.customer
    return {
        "receipt": receipt,
        "doc": receipt_document(receipt),
        "reprinted": request.GET.get("reprinted"),
        "emailed": request.GET.get("emailed"),
        "emails": list(receipt.emails.order_by("-created_at", "-pk")[:5]),
        "email_to": customer.email if customer is not None and customer.email else "",
        **extra,
    }


@pos_view("billing.view_receipt")
def receipt(request, pk: int):
    receipt = _receipt_here(request, pk)
    return pos_render(request, "pos/receipt.html", _receipt_context(request, receipt))


@require_POST
@pos_view("billing.add_receiptemail")
@applied_once
def receipt_email(request, pk: int):
    """E-mail this receipt: the address typed (prefilled with the order's customer's); sent after the answer."""
    receipt = _receipt_here(request, pk)
    try:
        receipt_mail.request_receipt_email(receipt_id=receipt.pk, to=request.POST.get("to", ""), user=request.user)
    except DomainError as exc:
        context = _receipt_context(request, receipt, email_error=exc.message, email_to=request.POST.get("to", ""))
        return pos_render(request, "pos/receipt.html", context, status=exc.status)
    return redirect(f"{reverse('billing:receipt', args=[receipt.pk])}?emailed=1")


@require_POST
@pos_view("billing.view_receipt")
@applied_once
def receipt_reprint(request, pk: int):
    receipt = _receipt_here(request, pk)
    try:
        printing.reprint(user=request.user, receipt_id=receipt.pk)
    except DomainError as exc:
        context = _receipt_context(request, receipt, error=exc.message)
        return pos_render(request, "pos/receipt.html", context, status=exc.status)
    return redirect(f"{reverse('billing:receipt', args=[receipt.pk])}?reprinted=1")


# --- Refunds --------------------------------------------------------------------------------------------------


@pos_view("billing.add_refund")
def refund_find(request):
    """Find the sale to refund: scan the receipt's barcode or type its number (this terminal's register)."""
    code = clean_search(request.GET.get("code", ""))
    error = ""
    if code:
        found = find_receipt(code, location=request.terminal.location, register_id=request.terminal.register_id)
        if found is not None:
            return redirect("billing:refund", found.pk)
        error = _("No sale receipt “%(code)s” here.") % {"code": code}
    return pos_render(request, "pos/refund_find.html", {"code": code, "error": error}, nav="refund")


@pos_view("billing.add_refund")
@applied_once
def refund(request, pk: int):
    """Choose what comes back, why, to which tender; a manager approves with their PIN."""
    receipt = _receipt_here(request, pk)
    order = receipt.order
    session = _open_session(request)
    lines = [line for line in order.lines.all() if line.status == OrderLine.Status.ACTIVE]
    for line in lines:
        line.restock_choice = restock_choice(request.POST if request.method == "POST" else None, line)
    context = {
        "receipt": receipt,
        "order": order,
        "lines": lines,
        "tenders": Payment.Tender.choices,
        "managers": managers_for(request.terminal.location),
        "session": session,
    }
    if request.method == "POST":
        error = ""
        if session is None:
            error = _("Open a cash session on this terminal first (Shift).")
        else:
            try:
                record = services.refund(
                    order_id=order.pk,
                    register_id=session.register_id,
                    items=refund_items(request.POST, context["lines"]),
                    reason=request.POST.get("reason", ""),
                    user=request.user,
                    approver=approver_from_pin(request),
                    tender=request.POST.get("tender") or None,
                    cash_beyond_paid=bool(request.POST.get("cash_beyond_paid")),
                )
            except DomainError as exc:
                error = exc.message
            else:
                return redirect_to(request, reverse("billing:receipt", args=[record.receipt.pk]))
        context.update(error=error, posted=request.POST)
        return pos_render(request, "pos/refund.html", context, status=400, nav="refund")
    return pos_render(request, "pos/refund.html", context, nav="refund")


# --- Print problems -------------------------------------------------------------------------------------------


@pos_view("billing.view_printjob", lockable=False, touch=False)
def print_problems(request):
    """The banner: failed or uncertain print jobs at this location, with retry / reprint / dismiss, and receipt
    e-mails that failed, with send again / dismiss. Polled every 20 s by every open POS page: 304 with no body
    while nothing on it changed (orders.terminal.poll_render)."""
    context = _problems(request)
    jobs = [
        (
            job.pk,
            job.kind,
            job.status,
            job.receipt.number if job.receipt else None,
            job.kitchen_ticket_id,
            job.last_error,
        )
        for job in context["jobs"]
    ]
    emails = [(email.pk, email.receipt.number, email.to_address, email.last_error) for email in context["emails"]]
    return poll_render(request, "pos/_print_banner.html", context, (jobs, emails))


def _problems(request, **extra) -> dict:
    location = request.terminal.location
    emails = []
    if request.user.has_perm("billing.view_receiptemail"):
        emails = list(receipt_mail.failed_emails(location)[:5])
    return {"jobs": list(printing.problem_jobs(location)[:5]), "emails": emails, **extra}


def _print_action(service):
    @require_POST
    @pos_view("billing.change_printjob")
    @applied_once
    def view(request, pk: int):
        error = ""
        try:
            service(request, pk)
        except DomainError as exc:
            error = exc.message
        return pos_render(request, "pos/_print_banner.html", _problems(request, error=error))

    return view


print_retry = _print_action(lambda request, pk: printing.retry_job(pk, request.user))
print_reprint = _print_action(lambda request, pk: printing.reprint(user=request.user, job_id=pk))
print_dismiss = _print_action(lambda request, pk: printing.dismiss_job(pk, request.user))


# --- Gift cards ---------------------------------------------------------------------------------------------------


def _gift_card_products(location):
    from inventory.models import Product

    return Product.objects.filter(kind=Product.Kind.GIFT_CARD, active=True).order_by("name")


@pos_view("billing.view_giftcard")
def gift_cards(request):
    """The gift-card screen: check a card's balance (scan or type its code), sell a new card of any amount."""
    context = {"products": _gift_card_products(request.terminal.location), "key": uuid.uuid4()}
    return pos_render(request, "pos/gift_cards.html", context, nav="gift_cards")


@require_POST
@pos_view("billing.view_giftcard")
def gift_card_balance(request):
    """A card's balance (an htmx partial on the gift-card and payment screens). With `due` (what is left to pay)
    and `amount` (what to take, empty: as much as it can), also what the card will hold after paying."""
    context: dict = {}
    try:
        code = request.POST.get("code") or request.POST.get("gift_card_code") or ""
        card = giftcards.check_balance(code, user=request.user)
    except DomainError as exc:
        return pos_render(request, "pos/_gift_card_balance.html", {"error": exc.message}, status=exc.status)
    context = {"card": card, "expired": card.is_expired(timezone.now())}
    due = forms_money(request.POST.get("due"))
    if due is not None and not context["expired"]:
        wanted = forms_money(request.POST.get("amount") or request.POST.get("gift_card_amount")) or due
        pays = min(wanted, due, card.balance)
        context.update(pays=pays, left=card.balance - pays)
    return pos_render(request, "pos/_gift_card_balance.html", context)


@require_POST
@pos_view("billing.add_payment")  # the card is paid for at once: for those who take payments
@applied_once
def gift_card_sell(request):
    """Sell a gift card: open an order with one line of a gift-card product at the amount typed, then pay it on
    the payment screen (the card is issued when the order is paid)."""
    from orders.services import NewLine, open_order

    products = _gift_card_products(request.terminal.location)
    product = products.filter(pk=id_or_none(request.POST.get("product"))).first() or products.first()
    amount = forms_money(request.POST.get("amount"))
    error = ""
    if product is None:
        error = _("There is no gift-card product in the catalogue: add a product of kind Gift card first.")
    else:
        try:
            order = open_order(
                location_id=request.terminal.location.pk,
                user=request.user,
                channel=Order.Channel.RETAIL,
                lines=[NewLine(product_id=product.pk, unit_price=amount)],
            )
        except DomainError as exc:
            error = exc.message
        else:
            return redirect_to(request, reverse("billing:pay", args=[order.uuid]))
    context = {"products": products, "key": uuid.uuid4(), "error": error, "posted": request.POST}
    return pos_render(request, "pos/gift_cards.html", context, status=400, nav="gift_cards")


def _email_action(service):
    @require_POST
    @pos_view("billing.change_receiptemail")
    @applied_once
    def view(request, pk: int):
        error = ""
        try:
            service(pk, request.user)
        except DomainError as exc:
            error = exc.message
        return pos_render(request, "pos/_print_banner.html", _problems(request, error=error))

    return view


receipt_email_resend = _email_action(receipt_mail.resend_receipt_email)
receipt_email_dismiss = _email_action(receipt_mail.dismiss_receipt_email)
