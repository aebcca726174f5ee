-- Append-only: never edit a landed migration.
-- The keys of order lines, payments and ratings lead with their order (issue #16), so that the warehouse
-- can be distributed by order on Citus (a distributed table's primary key must contain its
-- distribution column) and stays one schema on plain PostgreSQL and on Citus:
--   fact_sales    (order_item_id)  -> (order_id, order_item_id)
--   fact_payments (payment_id)     -> (order_id, payment_id)
--   fact_feedback (feedback_id)    -> (order_id, feedback_id)
-- The indexes on order_id alone become redundant (each key leads with order_id) and go.
-- A line, payment or rating id alone is no longer unique in the table: when OLTP moves a line to another
-- order, the sink soft-deletes it under its old order and writes it under the new one, so each id
-- is unique among the live (not is_deleted) rows; dbt's `unique` tests check exactly that.
alter table fact_sales drop constraint fact_sales_pkey, add primary key (order_id, order_item_id);
drop index fact_sales_order_id_idx;
alter table fact_payments drop constraint fact_payments_pkey, add primary key (order_id, payment_id);
drop index fact_payments_order_id_idx;
alter table fact_feedback drop constraint fact_feedback_pkey, add primary key (order_id, feedback_id);
drop index fact_feedback_order_id_idx;
