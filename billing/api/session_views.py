"""Cash sessions and Z reports over the API: thin views that validate, call billing.sessions, and serialize."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from billing import sessions
from billing.api import session_serializers as s
from billing.models import CashSession, Register, ZReport
from core.errors import NotFound
from core.inputs import choice_param, id_param
from staff.permissions import RoleModelPermissions, requires
from staff.selectors import locations_for


def _approver(request, data, location):
    """The manager signing off: another manager by id and PIN, else nobody (the service lets a manager sign for
    themselves). The PIN goes through the same per-person, per-terminal and per-store limits as on the screens."""
    if not data["approver"]:
        return None
    from staff.pins import terminal_of, verify_manager_pin

    return verify_manager_pin(
        user_id=data["approver"], pin=data["approver_pin"], location=location, terminal=terminal_of(request)
    )


def approver_from(request, data, *, register_id: int):
    """The approving manager named on a request (see ManagerApprovalSerializer) at the store of `register_id`, or
    None. A till the caller cannot use is refused before any PIN is tried, so the answer never tells a right PIN from
    a wrong one and every guess counts against the till's own store."""
    if not data["approver"]:
        return None
    register = (
        Register.objects.select_related("location")
        .filter(pk=register_id, location__in=locations_for(request.user))
        .first()
    )
    if register is None:
        raise NotFound("Unknown register at this location.", fields={"register": ["Unknown register."]})
    return _approver(request, data, register.location)


class RegisterViewSet(viewsets.ReadOnlyModelViewSet):
    """Tills at the caller's locations, with the id of their open session (if any)."""

    serializer_class = s.RegisterSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    queryset = Register.objects.none()

    def get_queryset(self):
        open_sessions = CashSession.objects.filter(status=CashSession.Status.OPEN)
        return (
            Register.objects.filter(location__in=locations_for(self.request.user))
            .prefetch_related(Prefetch("sessions", queryset=open_sessions, to_attr="open_sessions"))
            .order_by("location", "name")
        )


class CashSessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Open a till, move cash, read the X report, close with a blind count."""

    serializer_class = s.CashSessionSerializer
    queryset = CashSession.objects.none()
    required_scope = "sell"  # API clients: staff/auth.py

    def get_permissions(self):
        needed = {
            "create": ("billing.add_cashsession",),
            "pay_in": ("billing.add_cashmovement",),
            "pay_out": ("billing.add_cashmovement",),
            "no_sale": ("billing.add_cashmovement",),
            "close": ("billing.change_cashsession",),
            "print_x_report": ("billing.view_cashsession",),
        }.get(self.action, ("billing.view_cashsession",))
        return [IsAuthenticated(), requires(*needed)()]

    def get_queryset(self):
        queryset = CashSession.objects.filter(register__location__in=locations_for(self.request.user)).select_related(
            "register", "opened_by", "closed_by", "approved_by", "z_report"
        )
        if (register := id_param(self.request, "register")) is not None:
            queryset = queryset.filter(register_id=register)
        if (status := choice_param(self.request, "status", CashSession.Status.values)) is not None:
            queryset = queryset.filter(status=status)
        return queryset.order_by("-opened_at", "-id")

    def _session_id(self) -> int:
        return self.get_object().pk

    def _movement(self, request, data) -> dict:
        location = self.get_object().register.location
        return {"amount": data["amount"], "reason": data["reason"], "approver": _approver(request, data, location)}

    @extend_schema(request=s.OpenSessionSerializer, responses={201: s.CashSessionSerializer})
    def create(self, request):
        data = _valid(s.OpenSessionSerializer, request)
        session = sessions.open_session(
            register_id=data["register"],
            user=request.user,
            opening_float=data["opening_float"],
            float_denominations=data["float_denominations"] or None,
        )
        return Response(s.CashSessionSerializer(session).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CashMovementInputSerializer, responses={201: s.CashMovementSerializer})
    @action(detail=True, methods=["post"], url_path="pay-in")
    def pay_in(self, request, pk=None):
        data = _valid(s.CashMovementInputSerializer, request)
        movement = sessions.pay_in(session_id=self._session_id(), user=request.user, **self._movement(request, data))
        return Response(s.CashMovementSerializer(movement).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CashMovementInputSerializer, responses={201: s.CashMovementSerializer})
    @action(detail=True, methods=["post"], url_path="pay-out")
    def pay_out(self, request, pk=None):
        data = _valid(s.CashMovementInputSerializer, request)
        movement = sessions.pay_out(session_id=self._session_id(), user=request.user, **self._movement(request, data))
        return Response(s.CashMovementSerializer(movement).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.NoSaleSerializer, responses={201: s.CashMovementSerializer})
    @action(detail=True, methods=["post"], url_path="no-sale")
    def no_sale(self, request, pk=None):
        data = _valid(s.NoSaleSerializer, request)
        movement = sessions.no_sale(session_id=self._session_id(), user=request.user, reason=data["reason"])
        return Response(s.CashMovementSerializer(movement).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"], url_path="x-report")
    def x_report(self, request, pk=None):
        """Running totals. Blind for non-managers: nothing that gives away the cash expected in the drawer."""
        return Response(sessions.x_report(session_id=self._session_id(), user=request.user))

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"], url_path="x-report/print")
    def print_x_report(self, request, pk=None):
        return Response(
            sessions.print_x_report(session_id=self._session_id(), user=request.user), status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=s.CloseSessionSerializer, responses={201: s.ZReportSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Submit the blind count and close: answers with the Z report (expected and over/short included)."""
        data = _valid(s.CloseSessionSerializer, request)
        session = self.get_object()
        z = sessions.close_session(
            session_id=session.pk,
            user=request.user,
            denominations=data["denominations"],
            approver=_approver(request, data, session.register.location),
            note=data["note"],
        )
        return Response(s.ZReportSerializer(z).data, status=status.HTTP_201_CREATED)


class ZReportViewSet(viewsets.ReadOnlyModelViewSet):
    """Z reports are read-only: no create, update or delete here (they are written by closing a session)."""

    serializer_class = s.ZReportSerializer
    permission_classes = [IsAuthenticated, RoleModelPermissions]
    queryset = ZReport.objects.none()

    def get_permissions(self):
        if self.action == "reprint":
            return [IsAuthenticated(), requires("billing.view_zreport")()]
        return super().get_permissions()

    def get_queryset(self):
        queryset = ZReport.objects.filter(register__location__in=locations_for(self.request.user)).select_related(
            "register"
        )
        if (register := id_param(self.request, "register")) is not None:
            queryset = queryset.filter(register_id=register)
        return queryset.order_by("register", "-number")

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"])
    def reprint(self, request, pk=None):
        """Queue a copy on the register's printer; it prints with COPY."""
        job = sessions.reprint_z_report(z_report_id=self.get_object().pk, user=request.user)
        return Response({"print_job": job.pk, "is_copy": job.is_copy}, status=status.HTTP_202_ACCEPTED)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
