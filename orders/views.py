"""POS screens for staff: sign-in by PIN, idle lock, floor view, order screen, kitchen display.

Views parse the request, call a service and render; the rules live in services. The terminal (which store, till and
kitchen stations) is the paired device (request.terminal); whether it is locked is kept in the session. A PIN user
switch changes the person and keeps both.
"""

import time
from decimal import Decimal

from django.contrib.auth import login
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_htmx.http import retarget

from core.errors import DomainError
from core.idempotent_screens import applied_once
from core.replicas import reads_from_replica
from orders import displays, selectors, services
from orders import kitchen as kitchen_services
from orders.forms import (
    AddLineForm,
    ChangeLineForm,
    DiscountForm,
    OpenOrderForm,
    PinForm,
    SetPinForm,
    split_quantities,
)
from orders.models import Order, OrderLine, Table
from orders.services.customers import ATTACHABLE_AFTER_PAYMENT
from orders.terminal import (
    approver_from_pin,
    poll_render,
    pos_render,
    pos_view,
    redirect_to,
)
from staff import pins, terminals
from staff.middleware import (
    SESSION_LOCKED,
    SESSION_PIN_ONLY,
    SESSION_SEEN,
)

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _safe_next(request, fallback: str) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return fallback


# --- Staff switch, lock, PIN ------------------------------------------------------------------------------------


@pos_view(lockable=False, touch=False, anyone=True)
def switch(request):
    """Quick user switch on a shared terminal, and the lock screen: choose who you are and type your PIN."""
    location = request.terminal.location
    locked = request.session.get(SESSION_LOCKED, False)
    form = PinForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            user = pins.verify_pin(
                user_id=form.cleaned_data["user"],
                pin=form.cleaned_data["pin"],
                purpose="unlock" if locked and form.cleaned_data["user"] == request.user.pk else "switch",
                location=location,
                terminal=pins.terminal_of(request),
            )
        except DomainError as exc:
            error = exc.message
        else:
            if user.pk != request.user.pk:
                login(request, user, backend=AUTH_BACKEND)
            # Whoever typed a PIN (to switch or to unlock, even their own session) gets the POS screens only.
            request.session[SESSION_PIN_ONLY] = True
            request.session[SESSION_LOCKED] = False
            request.session[SESSION_SEEN] = time.time()
            return redirect(_safe_next(request, reverse("orders:floor")))
    context = {
        "form": form,
        "error": error,
        "locked": locked,
        "staff": pins.pin_users_for(location),
        "idle_seconds": 0,
        "next": _safe_next(request, ""),
    }
    return pos_render(request, "pos/switch.html", context, status=400 if error else 200)


@require_POST
@pos_view(lockable=False, touch=False)
def lock(request):
    request.session[SESSION_LOCKED] = True
    return redirect_to(request, f"{reverse('orders:switch')}?locked=1")


@pos_view()
def set_my_pin(request):
    """Choose or change your own PIN; your password proves it is you."""
    form = SetPinForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pins.set_pin(user=request.user, pin=form.cleaned_data["pin"], actor=request.user)
        except DomainError as exc:
            form.add_error("pin", exc.message)
        else:
            return pos_render(request, "pos/set_pin.html", {"form": SetPinForm(request), "done": True})
    return pos_render(request, "pos/set_pin.html", {"form": form}, status=400 if form.errors else 200)


# --- Floor --------------------------------------------------------------------------------------------------------


@pos_view("orders.view_order")
def floor(request):
    location = request.terminal.location
    context = {
        "sections": displays.floor_plan(location),
        "open_orders": displays.open_orders_without_table(location),
    }
    return pos_render(request, "pos/floor.html", context, nav="floor")


# --- Kitchen display ----------------------------------------------------------------------------------------------


def _kitchen_context(request) -> dict:
    """The terminal's stations (all the store's when it names none), narrowed to one by the station picker."""
    location = request.terminal.location
    own = [name for name in request.terminal.kitchen_stations or [] if isinstance(name, str)]
    stations = own or displays.kitchen_stations(location)
    station = request.GET.get("station", "")
    if station not in stations:
        station = ""
    shown = [station] if station else own
    return {
        "station": station,
        "stations": stations,
        "tickets": displays.kitchen_board(location, stations=shown),
        "bumped": displays.recently_bumped(location, stations=shown),
        "sound": request.terminal.kitchen_sound,
    }


