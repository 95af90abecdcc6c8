-- The raw-SQL checkout of bench/pitr.py: bench/checkout_pgbench.sql's writes (an order, 5 lines, the stock
-- updates, a payment) plus what keeps the database consistent for the restore's checks: a stock move per product
-- sold (the ledger sums to on hand) and the order's tax equal to its lines'. Variables come from pgbench -D.
\set p1 random(:pmin, :pmax)
\set p2 random(:pmin, :pmax)
\set p3 random(:pmin, :pmax)
\set p4 random(:pmin, :pmax)
\set p5 random(:pmin, :pmax)
BEGIN;
INSERT INTO orders_order (uuid, location_id, channel, guest_count, status, staff_id, note, discount_kind,
    discount_value, discount_reason, service_charge_percent, service_charge_base, subtotal, discount_total,
    service_charge, tax_total, total, paid_total, refunded_total, opened_at, paid_at, closed_at)
VALUES (gen_random_uuid(), :loc, 'retail', 1, 'paid', :staff, '', '', 0, '', 0, 'before_tax', 12.50, 0, 0, 2.10,
    12.50, 12.50, 0, now(), now(), now())
RETURNING id AS order_id \gset
INSERT INTO orders_orderline (order_id, product_id, name, unit_price, tax_rate_name, tax_rate_percent,
    prices_include_tax, unit_cost, quantity, modifiers, note, course, discount_kind, discount_value,
    price_overridden, line_total, discount_amount, tax_amount, order_discount_amount, service_charge_amount,
    amount_due, status, void_reason, created_at, quantity_refunded, added_by_id)
SELECT :order_id, p, 'Bench product', 2.50, 'Standard', 20, true, 1.00, 1, '[]', '', 1, '', 0, false, 2.50, 0,
    0.42, 0, 0, 2.50, 'active', '', now(), 0, :staff
FROM unnest(ARRAY[:p1, :p2, :p3, :p4, :p5]::bigint[]) AS p;
UPDATE inventory_stocklevel SET on_hand = on_hand - 1, updated_at = now()
WHERE location_id = :loc AND product_id IN (:p1, :p2, :p3, :p4, :p5);
INSERT INTO inventory_stockmove (product_id, location_id, delta, reason, reference, note, unit_cost, user_id,
    created_at)
SELECT DISTINCT p, :loc, -1, 'sale', o.uuid::text, '', 1.00, :staff, now()
FROM unnest(ARRAY[:p1, :p2, :p3, :p4, :p5]::bigint[]) AS p, orders_order o WHERE o.id = :order_id;
INSERT INTO billing_payment (order_id, session_id, tender, amount, tendered, change, tip, rounding, reference,
    created_by_id, created_at)
VALUES (:order_id, :session, 'card', 12.50, 12.50, 0, 0, 0, '', :staff, now());
COMMIT;
