"""The setup page's inputs: the store, tax rates, registers, tables and staff, each a form (the rows a formset) whose
prefix is the key billing.setup uses for its problems ("store-code", "tax-0-percent", "register-1-host" ...)."""

from decimal import Decimal

from django import forms

from billing import setup
from billing.models import Printer
from billing.setup import MAX_CASH_ROUNDING, RegisterInput, StaffInput, StoreInput, TaxRateInput
from inventory.models import Location
from staff.pins import PIN_MAX_CHARS
from staff.roles import CASHIER, KITCHEN, MANAGER, WAITER

NO_PRINTER = ""


class StoreForm(forms.Form):
    name = forms.CharField(max_length=120, label="Store name")
    code = forms.SlugField(
        max_length=32, label="Short code", help_text="Letters, digits and dashes: used in catalogue files (stock:code)."
    )
    legal_name = forms.CharField(max_length=200, label="Legal name", help_text="Printed on receipts.")
    address = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    tax_id = forms.CharField(max_length=40, label="Tax ID", required=False, help_text="VAT/GST number.")
    prices_include_tax = forms.TypedChoiceField(
        label="Shelf prices",
        choices=[("1", "include tax"), ("0", "have tax added on top")],
        coerce=lambda value: value == "1",
        initial="1",
    )
    cash_rounding = forms.DecimalField(
        min_value=Decimal(0),
        max_value=MAX_CASH_ROUNDING,
        max_digits=10,
        decimal_places=4,
        initial=Decimal("0"),
        help_text="Cash totals are rounded to this step (0.05, 100); 0 for none.",
    )
    service_charge_percent = forms.DecimalField(
        label="Service charge %",
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
        initial=Decimal("0"),
        help_text="Added to dine-in orders; 0 for none.",
    )
    service_charge_base = forms.ChoiceField(
        label="Service charge is taken of",
        choices=Location.ServiceChargeBase.choices,
        initial=Location.ServiceChargeBase.BEFORE_TAX,
    )

    def clean_code(self):
        code = self.cleaned_data["code"]
        if problem := setup.store_code_problem(code):
            raise forms.ValidationError(problem)
        return code

    def data_for_setup(self) -> StoreInput:
        return StoreInput(**self.cleaned_data)


class TaxRateForm(forms.Form):
    name = forms.CharField(max_length=40, required=False)
    percent = forms.DecimalField(
        min_value=Decimal(0), max_value=Decimal(100), max_digits=6, decimal_places=3, required=False
    )

    def clean(self):
        data = super().clean() or {}
        if data.get("name") and data.get("percent") is None:
            self.add_error("percent", "Give the rate.")
        if data.get("percent") is not None and not data.get("name"):
            self.add_error("name", "Give the rate a name.")
        named = data.get("name") and data.get("percent") is not None
        if named and (problem := setup.tax_rate_problem(data["name"], data["percent"])):
            self.add_error("name", problem)
        return data

    def data_for_setup(self) -> TaxRateInput | None:
        if not self.cleaned_data.get("name"):
            return None
        return TaxRateInput(name=self.cleaned_data["name"], percent=self.cleaned_data["percent"])


class RegisterForm(forms.Form):
    name = forms.CharField(max_length=60, required=False, label="Register")
    connection = forms.ChoiceField(
        label="Receipt printer",
        required=False,
        choices=[(NO_PRINTER, "none yet"), *Printer.Connection.choices],
    )
    host = forms.CharField(max_length=255, required=False, label="Host (network)")
    port = forms.IntegerField(min_value=1, max_value=65535, initial=9100, required=False)
    device_path = forms.CharField(max_length=255, required=False, label="Device path (file)")
    paper_width_mm = forms.TypedChoiceField(
        label="Paper", choices=[(80, "80 mm"), (58, "58 mm")], coerce=int, initial=80, required=False
    )

    def clean(self):
        data = super().clean() or {}
        if not data.get("name") and (data.get("host") or data.get("device_path")):
            self.add_error("name", "Name the register this printer belongs to.")
        if data.get("name") and data.get("connection") == Printer.Connection.NETWORK and not data.get("host"):
            self.add_error("host", "A network printer needs a host.")
        if data.get("name") and data.get("connection") == Printer.Connection.FILE and not data.get("device_path"):
            self.add_error("device_path", "A file printer needs a device path.")
        if not self.errors and (row := self.data_for_setup()) and row.connection:
            for name, message in setup.printer_problems(row).items():
                self.add_error(name if name in self.fields else None, message)
        return data

    def data_for_setup(self) -> RegisterInput | None:
        data = self.cleaned_data
        if not data.get("name"):
            return None
        return RegisterInput(
            name=data["name"],
            connection=data.get("connection") or "",
            host=data.get("host") or "",
            port=data.get("port") or 9100,
            device_path=data.get("device_path") or "",
            paper_width_mm=data.get("paper_width_mm") or 80,
        )


