"""Modifier groups: which choices a product offers, and turning the chosen option ids into a line's snapshot.

A product offers the active groups attached to it and those attached to its category. The count of options chosen
in each group must be within the group's min and max; an option of another product, an inactive one or the same
option twice is refused. The line keeps a snapshot of each choice (group, option id, name, price, ingredient), so
that later catalogue changes leave it, its price and its stock movements as they were sold.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import F, Prefetch

from core.inputs import invalid
from core.money import ZERO, quantize
from orders.models import ModifierGroup, ModifierOption
from orders.services.validation import MAX_MODIFIERS


def groups_for(products) -> dict[int, list[ModifierGroup]]:
    """The active groups each of `products` offers (own and its category's), each with its active options in
    `.choices`, by product id; products without any are left out. One query (both links, as a union), a second only
    when a group applies."""
    product_ids = {product.pk for product in products}
    category_ids = {product.category_id for product in products if product.category_id}
    own = ModifierGroup.products.through.objects.filter(product_id__in=product_ids, modifiergroup__active=True)
    links = own.values_list(F("product_id"), "modifiergroup_id")
    if category_ids:  # categories by negative key, so the two kinds of link share one answer
        shared = ModifierGroup.categories.through.objects.filter(
            category_id__in=category_ids, modifiergroup__active=True
        )
        links = links.union(shared.values_list(-F("category_id"), "modifiergroup_id"), all=True)
    rows: list[tuple[int, int]] = list(links)
    by_product: dict[int, set[int]] = defaultdict(set)
    by_category: dict[int, set[int]] = defaultdict(set)
    for key, group_id in rows:
        (by_product[key] if key > 0 else by_category[-key]).add(group_id)
    wanted = set().union(*by_product.values(), *by_category.values())
    if not wanted:
        return {}
    options = Prefetch("options", queryset=ModifierOption.objects.filter(active=True), to_attr="choices")
    groups = {group.pk: group for group in ModifierGroup.objects.filter(pk__in=wanted).prefetch_related(options)}
    offered: dict[int, list[ModifierGroup]] = {}
    for product in products:
        ids = by_product.get(product.pk, set()) | by_category.get(product.category_id, set())
        if ids:
            offered[product.pk] = sorted((groups[i] for i in ids), key=lambda g: (g.sort_order, g.name, g.pk))
    return offered


def clean_option_ids(value, field_name: str) -> list[int]:
    if not isinstance(value, list | tuple):
        raise invalid("Modifiers are a list of option ids.", field_name)
    if len(value) > MAX_MODIFIERS:
        raise invalid(f"At most {MAX_MODIFIERS} modifiers.", field_name)
    ids = []
    for item in value:
        if not isinstance(item, int) or isinstance(item, bool) or item <= 0:
            raise invalid("Modifiers are a list of option ids.", field_name)
        if item in ids:
            raise invalid("Each option once.", field_name)
        ids.append(item)
    return ids


def choose(product, groups: list[ModifierGroup], option_ids, field_name: str) -> list[dict]:
    """The snapshot of the options `option_ids` of `product`, group by group in the groups' order, after checking
    each group's min and max. Raises DomainError naming `field_name`: `invalid` (not an option of this product),
    `modifier_required` (too few in a group), `modifier_excess` (too many)."""
    ids = clean_option_ids(option_ids, field_name)
    chosen = set(ids)
    snapshot = []
    for group in groups:
        picked = [option for option in group.choices if option.pk in chosen]  # type: ignore[attr-defined]
        chosen -= {option.pk for option in picked}
        if len(picked) < group.min_choices:
            what = "one option" if group.min_choices == 1 else f"{group.min_choices} options"
            raise invalid(f"{product.name}: choose {what} for {group.name}.", field_name, code="modifier_required")
        if len(picked) > group.max_choices:
            raise invalid(
                f"{product.name}: at most {group.max_choices} for {group.name}.", field_name, code="modifier_excess"
            )
        for option in picked:
            item = {
                "group": group.name,
                "option": option.pk,
                "name": option.name,
                "price": str(quantize(option.price_delta)),
            }
            if option.ingredient_id:
                item["ingredient"] = option.ingredient_id
                item["ingredient_quantity"] = str(option.ingredient_quantity)
            snapshot.append(item)
    if chosen:
        raise invalid(f"Not an option of {product.name}.", field_name)
    return snapshot


def option_ids(modifiers: list[dict]) -> list[int]:
    """The option ids of a line's snapshot (free-typed modifiers of older lines have none)."""
    return [m["option"] for m in modifiers or [] if "option" in m]


def stock_items(lines) -> list[tuple[int, Decimal]]:
    """(product id, quantity) pairs a sale of `lines` takes out of stock: each line's product (its recipe is
    expanded by inventory) and the ingredients its options use. Pairs of (line, quantity) are accepted too, for a
    part of a line (a refund)."""
    items: list[tuple[int, Decimal]] = []
    for entry in lines:
        line, quantity = entry if isinstance(entry, tuple) else (entry, entry.quantity)
        items.append((line.product_id, quantity))
        for modifier in line.modifiers or []:
            if modifier.get("ingredient"):
                used = Decimal(modifier["ingredient_quantity"]) * quantity
                if used > ZERO:
                    items.append((modifier["ingredient"], used))
    return items
