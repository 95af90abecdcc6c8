"""Forms of the POS screens: they only parse and check shape; the rules are in the services."""

from decimal import Decimal

from django import forms
from django.contrib.auth import authenticate

from core.errors import DomainError
from core.money import QTY_DIGITS, QTY_PLACES
from orders.models import Order
from staff.pins import PIN_MAX_CHARS, pin_problem


class PinForm(forms.Form):
    user = forms.IntegerField(error_messages={"required": "Choose who you are."})
    pin = forms.CharField(max_length=PIN_MAX_CHARS, strip=True, error_messages={"required": "Type your PIN."})


class SetPinForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, label="Your password")
    pin = forms.CharField(
        max_length=PIN_MAX_CHARS,
        label="New PIN",
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    pin_again = forms.CharField(
        max_length=PIN_MAX_CHARS, label="New PIN again", widget=forms.PasswordInput(attrs={"inputmode": "numeric"})
    )

    def __init__(self, request, *args, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if authenticate(self.request, username=self.request.user.get_username(), password=password) is None:
            raise forms.ValidationError("That is not your password.")
        return password

    def clean_pin(self):
        if problem := pin_problem(self.cleaned_data["pin"]):
            raise forms.ValidationError(problem)
        return self.cleaned_data["pin"]

    def clean(self):
        data = super().clean()
        if data.get("pin") and data.get("pin") != data.get("pin_again"):
            self.add_error("pin_again", "The two PINs differ.")
        return data


class ManagerApprovalForm(forms.Form):
    """An approving manager and their PIN, for actions a cashier may not do alone."""

    approver = forms.IntegerField(required=False)
    approver_pin = forms.CharField(max_length=PIN_MAX_CHARS, required=False, strip=True)


class OpenOrderForm(forms.Form):
    channel = forms.ChoiceField(choices=Order.Channel.choices)
    table = forms.IntegerField(required=False)
    guest_count = forms.IntegerField(required=False, min_value=1, max_value=500)


def _quantity_field(**kwargs):
    return forms.DecimalField(max_digits=QTY_DIGITS, decimal_places=QTY_PLACES, min_value=0, **kwargs)


class OptionsField(forms.TypedMultipleChoiceField):
    """Chosen option ids (checkboxes named `option`); which ones are allowed is the service's rule."""

    def __init__(self, **kwargs):
        super().__init__(coerce=int, required=False, **kwargs)

    def valid_value(self, value):
        return str(value).isdigit() and 0 < int(value) < 2**31


class AddLineForm(forms.Form):
    """A product button sends `product`; the search box (typed or scanned) sends `code`; the modifier chooser sends
    `product` and the chosen `option`s."""

    product = forms.IntegerField(required=False)
    code = forms.CharField(required=False, max_length=64, strip=True)
    quantity = _quantity_field(required=False)
    course = forms.IntegerField(required=False, min_value=1, max_value=20)
    note = forms.CharField(required=False, max_length=200)
    option = OptionsField()

    def clean(self):
        data = super().clean()
        data["options"] = data.get("option") or []
        if data.get("product") is None and not data.get("code"):
            raise forms.ValidationError("Tap a product or type its name, sku or barcode.")
        return data


def format_modifiers(modifiers: list[dict]) -> str:
    """A line's chosen options in one line: "Medium rare, Bacon +1.50"."""
    parts = []
    for modifier in modifiers or []:
        price = Decimal(str(modifier.get("price") or 0))
        parts.append(f"{modifier['name']} +{price}" if price else modifier["name"])
    return ", ".join(parts)


class ChangeLineForm(forms.Form):
    quantity = _quantity_field(required=False)
    note = forms.CharField(required=False, max_length=200)
    course = forms.IntegerField(required=False, min_value=1, max_value=20)
    option = OptionsField()

    def clean(self):
        data = super().clean()
        data["options"] = data.get("option") or []
        return data


class DiscountForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "None"), ("percent", "Percent"), ("amount", "Amount")], required=False)
    value = forms.DecimalField(required=False, max_digits=14, decimal_places=4, min_value=0)
    reason = forms.CharField(required=False, max_length=200)
    line = forms.IntegerField(required=False)


def split_quantities(data, line_ids: list[int]) -> dict[int, Decimal]:
    """The quantity to move per line, from fields named move_<line id>; empty or zero fields are left out."""
    quantities = {}
    for line_id in line_ids:
        raw = (data.get(f"move_{line_id}") or "").strip()
        if not raw:
            continue
        try:
            quantity = Decimal(raw)
        except ArithmeticError:
            raise DomainError(
                "Quantities are numbers.", code="invalid", fields={f"move_{line_id}": ["Not a number."]}
            ) from None
        if quantity:
            quantities[line_id] = quantity
    return quantities
