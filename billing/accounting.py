"""The end-of-day accounting export: one store's local day as a bookkeeper posts it — revenue by tax rate (taxable
base and tax), service charge, tips, tenders, vouchers, refunds and the cash over/short of the day's Z reports.

Every figure comes from the sales reports (billing.reports, so from billing.figures, read from the daily rollups
for a whole closed day and from the raw rows otherwise): the export, the report screens and the Z agree to the
cent. The JSON document is described field by field in docs/ACCOUNTING_EXPORT.md; the CSV has one line per
figure (`store,day,section,item,field,value`) so that it loads into a spreadsheet or an accounting import as is.

`write_export(...)` stores both under `exports/<store>/<day>.json|.csv` in the backups storage (replacing any
earlier copy: exporting a day twice leaves the same two files) and names them in the notifier.
"""

import csv
import io
import json
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from billing import figures, reports
from billing.models import Payment, ZReport
from core.money import ZERO, quantize
from core.notify import notify
from inventory.models import Location

FORMAT = 1
GIFT_TENDERS = (Payment.Tender.VOUCHER, Payment.Tender.GIFT_CARD)


def _m(value: Decimal) -> str:
    return str(quantize(value))


def day_export(location: Location, day: date) -> dict:
    """The accounting export of `location` for local `day` (JSON-ready: money as strings with the currency's
    places). Raises DomainError "invalid" for a day outside the reports' range."""
    p = reports.period(location=location, date_from=day, date_to=day)
    summary = reports.summary(p)
    rates = reports.by_tax_rate(p)
    tenders = reports.tender_sums(p)
    f = figures.figures_from(reports.period_sums(p))
    z_reports = list(
        ZReport.objects.filter(
            register__location=location, session__closed_at__gte=p.start, session__closed_at__lt=p.end
        )
        .select_related("register", "session")
        .order_by("register__name", "number")
    )
    cash = [
        {
            "register": z.register.name,
            "z_number": z.number,
            "closed_at": timezone.localtime(z.session.closed_at).isoformat(),
            "expected": _m(z.session.expected_cash or ZERO),
            "counted": _m(z.session.counted_cash or ZERO),
            "over_short": _m(z.session.over_short or ZERO),
        }
        for z in z_reports
    ]
    over_short = sum((z.session.over_short or ZERO for z in z_reports), ZERO)
    return {
        "format": FORMAT,
        "store": {"id": location.pk, "code": location.code, "name": location.name},
        "day": day.isoformat(),
        "time_zone": settings.TIME_ZONE,
        "currency_decimals": settings.POS_CURRENCY_DECIMALS,
        "revenue": {
            "by_tax_rate": [
                {
                    "rate": row["rate"],
                    "percent": str(row["percent"]),
                    "base": str(row["net_base"]),
                    "tax": str(row["tax_due"]),
                }
                for row in rates
            ],
            "goods_base": _m(f.net_goods_of_tax),
            "tax": _m(f.net_tax),
            "service_charge": _m(f.net_service_charge),
            "net_sales": _m(f.net_sales),
            "discounts": _m(f.discounts),
            "orders": f.orders,
        },
        "service_charge": {
            "charged": _m(f.service_charge),
            "refunded": _m(f.refund_service_charge),
            "net": _m(f.net_service_charge),
        },
        "tips": _m(f.tips),
        "rounding": _m(f.rounding),
        "tenders": [
            {
                "tender": tender,
                "count": tenders[tender]["count"],
                "taken": _m(tenders[tender]["amount"]),
                "tips": _m(tenders[tender]["tips"]),
                "refunded": _m(tenders[tender]["refunds"]),
                "net": _m(tenders[tender]["amount"] - tenders[tender]["refunds"]),
            }
            for tender in Payment.Tender.values
            if tender in tenders
        ],
        "vouchers": {
            "taken": _m(sum((tenders[t]["amount"] for t in GIFT_TENDERS if t in tenders), ZERO)),
            "refunded": _m(sum((tenders[t]["refunds"] for t in GIFT_TENDERS if t in tenders), ZERO)),
        },
        "gift_cards": {key: _m(value) for key, value in reports.gift_card_liability(p).items()},
        "refunds": {"count": f.refund_count, "amount": _m(f.refunds), "tax": _m(f.refund_tax)},
        "cash": {"z_reports": cash, "over_short": _m(over_short)},
        "summary": _plain(summary),
    }


def _plain(summary: dict) -> dict:
    return {key: str(value) if isinstance(value, Decimal) else value for key, value in summary.items()}


def as_csv(export: dict) -> str:
    """One line per figure: store, day, section, item, field, value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["store", "day", "section", "item", "field", "value"])
    store, day = export["store"]["code"], export["day"]

    def line(section: str, item: str, field: str, value) -> None:
        writer.writerow([store, day, section, item, field, value])

    for rate in export["revenue"]["by_tax_rate"]:
        item = f"{rate['rate']} ({rate['percent']}%)"
        line("revenue", item, "base", rate["base"])
        line("revenue", item, "tax", rate["tax"])
    for field in ("goods_base", "tax", "service_charge", "net_sales", "discounts", "orders"):
        line("revenue", "total", field, export["revenue"][field])
    for field, value in export["service_charge"].items():
        line("service_charge", "", field, value)
    line("tips", "", "amount", export["tips"])
    line("rounding", "", "amount", export["rounding"])
    for tender in export["tenders"]:
        for field in ("count", "taken", "tips", "refunded", "net"):
            line("tender", tender["tender"], field, tender[field])
    for field, value in export["vouchers"].items():
        line("vouchers", "", field, value)
    for field, value in export["gift_cards"].items():
        line("gift_cards", "", field, value)
    for field, value in export["refunds"].items():
        line("refunds", "", field, value)
    for z in export["cash"]["z_reports"]:
        item = f"{z['register']} Z{z['z_number']}"
        for field in ("expected", "counted", "over_short"):
            line("cash", item, field, z[field])
    line("cash", "total", "over_short", export["cash"]["over_short"])
    return out.getvalue()


def as_json(export: dict) -> str:
    return json.dumps(export, indent=2, sort_keys=False) + "\n"


def export_name(location: Location, day: date, suffix: str) -> str:
    return f"exports/{location.code}/{day.isoformat()}.{suffix}"


def write_export(location: Location, day: date) -> list[str]:
    """Store the day's export as JSON and CSV in the backups storage under exports/, replacing earlier copies, and
    name the files in the notifier. Returns the stored names."""
    export = day_export(location, day)
    storage = storages["backups"]
    names = []
    for suffix, text in (("json", as_json(export)), ("csv", as_csv(export))):
        name = export_name(location, day, suffix)
        if storage.exists(name):
            storage.delete(name)
        names.append(storage.save(name, ContentFile(text.encode())))
    notify(
        "accounting.export",
        f"Accounting export of {location.name} for {day.isoformat()}: {', '.join(names)}",
        store=location.code,
        day=day.isoformat(),
        files=names,
    )
    return names


def stores_to_export() -> list[Location]:
    return list(Location.objects.filter(kind=Location.Kind.STORE, active=True).order_by("pk"))