class TablesForm(forms.Form):
    tables = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Main room: 1-12\nTerrace: T1-T6"}),
        help_text="One line per section: its name, a colon, then table names or ranges. Leave empty for a shop.",
    )

    def clean_tables(self):
        text = self.cleaned_data["tables"]
        try:
            setup.parse_tables(text)
        except setup.DomainError as error:
            raise forms.ValidationError(error.message) from None
        return text


class StaffForm(forms.Form):
    ROLE_CHOICES = [("", "—"), (CASHIER, "Cashier"), (WAITER, "Waiter"), (KITCHEN, "Kitchen"), (MANAGER, "Manager")]

    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        required=False,
        error_messages={"invalid": "Letters, digits and @ . + - _ only."},
    )
    first_name = forms.CharField(max_length=150, required=False, label="First name")
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)
    pin = forms.CharField(
        max_length=PIN_MAX_CHARS,
        required=False,
        label="PIN",
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
    )
    password = forms.CharField(
        required=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Optional: without one they sign in by PIN only.",
    )

    def clean(self):
        data = super().clean() or {}
        if data.get("username"):
            if not data.get("role"):
                self.add_error("role", "Choose a role.")
            if not data.get("pin"):
                self.add_error("pin", "Give a PIN.")
            if not self.errors and (person := self.data_for_setup()):
                for name, messages in setup.staff_problems(person).items():
                    for message in messages:
                        self.add_error(name, message)
        elif data.get("pin") or data.get("password"):
            self.add_error("username", "Give a username.")
        return data

    def data_for_setup(self) -> StaffInput | None:
        data = self.cleaned_data
        if not data.get("username"):
            return None
        return StaffInput(
            username=data["username"],
            first_name=data.get("first_name") or "",
            role=data["role"],
            pin=data["pin"],
            password=data.get("password") or "",
        )


TaxRateFormSet = forms.formset_factory(TaxRateForm, extra=3, max_num=10, absolute_max=10)
RegisterFormSet = forms.formset_factory(RegisterForm, extra=2, max_num=10, absolute_max=10)
StaffFormSet = forms.formset_factory(StaffForm, extra=4, max_num=20, absolute_max=20)


class SetupForms:
    """All the setup page's forms bound to one POST (or unbound for a blank page)."""

    def __init__(self, data=None):
        self.store = StoreForm(data, prefix="store")
        self.taxes = TaxRateFormSet(data, prefix="tax")
        self.registers = RegisterFormSet(data, prefix="register")
        self.tables = TablesForm(data, prefix="tables")
        self.staff = StaffFormSet(data, prefix="staff")
        self.problems: list[str] = []

    def all(self) -> list[forms.BaseForm]:
        return [self.store, self.tables, *self.taxes.forms, *self.registers.forms, *self.staff.forms]

    def is_valid(self) -> bool:
        # Each form's is_valid, every one of them, so that every error shows at once.
        results = [self.store.is_valid(), self.tables.is_valid()]
        results += [formset.is_valid() for formset in (self.taxes, self.registers, self.staff)]
        for formset in (self.taxes, self.registers, self.staff):
            self.problems += [str(error) for error in formset.non_form_errors()]
        return all(results)

    def add_problems(self, fields: dict[str, list[str]]) -> None:
        """Put the setup service's problems beside their inputs ("register-1-host" → that register's host)."""
        by_prefix = {form.prefix: form for form in self.all()}
        for key, messages in fields.items():
            prefix, _, name = key.rpartition("-")
            if key == "tables":
                prefix, name = "tables", "tables"
            form = by_prefix.get(prefix)
            for message in messages:
                if form is not None and name in form.fields:
                    form.add_error(name, message)
                else:
                    self.problems.append(message)

    @property
    def error_count(self) -> int:
        return sum(len(errors) for form in self.all() for errors in form.errors.values()) + len(self.problems)