@pos_view("orders.view_kitchenticket", lockable=False)
def kitchen(request):
    """The kitchen display: a wall screen, so it never locks itself."""
    context = {**_kitchen_context(request), "idle_seconds": 0}
    return pos_render(request, "pos/kitchen.html", context, nav="kitchen")


@pos_view("orders.view_kitchenticket", lockable=False, touch=False)
@reads_from_replica
def kitchen_board(request):
    """The board, polled every few seconds: 304 with no body while nothing on it changed (orders.terminal)."""
    context = _kitchen_context(request)
    return poll_render(request, "pos/_kitchen_board.html", context, _kitchen_fingerprint(request, context))


def _kitchen_fingerprint(request, context: dict) -> tuple:
    """Everything pos/_kitchen_board.html shows, from the same objects (keep the two in step): the tickets with
    their lines and age, the recently done, the station, and whether this person may bump."""

    def heading(ticket):
        table = ticket.order.table
        return (ticket.pk, table.name if table else None, ticket.order.channel, str(ticket.order.uuid), ticket.course)

    tickets = [
        (
            *heading(ticket),
            ticket.station,
            ticket.created_at.isoformat(),
            timesince(ticket.created_at),
            [(li.pk, str(li.quantity), li.name, li.status, repr(li.modifiers), li.note) for li in ticket.lines.all()],
        )
        for ticket in context["tickets"]
    ]
    bumped = [heading(ticket) for ticket in context["bumped"]]
    return (context["station"], request.user.has_perm("orders.change_kitchenticket"), tickets, bumped)


@require_POST
@pos_view("orders.view_kitchenticket", lockable=False)
def kitchen_sound(request):
    """The display's sound for new tickets, on or off: saved on the terminal, so it stays so after a reload."""
    terminals.set_kitchen_sound(terminal_id=request.terminal.pk, on=request.POST.get("sound") == "on")
    station = request.POST.get("station", "")
    return redirect_to(
        request, f"{reverse('orders:kitchen')}?station={station}" if station else reverse("orders:kitchen")
    )


# --- Order screen -------------------------------------------------------------------------------------------------


def _order_at_terminal(request, order_uuid):
    try:
        order = displays.order_for_screen(order_uuid)
    except Order.DoesNotExist:
        raise Http404 from None
    if order.location_id != request.terminal.location.pk:
        raise Http404
    return order


def _ticket_context(request, order, **extra) -> dict:
    context = {
        "order": order,
        "lines": list(order.lines.all()),
        "table_service": displays.is_table_service(order),
        # Send is offered wherever there is a kitchen to send to: every order but a retail one, and a quick sale too
        # in a store whose menu has kitchen stations (a steak sold at the counter still has to be cooked).
        "kitchen_service": order.channel != Order.Channel.RETAIL or order.store_has_kitchen,
        "customer": selectors.order_customer(order),
        # A customer can be attached while the order is open, and after payment until its till's Z (the service
        # says no after that, with the reason).
        "customer_changeable": order.is_editable or order.status in ATTACHABLE_AFTER_PAYMENT,
    }
    context.update(extra)
    return context


def render_ticket(
    request,
    order_uuid,
    *,
    error: str = "",
    message: str = "",
    status: int = 200,
    posted=None,
    edit_line=None,
    close_chooser: bool = False,
):
    """The order panel (lines, totals, actions), re-read after a change so it shows what was saved. With
    `edit_line`, that line's editor is open, filled with what was `posted`."""
    order = _order_at_terminal(request, order_uuid)
    context = _ticket_context(
        request, order, error=error, message=message, posted=posted or {}, close_chooser=close_chooser
    )
    if edit_line is not None:
        context.update(edit_line=int(edit_line), managers=_managers(request), **_line_choices(order, edit_line, posted))
    return pos_render(request, "pos/_ticket.html", context, status=status)


def _after_change(request, order_uuid, action, *, message: str = "", edit_line: int | None = None):
    """Run a service call and answer with the fresh ticket, or the same ticket with the rule's message (and, with
    `edit_line`, that line's editor open with what was typed)."""
    try:
        result = action()
    except DomainError as exc:
        return render_ticket(
            request, order_uuid, error=exc.message, status=exc.status, posted=request.POST, edit_line=edit_line
        )
    if callable(message):
        message = message(result)
    if not request.htmx:
        return redirect("orders:order", order_uuid)
    return render_ticket(request, order_uuid, message=message)


@require_POST
@pos_view("orders.add_order")
@applied_once
def open_order(request):
    form = OpenOrderForm(request.POST)
    if not form.is_valid():
        return redirect("orders:floor")
    try:
        order = services.open_order(
            location_id=request.terminal.location.pk,
            user=request.user,
            channel=form.cleaned_data["channel"],
            table_id=form.cleaned_data["table"],
            guest_count=form.cleaned_data["guest_count"] or 1,
        )
    except DomainError as exc:
        context = {
            "sections": displays.floor_plan(request.terminal.location),
            "open_orders": displays.open_orders_without_table(request.terminal.location),
            "error": exc.message,
        }
        return pos_render(request, "pos/floor.html", context, status=exc.status, nav="floor")
    return redirect("orders:order", order.uuid)


@pos_view("orders.view_order")
def order_screen(request, order_uuid):
    order = _order_at_terminal(request, order_uuid)
    location = request.terminal.location
    categories = list(displays.pos_categories(location))
    category_id = _int(request.GET.get("category")) or (categories[0].pk if categories else None)
    context = _ticket_context(
        request,
        order,
        categories=categories,
        category_id=category_id,
        products=displays.pos_products(location, category_id=category_id),
        register_open=bool(request.terminal.register_id),  # the Pay button: this terminal has a till
    )
    return pos_render(request, "pos/order.html", context)


@pos_view("orders.view_order")
@reads_from_replica
def products(request):
    """The product grid: one category, or the products matching what was typed in the search box."""
    location = request.terminal.location
    query = (request.GET.get("q") or request.GET.get("code") or "").strip()
    category_id = _int(request.GET.get("category"))
    context = {
        "products": displays.pos_products(location, category_id=category_id, query=query),
        "query": query,
        "order_uuid": request.GET.get("order", ""),
    }
    return pos_render(request, "pos/_products.html", context)


@require_POST
@pos_view("orders.add_orderline")
@applied_once
def add_line(request, order_uuid):
    """Add a product by its button, or by what was typed or scanned in the search box (barcode or sku + Enter).

    A search that is not a code shows the matching products in the grid instead. A product with modifier groups
    opens the chooser first (its form posts here again, with `chooser` and the chosen `option`s). The same product
    again, with the same choices and note, adds one to its line while the line is unsent."""
    form = AddLineForm(request.POST)
    if not form.is_valid():
        return render_ticket(request, order_uuid, error=_form_error(form), status=400)
    data = form.cleaned_data
    product_id = data["product"]
    scanned = None
    if product_id is None:
        product = scanned = displays.product_by_code(request.terminal.location, data["code"])
        if product is None:
            matches = displays.pos_products(request.terminal.location, query=data["code"])
            if not matches:
                _order_at_terminal(request, order_uuid)
                return _unknown_code(request, data["code"])
            context = {"products": matches, "query": data["code"], "order_uuid": order_uuid}
            response = pos_render(request, "pos/_products.html", context)
            return retarget(response, "#products")
        product_id = product.pk
    order_id = _order_id(request, order_uuid)
    from_chooser = "chooser" in request.POST
    new_line = services.NewLine(
        product_id=product_id,
        quantity=data["quantity"] or Decimal(1),
        course=data["course"] or 1,
        note=data["note"],
        modifiers=data["options"],
    )
    try:
        # A tap or a scan of a product with modifier groups opens its chooser (the service finds the groups while
        # reading the product); the chooser's own Add posts `chooser` and adds the line with what was chosen.
        lines = services.add_lines(
            order_id,
            user=request.user,
            lines=[new_line],
            merge=True,
            choose_first=not from_chooser and (scanned is None or scanned.offers_groups),
        )
    except services.ChoicesWanted as wanted:
        return _chooser(request, order_uuid, wanted.product, wanted.groups)
    except DomainError as exc:
        if from_chooser:
            product, groups = displays.modifier_choices(product_id)
            return _chooser(request, order_uuid, product, groups, error=exc.message, status=exc.status)
        return render_ticket(request, order_uuid, error=exc.message, status=exc.status, posted=request.POST)
    if not request.htmx:
        return redirect("orders:order", order_uuid)
    return render_ticket(
        request, order_uuid, message=_("Added %(name)s.") % {"name": lines[0].name}, close_chooser=from_chooser
    )


