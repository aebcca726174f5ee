-- The large fact tables become partitioned (issue #23), so that dropping or archiving old history,
-- VACUUM and index sizes stay bounded by a partition, not by the years kept. Append-only: never
-- edit a landed migration.
--
-- Partitioned by RANGE of order_id, in spans of 8,388,608 orders (2^23; about a month of the
-- reference chain's 250,000 orders a day): order ids rise with time, so each partition holds a
-- stretch of consecutive days; and order_id leads every key of these tables, so a row never moves
-- between partitions (a line moved to another order is already written as a new row under it)
-- and every upsert keeps its conflict target. A date key could not be the partition key: a line's
-- date follows its order's header and may change after it is written (an order known late).
-- Partitions are named <table>_p<n> for orders [n * 2^23, (n + 1) * 2^23); the daemon creates the
-- next ones ahead (src/warehouse/partitions.rs); a default partition catches anything beyond.
-- docs/OPERATIONS.md says how to detach and archive old partitions.

do $partition$
declare
    span constant bigint := 8388608;
    t text;
    idx record;
    top bigint;
    n bigint;
begin
    foreach t in array array['fact_orders', 'fact_sales', 'fact_payments', 'fact_feedback'] loop
        execute format('alter table %I rename to %I', t, t || '_unpartitioned');
        for idx in select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid
                   where i.indrelid = (t || '_unpartitioned')::regclass loop
            execute format('alter index %I rename to %I', idx.relname, idx.relname || '_unpartitioned');
        end loop;
        execute format('create table %I (like %I including all) partition by range (order_id)',
                       t, t || '_unpartitioned');
        execute format('select coalesce(max(order_id), 0) from %I', t || '_unpartitioned') into top;
        n := 0;
        loop
            execute format('create table %I partition of %I for values from (%s) to (%s)',
                           t || '_p' || lpad(n::text, 4, '0'), t,
                           case when n = 0 then 'minvalue' else (n * span)::text end, (n + 1) * span);
            n := n + 1;
            exit when n * span > top + span / 2;
        end loop;
        execute format('create table %I partition of %I default', t || '_default', t);
    end loop;
end $partition$;

-- The indexes got generated names; the one with a condition gets its own back.
alter index fact_orders_customer_key_order_time_idx rename to fact_orders_customer_served_idx;

-- The original's views read two of these tables: drop them while the data moves, then recreate.
drop view brewlytics_v1.fact_sales;
drop view brewlytics_v1.fact_payments;

insert into fact_orders select * from fact_orders_unpartitioned;
insert into fact_sales select * from fact_sales_unpartitioned;
insert into fact_payments select * from fact_payments_unpartitioned;
insert into fact_feedback select * from fact_feedback_unpartitioned;
drop table fact_orders_unpartitioned, fact_sales_unpartitioned, fact_payments_unpartitioned,
           fact_feedback_unpartitioned;

-- As in V3 (the grants to analytics_reader are `brewlytics roles`').
create view brewlytics_v1.fact_sales as
select s.order_item_id as id,
       s.date_key as date_id,
       s.customer_key as customer_dim_id,
       coalesce(k.product_key, 0) as product_dim_id,
       s.employee_key as employee_dim_id,
       s.quantity,
       s.unit_price as price,
       s.line_total as total,
       s.order_time
from public.fact_sales s
left join brewlytics_v1.product_keys k on k.product_id = s.product_id
where not s.is_deleted
  and s.order_status = 'served';

create view brewlytics_v1.fact_payments as
select p.payment_id as id,
       p.customer_key as customer_dim_id,
       p.order_id,
       p.amount as payment_amount,
       p.method as payment_method,
       p.date_key as date_id,
       coalesce(p.paid_at, p.loaded_at) as recorded_at
from public.fact_payments p
where not p.is_deleted;

-- The next partition of one of these tables, [low, low + 2^23), created with the owner's rights
-- (the daemon's role does not own the tables; `brewlytics roles` lets it call this).
create function fact_partition_create(parent regclass, low bigint) returns text
language plpgsql security definer set search_path = public, pg_catalog as $$
declare
    span constant bigint := 8388608;
    name text := parent::text || '_p' || lpad((low / span)::text, 4, '0');
begin
    if parent::text not in ('fact_orders', 'fact_sales', 'fact_payments', 'fact_feedback') or low % span <> 0 then
        raise exception 'fact_partition_create: % from % is not a fact partition', parent, low;
    end if;
    execute format('create table if not exists %I partition of %s for values from (%s) to (%s)',
                   name, parent, low, low + span);
    return name;
end $$;
revoke all on function fact_partition_create(regclass, bigint) from public;
