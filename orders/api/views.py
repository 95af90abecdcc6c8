"""Orders API: thin — validate, call orders.services, serialise. Scoped to the user's locations."""

from django.db.models import Count, Prefetch, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.errors import NotFound
from core.idempotent_api import key_parameter, respond_once
from core.inputs import choice_param, clean_id, id_param
from orders import pricing, selectors, services
from orders.api import serializers as s
from orders.models import Customer, Order, OrderLine, Table
from staff.permissions import has_perms
from staff.selectors import locations_for


def order_queryset(user):
    return (
        Order.objects.filter(location__in=locations_for(user))
        .select_related("location")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("course", "id")))
    )


def order_body(order_id: int) -> dict:
    """The order as the API shows it (read after the service's transaction, so it is what was saved)."""
    order = Order.objects.prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("course", "id")))
    return s.OrderSerializer(order.get(pk=order_id)).data


@extend_schema_view(
    list=extend_schema(
        summary="Orders at your locations",
        parameters=[
            OpenApiParameter("status", str, enum=Order.Status.values),
            OpenApiParameter("location", int),
            OpenApiParameter("table", int),
        ],
    ),
    retrieve=extend_schema(summary="One order with its lines"),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.OrderSerializer
    lookup_field = "uuid"
    required_scope = "sell"  # API clients: staff/auth.py
    permission_classes = [has_perms("orders.change_order", read_perm="orders.view_order")]

    def get_queryset(self):
        queryset = order_queryset(self.request.user)
        if (status := choice_param(self.request, "status", Order.Status.values)) is not None:
            queryset = queryset.filter(status=status)
        for name in ("location", "table"):
            if (value := id_param(self.request, name)) is not None:
                queryset = queryset.filter(**{f"{name}_id": value})
        return queryset

    def _order_id(self) -> int:
        return self.get_object().pk

    def _parse(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer

    @extend_schema(
        summary="Open an order, with its lines in the same call",
        request=s.OrderCreateSerializer,
        responses={201: s.OrderSerializer},
        parameters=[key_parameter(required=False)],
    )
    def create(self, request):
        data = self._parse(s.OrderCreateSerializer)

        def action():
            order = services.open_order(
                location_id=data.validated_data["location"],
                user=request.user,
                channel=data.validated_data["channel"],
                table_id=data.validated_data["table"],
                guest_count=data.validated_data["guest_count"],
                note=data.validated_data["note"],
                lines=data.to_lines(),
            )
            return status.HTTP_201_CREATED, order_body(order.pk)

        return respond_once(request, endpoint="orders.create", action=action, required=False)

    @extend_schema(
        summary="Add lines to an open order (with `merge`, identical unsent lines grow instead)",
        request=s.LinesSerializer,
        responses={201: s.OrderSerializer},
        parameters=[key_parameter(required=False)],
    )
    @action(detail=True, methods=["post"])
    def lines(self, request, uuid=None):
        order_id = self._order_id()
        data = self._parse(s.LinesSerializer)

        def action():
            merge = data.validated_data["merge"]
            services.add_lines(order_id, user=request.user, lines=data.to_lines(), merge=merge)
            return status.HTTP_201_CREATED, order_body(order_id)

        return respond_once(request, endpoint=f"orders.lines:{order_id}", action=action, required=False)

    @extend_schema(
        summary="Void one line (reason required; a manager for sent lines or someone else's)",
        request=s.ReasonSerializer,
        responses={200: s.OrderSerializer},
    )
    @action(detail=True, methods=["post"], url_path=r"lines/(?P<line_id>\d+)/void")
    def void_line(self, request, uuid=None, line_id=None):
        order_id = self._order_id()
        if not OrderLine.objects.filter(pk=line_id, order_id=order_id).exists():
            raise NotFound("Unknown line of this order.")
        data = self._parse(s.ReasonSerializer)
        services.void_line(int(line_id), user=request.user, reason=data.validated_data["reason"])
        return Response(order_body(order_id))

    @extend_schema(summary="Void the whole order", request=s.ReasonSerializer, responses={200: s.OrderSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request, uuid=None):
        order_id = self._order_id()
        data = self._parse(s.ReasonSerializer)
        services.void_order(order_id, user=request.user, reason=data.validated_data["reason"])
        return Response(order_body(order_id))

    @extend_schema(
        summary="Discount the order or one line (percent or amount; over your role's limit a manager)",
        request=s.DiscountSerializer,
        responses={200: s.OrderSerializer},
    )
    @action(detail=True, methods=["post"])
    def discount(self, request, uuid=None):
        order_id = self._order_id()
        data = self._parse(s.DiscountSerializer).validated_data
        services.apply_discount(
            order_id,
            user=request.user,
            kind=data["kind"],
            value=data["value"],
            reason=data["reason"],
            line_id=data["line"],
        )
        return Response(order_body(order_id))

    @extend_schema(
        summary="Split by lines (returns the new order) or evenly (returns the shares to pay)",
        request=s.SplitSerializer,
        responses={201: s.OrderSerializer, 200: s.EvenSplitSerializer},
    )
    @action(detail=True, methods=["post"])
    def split(self, request, uuid=None):
        order = self.get_object()
        data = self._parse(s.SplitSerializer).validated_data
        if data["mode"] == "even":
            shares = pricing.split_evenly(order.total, data["parts"])
            return Response(s.EvenSplitSerializer({"total": order.total, "parts": shares}).data)
        quantities = {}
        for item in data["lines"]:
            quantities[item["line"]] = quantities.get(item["line"], 0) + item["quantity"]
        new = services.split_order(order.pk, user=request.user, quantities=quantities)
        return Response(order_body(new.pk), status=status.HTTP_201_CREATED)

    @extend_schema(summary="Move the order to another table", request=s.MoveSerializer, responses=s.OrderSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, uuid=None):
        order_id = self._order_id()
        data = self._parse(s.MoveSerializer).validated_data
        services.move_order(order_id, user=request.user, table_id=data["table"])
        return Response(order_body(order_id))

    @extend_schema(summary="Merge this order into another one", request=s.MergeSerializer, responses=s.OrderSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request, uuid=None):
        order_id = self._order_id()
        data = self._parse(s.MergeSerializer).validated_data
        target = self.get_queryset().filter(uuid=data["into"]).values_list("pk", flat=True).first()
        if target is None:
            raise NotFound("Unknown order to merge into.", fields={"into": ["Unknown order."]})
        services.merge_orders(source_id=order_id, target_id=target, user=request.user)
        return Response(order_body(target))

    @extend_schema(
        summary="Attach a customer (open orders, or paid ones until their cash session is closed; audited then)",
        request=s.AttachCustomerSerializer,
        responses=s.OrderSerializer,
        parameters=[key_parameter(required=False)],
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[has_perms("orders.change_order", "orders.view_customer")],
    )
    def customer(self, request, uuid=None):
        order_id = self._order_id()
        data = self._parse(s.AttachCustomerSerializer).validated_data

        def action():
            services.attach_customer(order_id, customer_id=data["customer"], user=request.user)
            return status.HTTP_200_OK, order_body(order_id)

        return respond_once(request, endpoint=f"orders.customer:{order_id}", action=action, required=False)

    @extend_schema(
        summary="Take the customer off the order (on the same terms)", request=None, responses=s.OrderSerializer
    )
    @customer.mapping.delete
    def detach_customer(self, request, uuid=None):
        order_id = self._order_id()
        services.detach_customer(order_id, user=request.user)
        return Response(order_body(order_id))

    @extend_schema(summary="Hold (park) the order", request=None, responses=s.OrderSerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request, uuid=None):
        order_id = self._order_id()
        services.hold_order(order_id, user=request.user)
        return Response(order_body(order_id))

    @extend_schema(summary="Resume a held order", request=None, responses=s.OrderSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, uuid=None):
        order_id = self._order_id()
        services.resume_order(order_id, user=request.user)
        return Response(order_body(order_id))

    @extend_schema(
        summary="Send the new lines to the kitchen (one ticket per station and course)",
        request=None,
        responses={201: s.KitchenTicketSerializer(many=True)},
    )
    @action(detail=True, methods=["post"])
    def send(self, request, uuid=None):
        tickets = services.send_to_kitchen(self._order_id(), user=request.user)
        for ticket in tickets:
            ticket._prefetched_objects_cache = {"lines": OrderLine.objects.filter(kitchen_ticket=ticket)}
        return Response(s.KitchenTicketSerializer(tickets, many=True).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="Tables at your locations, with their open orders"))
class TableViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = s.TableSerializer
    permission_classes = [has_perms("orders.view_table", read_perm="orders.view_table")]

    def get_queryset(self):
        queryset = Table.objects.filter(location__in=locations_for(self.request.user), active=True).annotate(
            open_orders=Count("orders", filter=Q(orders__status__in=[Order.Status.OPEN, Order.Status.HELD]))
        )
        if (location := id_param(self.request, "location")) is not None:
            queryset = queryset.filter(location_id=location)
        return queryset


# --- Customers ----------------------------------------------------------------------------------------------------


def customer_detail_body(customer_id: int) -> dict:
    customer = Customer.objects.get(pk=customer_id)
    customer.summary = selectors.customer_summary(customer)  # type: ignore[attr-defined]
    customer.purchases = selectors.purchase_history(customer)  # type: ignore[attr-defined]
    return s.CustomerDetailSerializer(customer).data


@extend_schema_view(
    list=extend_schema(
        summary="Find customers (by phone, e-mail, name or card code), or list them by name",
        parameters=[
            OpenApiParameter("q", str, description="What a till's search box takes: up to 20 matches, best first.")
        ],
    ),
    retrieve=extend_schema(
        summary="One customer with their lifetime figures and latest purchases", responses=s.CustomerDetailSerializer
    ),
)
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Customers are shared by every store. Cashiers (and sell tokens) find and add them; merging, exporting and
    erasing are a manager's (manage tokens)."""

    serializer_class = s.CustomerSerializer
    permission_classes = [has_perms("orders.add_customer", read_perm="orders.view_customer")]
    manager_actions = {
        "merge": "orders.merge_customer",
        "export": "orders.export_customer",
        "erase": "orders.erase_customer",
    }

    def get_permissions(self):
        if self.action in self.manager_actions:
            return [has_perms(self.manager_actions[self.action])()]
        if self.action == "consent":
            return [has_perms("orders.view_customer")()]
        return super().get_permissions()

    @property
    def required_scope(self) -> str:
        """What a token needs to write here (staff/auth.py): "manage" for a manager's actions, "sell" otherwise."""
        return "manage" if getattr(self, "action", None) in self.manager_actions else "sell"

    def get_queryset(self):
        return selectors.live_customers().order_by("name", "pk")

    def get_object(self):
        customer = Customer.objects.filter(pk=clean_id(self.kwargs["pk"], "id")).first()
        if customer is None:
            raise NotFound("Unknown customer.")
        return customer

    def list(self, request):
        query = request.query_params.get("q")
        if query is None:
            return super().list(request)
        page = self.paginate_queryset(selectors.search_customers(query))  # type: ignore[arg-type]  # a list pages too
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(customer_detail_body(self.get_object().pk))

    @extend_schema(
        summary="Add a customer (a phone or an e-mail is needed; duplicates answer 409 duplicate_customer)",
        request=s.CustomerCreateSerializer,
        responses={201: s.CustomerSerializer},
        parameters=[key_parameter(required=False)],
    )
    def create(self, request):
        data = self._parse(s.CustomerCreateSerializer).validated_data

        def action():
            customer = services.create_customer(user=request.user, **data)
            return status.HTTP_201_CREATED, s.CustomerSerializer(customer).data

        return respond_once(request, endpoint="customers.create", action=action, required=False)

    def _parse(self, serializer_class):
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer

    @extend_schema(
        summary="Record marketing consent given (dated now) or withdrawn",
        request=s.ConsentSerializer,
        responses=s.CustomerSerializer,
    )
    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        customer_id = self.get_object().pk
        data = self._parse(s.ConsentSerializer).validated_data
        customer = services.set_marketing_consent(customer_id, consent=data["consent"], user=request.user)
        return Response(s.CustomerSerializer(customer).data)

    @extend_schema(
        summary="Merge this customer into another (managers): orders move to the survivor; audited",
        request=s.CustomerMergeSerializer,
        responses=s.CustomerDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        customer_id = self.get_object().pk
        data = self._parse(s.CustomerMergeSerializer).validated_data
        survivor = services.merge_customers(source_id=customer_id, into_id=data["into"], user=request.user)
        return Response(customer_detail_body(survivor.pk))

    @extend_schema(
        summary="Everything kept about this customer, as JSON (managers); audited",
        request=None,
        responses=s.CustomerExportSerializer,
    )
    @action(detail=True, methods=["post"])
    def export(self, request, pk=None):
        return Response(services.export_customer(self.get_object().pk, user=request.user))

    @extend_schema(
        summary='Erase this customer\'s personal data, irreversibly (managers; body {"confirm": "erase"}); '
        "their orders keep their totals; audited",
        request=s.EraseSerializer,
        responses=s.CustomerSerializer,
    )
    @action(detail=True, methods=["post"])
    def erase(self, request, pk=None):
        customer_id = self.get_object().pk
        self._parse(s.EraseSerializer)
        return Response(s.CustomerSerializer(services.erase_customer(customer_id, user=request.user)).data)