def _chooser(request, order_uuid, product, groups, *, error: str = "", status: int = 200):
    """The modifier chooser of `product`, shown over the order screen (what was ticked stays ticked)."""
    context = {
        "order_uuid": order_uuid,
        "product": product,
        "groups": groups,
        "chosen": set(request.POST.getlist("option")),
        "posted": request.POST,
        "error": error,
    }
    return retarget(pos_render(request, "pos/_chooser.html", context, status=status), "#chooser")


def _unknown_code(request, code: str):
    """A scanned or typed code that matches nothing: the order screen's message strip says so across the whole
    screen, the ticket's last message ("Added …") goes, the grid stays as it was, and the page plays its error
    tone (the `pos:scan-error` event)."""
    response = pos_render(request, "pos/_scan_error.html", {"code": code})
    response["HX-Reswap"] = "none"
    response["HX-Trigger"] = "pos:scan-error"
    return response


@pos_view("orders.change_orderline")
@applied_once
def change_line(request, order_uuid, line_id: int):
    """GET: the line's editor (loaded when the line is opened); POST: save quantity, modifiers, note, course."""
    if request.method != "POST":
        line = get_object_or_404(OrderLine.objects.select_related("order"), pk=line_id, order__uuid=order_uuid)
        if line.order.location_id != request.terminal.location.pk:
            raise Http404
        context = {"order": line.order, "line": line, "managers": _managers(request), **_line_choices(line.order, line)}
        return pos_render(request, "pos/_line_edit.html", context)
    form = ChangeLineForm(request.POST)
    if not form.is_valid():
        return render_ticket(request, order_uuid, error=_form_error(form), status=400)
    data = form.cleaned_data

    def action():
        # A line sent to the kitchen posts its quantity only (a reduction: a void of the difference).
        return services.change_line(
            _line_of(request, order_uuid, line_id),
            user=request.user,
            quantity=data["quantity"],
            note=data["note"] if "note" in request.POST else None,
            course=data["course"],
            modifiers=data["options"] if "options_shown" in request.POST else None,
            reason=request.POST.get("reason", ""),
            approver=approver_from_pin(request),
        )

    return _after_change(request, order_uuid, action, message=_("Line changed."), edit_line=line_id)


@require_POST
@pos_view("orders.change_orderline")
@applied_once
def void_line(request, order_uuid, line_id: int):
    def action():
        approver = approver_from_pin(request)
        return services.void_line(
            _line_of(request, order_uuid, line_id),
            user=request.user,
            reason=request.POST.get("reason", ""),
            approver=approver,
        )

    return _after_change(request, order_uuid, action, message=_("Line voided."))


@pos_view("orders.change_order")
@applied_once
def discount(request, order_uuid):
    if request.method != "POST":
        return _order_tool(request, order_uuid, "pos/_discount.html")
    form = DiscountForm(request.POST)
    if not form.is_valid():
        return render_ticket(request, order_uuid, error=_form_error(form), status=400)
    data = form.cleaned_data

    def action():
        return services.apply_discount(
            _order_id(request, order_uuid),
            user=request.user,
            kind=data["kind"],
            value=data["value"] or Decimal(0),
            reason=data["reason"],
            line_id=_line_of(request, order_uuid, data["line"]) if data["line"] else None,
            approver=approver_from_pin(request),
        )

    return _after_change(request, order_uuid, action, message=_("Discount applied."))


@require_POST
@pos_view("orders.change_order")
@applied_once
def send_to_kitchen(request, order_uuid):
    return _after_change(
        request,
        order_uuid,
        lambda: services.send_to_kitchen(_order_id(request, order_uuid), user=request.user),
        message=lambda tickets: (
            ngettext("Sent to the kitchen: %(count)d ticket.", "Sent to the kitchen: %(count)d tickets.", len(tickets))
            % {"count": len(tickets)}
        ),
    )


@require_POST
@pos_view("orders.change_order")
@applied_once
def hold(request, order_uuid):
    try:
        services.hold_order(_order_id(request, order_uuid), user=request.user)
    except DomainError as exc:
        return render_ticket(request, order_uuid, error=exc.message, status=exc.status)
    return redirect_to(request, reverse("orders:floor"))


@require_POST
@pos_view("orders.change_order")
@applied_once
def resume(request, order_uuid):
    return _after_change(
        request,
        order_uuid,
        lambda: services.resume_order(_order_id(request, order_uuid), user=request.user),
        message=_("Order resumed."),
    )


@pos_view("orders.change_order")
@applied_once
def move_table(request, order_uuid):
    if request.method != "POST":
        return _order_tool(request, order_uuid, "pos/_move.html")
    table_id = _int(request.POST.get("table"))
    return _after_change(
        request,
        order_uuid,
        lambda: services.move_order(_order_id(request, order_uuid), user=request.user, table_id=table_id),
        message=lambda order: (
            _("Moved to %(table)s.") % {"table": order.table} if order.table else _("Moved off its table.")
        ),
    )


@pos_view("orders.change_order")
@applied_once
def void_order(request, order_uuid):
    if request.method != "POST":
        return _order_tool(request, order_uuid, "pos/_void_order.html")
    try:
        services.void_order(
            _order_id(request, order_uuid),
            user=request.user,
            reason=request.POST.get("reason", ""),
            approver=approver_from_pin(request),
        )
    except DomainError as exc:
        return render_ticket(request, order_uuid, error=exc.message, status=exc.status, posted=request.POST)
    return redirect_to(request, reverse("orders:floor"))


@pos_view("orders.change_order")
@applied_once
def split(request, order_uuid):
    """Move some lines (or part of their quantity) to a new order, for a guest who pays apart."""
    order = _order_at_terminal(request, order_uuid)
    error, status = "", 200
    if request.method == "POST":
        try:
            quantities = split_quantities(request.POST, [line.pk for line in order.lines.all()])
            approver = approver_from_pin(request)
            new = services.split_order(order.pk, user=request.user, quantities=quantities, approver=approver)
        except DomainError as exc:
            error, status = exc.message, exc.status
        else:
            return redirect_to(request, reverse("orders:order", args=[new.uuid]))
    context = {
        "order": order,
        "lines": [line for line in order.lines.all() if line.status == "active"],
        "managers": _managers(request),
        "posted": request.POST,
    }
    return pos_render(request, "pos/split.html", {**context, "error": error}, status=status)


def _line_choices(order, line, posted=None) -> dict:
    """The modifier groups of a line's product for its editor, with the options it has (or, after a refusal, the
    ones that were ticked)."""
    if not isinstance(line, OrderLine):
        line = next((item for item in order.lines.all() if item.pk == int(line)), None)
        if line is None:
            return {}
    _unused, groups = displays.modifier_choices(line.product_id)
    if posted is not None and "options_shown" in posted:
        chosen = set(posted.getlist("option"))
    else:
        chosen = {str(i) for i in services.option_ids(line.modifiers)}
    return {"line_groups": groups, "line_chosen": chosen}


def _order_tool(request, order_uuid, template: str):
    """A tool of the order screen (discount, move, void), loaded when its button is first opened."""
    order = _order_at_terminal(request, order_uuid)
    context = {
        "order": order,
        "lines": list(order.lines.all()),
        "managers": _managers(request),
        "tables": Table.objects.filter(location_id=order.location_id, active=True).order_by("section", "sort_order"),
    }
    return pos_render(request, template, context)


def _order_id(request, order_uuid) -> int:
    """The id of an order of this terminal's store (404 otherwise), for the services that take ids."""
    order_id = (
        Order.objects.filter(uuid=order_uuid, location=request.terminal.location).values_list("pk", flat=True).first()
    )
    if order_id is None:
        raise Http404
    return order_id


def _line_of(request, order_uuid, line_id) -> int:
    """A line id, only if the line belongs to this order of this terminal's store (the URL names both)."""
    lines = OrderLine.objects.filter(pk=line_id, order__uuid=order_uuid, order__location=request.terminal.location)
    if not lines.exists():
        raise DomainError("This line is not on this order.", code="not_found", status=404)
    return line_id


def _managers(request):
    return pins.pin_users_for(request.terminal.location, managers_only=True)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _form_error(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@require_POST
@pos_view("orders.change_kitchenticket", lockable=False)
@applied_once
def kitchen_bump(request, ticket_id: int):
    return _kitchen_write(request, kitchen_services.bump_ticket, ticket_id)


@require_POST
@pos_view("orders.change_kitchenticket", lockable=False)
@applied_once
def kitchen_recall(request, ticket_id: int):
    return _kitchen_write(request, kitchen_services.recall_ticket, ticket_id)


def _kitchen_write(request, service, ticket_id: int):
    context = {}
    try:
        service(ticket_id, user=request.user)
    except DomainError as exc:
        context["error"] = exc.message
    if not request.htmx:
        return redirect("orders:kitchen")
    context.update(_kitchen_context(request))
    return pos_render(request, "pos/_kitchen_board.html", context)


# --- The order's customer -----------------------------------------------------------------------------------------


def _customer_panel(request, order, *, error: str = "", message: str = "", status: int = 200, posted=None):
    context = {
        "order": order,
        "customer": selectors.order_customer(order),
        "error": error,
        "message": message,
        "posted": posted or {},
    }
    return pos_render(request, "pos/_customer.html", context, status=status)


@pos_view("orders.view_customer")
@applied_once
def customer(request, order_uuid):
    """GET: the customer panel of the order screen (who is attached, a search box, a new-customer form). POST:
    attach the customer posted (`customer`), or take it off (`detach`); answers with the fresh ticket."""
    order = _order_at_terminal(request, order_uuid)
    if request.method != "POST":
        return _customer_panel(request, order)
    if "detach" in request.POST:
        return _after_change(
            request,
            order_uuid,
            lambda: services.detach_customer(order.pk, user=request.user),
            message=_("Customer taken off the order."),
        )
    customer_id = _int(request.POST.get("customer"))
    if customer_id is None or customer_id <= 0:
        return render_ticket(request, order_uuid, error=_("Choose a customer."), status=400)
    return _after_change(
        request,
        order_uuid,
        lambda: services.attach_customer(order.pk, customer_id=customer_id, user=request.user),
        message=lambda attached: _("Customer: %(name)s.") % {"name": attached.customer.name},
    )


@pos_view("orders.view_customer")
@reads_from_replica
def customer_search(request):
    """The customer panel's results: by phone, e-mail, name, or a scanned card code (orders.selectors)."""
    query = request.GET.get("q", "")
    context = {
        "customers": selectors.search_customers(query),
        "query": query.strip(),
        "order_uuid": request.GET.get("order", ""),
    }
    return pos_render(request, "pos/_customer_results.html", context)


@require_POST
@pos_view("orders.add_customer")
@applied_once
def customer_new(request, order_uuid):
    """Add a customer from the panel's short form (name, phone or e-mail, consent) and attach them to the order.
    A refusal (a duplicate names the customer who has the number) keeps what was typed in the panel."""
    order = _order_at_terminal(request, order_uuid)
    try:
        with transaction.atomic():
            created = services.create_customer(
                user=request.user,
                name=request.POST.get("name", ""),
                phone=request.POST.get("phone", ""),
                email=request.POST.get("email", ""),
                marketing_consent=request.POST.get("marketing_consent") == "on",
            )
            services.attach_customer(order.pk, customer_id=created.pk, user=request.user)
    except DomainError as exc:
        response = retarget(
            _customer_panel(request, order, error=exc.message, status=exc.status, posted=request.POST),
            "#customer-panel",
        )
        response["HX-Reswap"] = "outerHTML"  # the panel replaces itself
        return response
    if not request.htmx:
        return redirect("orders:order", order_uuid)
    return render_ticket(
        request, order_uuid, message=_("New customer %(name)s added to the order.") % {"name": created.name}
    )
