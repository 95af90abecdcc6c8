"""The catalogue snapshot a terminal keeps to sell offline (DESIGN.md §6): one versioned JSON document per store.

The document has two parts: the store's catalogue and pricing settings (the same for every terminal of the store,
rendered once per version and kept in the cache) and the terminal's own part (its name, register, printer and the
next provisional sequence of its offline sales). The ETag is a strong hash of both parts' versions.

The store's version is a fingerprint read in a few aggregate statements, never the whole catalogue: the products'
count, newest `updated_at` and id sum; the small tables (categories, tax rates, modifier groups and options, the
links between them) and the store's settings in full. Any change to anything in the document changes it, so a
terminal polling every minute holds a price change within a minute.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Max, Q, Sum

from billing.models import OfflineSale
from inventory.models import Category, Location, Product, TaxRate
from orders.models import ModifierGroup, ModifierOption
from orders.services.lines import SELLABLE_KINDS
from staff.models import Terminal

SCHEMA = 1
TIP_PERCENTS = (5, 10, 15, 20)  # the payment screen's quick tip buttons (billing.views.TIP_PERCENTS)
CACHE_SECONDS = 24 * 3600  # keyed by version: an entry is never stale, only unused


@dataclass(frozen=True)
class Snapshot:
    etag: str
    body: bytes


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, cls=DjangoJSONEncoder, separators=(",", ":")).encode()).hexdigest()


def _categories(location: Location):
    return Category.objects.filter(Q(location__isnull=True) | Q(location=location)).order_by("sort_order", "name", "id")


def store_version(location: Location) -> str:
    """A fingerprint of everything in the store's part of the snapshot (see the module docstring)."""
    products = Product.objects.aggregate(n=Count("id"), newest=Max("updated_at"), ids=Sum("id"))
    links = []
    for through, other in (
        (ModifierGroup.products.through, "product_id"),
        (ModifierGroup.categories.through, "category_id"),
    ):
        links.append(
            through.objects.aggregate(n=Count("id"), top=Max("id"), ids=Sum(other), groups=Sum("modifiergroup_id"))
        )
    settings_row = (
        Location.objects.filter(pk=location.pk)
        .values(
            "prices_include_tax", "service_charge_percent", "service_charge_base", "cash_rounding", "name", "active"
        )
        .first()
    )
    return _digest(
        SCHEMA,
        settings.POS_CURRENCY_DECIMALS,
        products,
        links,
        settings_row,
        list(_categories(location).values_list("id", "name", "sort_order", "colour", "location_id")),
        list(TaxRate.objects.values_list("id", "name", "percent")),
        list(ModifierGroup.objects.values_list("id", "name", "min_choices", "max_choices", "sort_order", "active")),
        list(ModifierOption.objects.values_list("id", "group_id", "name", "price_delta", "sort_order", "active")),
    )


def render_store(location: Location) -> dict:
    """The store's part of the snapshot: what can be sold there, at what price and tax, with which choices, and the
    settings the device prices with (the same as orders/pricing.py's inputs)."""
    categories = list(_categories(location))
    category_ids = {c.pk for c in categories}
    products = (
        Product.objects.filter(active=True, kind__in=SELLABLE_KINDS)
        .filter(Q(category__isnull=True) | Q(category_id__in=category_ids))
        .order_by("id")
        .values_list(
            "id",
            "sku",
            "barcode",
            "name",
            "kind",
            "category_id",
            "price",
            "tax_rate__percent",
            "quantity_places",
            "unit",
        )
    )
    product_links: dict[int, list[int]] = {}
    for product_id, group_id in ModifierGroup.products.through.objects.filter(modifiergroup__active=True).values_list(
        "product_id", "modifiergroup_id"
    ):
        product_links.setdefault(product_id, []).append(group_id)
    category_links: dict[int, list[int]] = {}
    for category_id, group_id in ModifierGroup.categories.through.objects.filter(
        modifiergroup__active=True, category_id__in=category_ids
    ).values_list("category_id", "modifiergroup_id"):
        category_links.setdefault(category_id, []).append(group_id)
    groups = ModifierGroup.objects.filter(active=True).order_by("sort_order", "name", "id")
    options: dict[int, list[dict]] = {}
    for option in ModifierOption.objects.filter(active=True, group__active=True).order_by("sort_order", "name", "id"):
        options.setdefault(option.group_id, []).append(
            {"id": option.pk, "name": option.name, "price": option.price_delta}
        )
    include = location.prices_include_tax
    return {
        "location": {"id": location.pk, "code": location.code, "name": location.name},
        "settings": {
            "currency_exponent": settings.POS_CURRENCY_DECIMALS,
            "prices_include_tax": include,
            "cash_rounding": location.cash_rounding,
            "service_charge_percent": location.service_charge_percent,
            "service_charge_base": location.service_charge_base,
            "tip_percents": list(TIP_PERCENTS),
        },
        "categories": [{"id": c.pk, "name": c.name, "colour": c.colour, "sort": c.sort_order} for c in categories],
        "modifier_groups": [
            {
                "id": g.pk,
                "name": g.name,
                "min": g.min_choices,
                "max": g.max_choices,
                "rule": g.rule,
                "options": options.get(g.pk, []),
            }
            for g in groups
        ],
        "products": [
            {
                "id": pk,
                "sku": sku,
                "barcode": barcode,
                "name": name,
                "kind": kind,
                "category": category_id,
                "price": price,
                "tax_percent": tax_percent,
                "prices_include_tax": include,
                "quantity_places": places,
                "unit": unit,
                "modifier_groups": sorted(set(product_links.get(pk, ())) | set(category_links.get(category_id, ()))),
            }
            for pk, sku, barcode, name, kind, category_id, price, tax_percent, places, unit in products
        ],
    }


def _store_part(location: Location) -> tuple[str, str]:
    """(version, rendered JSON) of the store's part: rendered once per version, then served from the cache."""
    version = store_version(location)
    key = f"billing:catalogue:{location.pk}:{version}"
    body = cache.get(key)
    if body is None:
        body = json.dumps(render_store(location), cls=DjangoJSONEncoder, separators=(",", ":"))
        cache.set(key, body, CACHE_SECONDS)
    return version, body


def provisional_code(terminal: Terminal) -> str:
    return f"T{terminal.pk}"


def next_sequence(terminal: Terminal) -> int:
    top = OfflineSale.objects.filter(terminal=terminal).aggregate(top=Max("sequence"))["top"]
    return (top or 0) + 1


def terminal_part(terminal: Terminal) -> dict:
    return {
        "id": terminal.pk,
        "code": provisional_code(terminal),
        "name": terminal.name,
        "register": terminal.register_id,
        "printer": terminal.printer_id or (terminal.register.printer_id if terminal.register else None),
        "next_sequence": next_sequence(terminal),
    }


def snapshot(terminal: Terminal) -> Snapshot:
    """The terminal's snapshot document and its strong ETag."""
    version, store_body = _store_part(terminal.location)
    own = terminal_part(terminal)
    etag = '"' + _digest(version, own)[:40] + '"'
    head = json.dumps({"schema": SCHEMA, "version": etag.strip('"'), "terminal": own}, separators=(",", ":"))
    body = head[:-1] + ',"catalogue":' + store_body + "}"
    return Snapshot(etag=etag, body=body.encode())


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (a list, or `*`); weak validators never match a strong one."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags
