"""Pairing screens: the code an unpaired device shows (and polls until a manager confirms it), a manager pairing the
device in front of them directly, and the manager's "Pair a device" page where a code is confirmed."""

from urllib.parse import urlsplit

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from core.client_ip import client_ip
from core.errors import DomainError
from core.inputs import clean_id
from staff import terminals
from staff.middleware import SESSION_PIN_ONLY
from staff.models import Terminal

PAIR_PERMISSION = "staff.change_terminal"


def _next(request) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url.startswith("/pos/") and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return url
    return reverse("orders:floor")


def can_pair_here(request) -> bool:
    """A manager signed in with a password (not by PIN) may pair the device in front of them."""
    user = request.user
    return user.is_authenticated and user.has_perm(PAIR_PERMISSION) and not request.session.get(SESSION_PIN_ONLY)


def pairing_screen(request, *, message: str = "", status: int = 403, error: str = ""):
    """What an unpaired (or revoked) device sees on every POS screen: its pairing code, and for a manager signed in
    on it, the terminals it can be paired as."""
    if getattr(request, "htmx", False):  # back to the page the request came from, once paired
        page = urlsplit(request.htmx.current_url or "").path or reverse("orders:floor")
        return HttpResponseClientRedirect(f"{reverse('terminals:pair')}?{urlencode({'next': page})}")
    pos_page = request.path.startswith("/pos/") and not request.path.startswith(reverse("terminals:pair"))
    code, row = terminals.pending_pairing(request)
    cookie = ""
    if row is None:
        try:
            code, cookie = terminals.start_pairing(client_address=client_ip(request))
        except DomainError as exc:
            error = error or exc.message
    context = {
        "unpaired": True,
        "message": message,
        "error": error,
        "code": code,
        "code_minutes": terminals.code_minutes(),
        "next": request.get_full_path() if request.method == "GET" and pos_page else _next(request),
        "can_pair": can_pair_here(request),
        "terminals": terminals.pairable_terminals(request.user) if can_pair_here(request) else [],
    }
    response = render(request, "pos/pair.html", context, status=status)
    if cookie:
        terminals.set_pairing_cookie(response, cookie)
    return response


@require_GET
def pair(request):
    """The pairing screen at its own address (where a device is sent from an htmx request, and back after errors)."""
    terminal, problem = terminals.device_terminal(request)
    if terminal is not None:
        return redirect(_next(request))
    return pairing_screen(request, message=problem, status=200)


@require_GET
def pair_status(request):
    """The pairing screen's poll: once a manager confirmed this device's code, its cookie and the POS; a new code
    when the old one expired; nothing (204) while it waits."""
    collected = terminals.collect_pairing(request)
    if collected is not None:
        terminal, generation = collected
        response = HttpResponseClientRedirect(_next(request))
        terminals.set_device_cookie(response, terminal, generation=generation)
        return response
    code, row = terminals.pending_pairing(request)
    if row is None:
        return HttpResponseClientRefresh()
    return render(request, "pos/_pair_wait.html", {"code": code}, status=200)


@require_POST
def pair_direct(request):
    """A manager signed in on the unpaired device pairs it as one of their terminals."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={reverse('terminals:pair')}")
    if not can_pair_here(request):
        return pairing_screen(request, error="Only a manager signed in with a password can pair this device.")
    try:
        terminal_id = clean_id(request.POST.get("terminal") or "", "terminal")
        terminal = terminals.pair(terminal_id=terminal_id, actor=request.user, how="direct")
    except DomainError as exc:
        return pairing_screen(request, error=exc.message, status=400)
    response = redirect(_next(request))
    terminals.set_device_cookie(response, terminal)
    return response


class ConfirmCodeForm(forms.Form):
    code = forms.CharField(max_length=16, label=_("Code shown on the device"))
    terminal: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=Terminal.objects.none(), label=_("Pair it as"), empty_label=None
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["terminal"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = terminals.pairable_terminals(user)


@login_required
@permission_required(PAIR_PERMISSION, raise_exception=True)
def pair_device(request):
    """The manager's "Pair a device" page: type the code the new device shows, choose the terminal it becomes."""
    form = ConfirmCodeForm(request.user, request.POST or None)
    paired = None
    if request.method == "POST" and form.is_valid():
        try:
            paired = terminals.confirm_code(
                code=form.cleaned_data["code"], terminal_id=form.cleaned_data["terminal"].pk, actor=request.user
            )
        except DomainError as exc:
            form.add_error("code" if "code" in exc.fields or exc.code == "rate_limited" else None, exc.message)
        else:
            form = ConfirmCodeForm(request.user)
    status = 400 if form.errors else 200
    return render(request, "pos/pair_device.html", {"form": form, "paired": paired, "unpaired": True}, status=status)


class LoginView(auth_views.LoginView):
    """Sign-in; on a paired terminal, with nowhere else asked for, it lands on the POS (the terminal's till and its
    open session) rather than the start page."""

    def get_default_redirect_url(self):
        if terminals.device_terminal(self.request)[0] is not None:
            return reverse("orders:floor")
        return super().get_default_redirect_url()
