-- ---------------------------------------------------------------------------------------------
-- Adoption step 5/5 (after our V2 created the capture): check, record, tell refinery, clean up.
-- ---------------------------------------------------------------------------------------------
do $check$
declare
    bad text;
begin
    -- every original row is there with its id and its values (a set difference per table) ...
    select string_agg(t || ': ' || n || ' original rows missing or changed', '; ')
      into bad
      from (
          select 'customers' as t, count(*) as n from (
              select id, name from brewlytics_adopt.customers except select id, name from public.customers) x
          union all
          select 'products', count(*) from (
              select id, name, price from brewlytics_adopt.products except select id, name, price from public.products) x
          union all
          select 'employees', count(*) from (
              select id, name from brewlytics_adopt.employees except select id, name from public.employees) x
          union all
          select 'orders', count(*) from (
              select id, customer_id, employee_id, order_time from brewlytics_adopt.orders where customer_id is not null
              except select id, customer_id, employee_id, order_time from public.orders) x
          union all
          select 'orders', count(*) from (
              select id, employee_id, order_time from brewlytics_adopt.orders where customer_id is null
              except select id, employee_id, order_time from public.orders) x
          union all
          select 'order_items', count(*) from (
              select id, order_id, product_id, quantity, price from brewlytics_adopt.order_items
              except select id, order_id, product_id, quantity, price from public.order_items) x
      ) d
      where n > 0;
    if bad is not null then
        raise exception 'adoption check failed: %', bad;
    end if;
    -- ... and nothing else, but the default store and the unknown customer
    if (select count(*) from public.customers) > (select count(*) from brewlytics_adopt.customers) + 1
       or (select count(*) from public.orders) <> (select count(*) from brewlytics_adopt.orders)
       or (select count(*) from public.order_items) <> (select count(*) from brewlytics_adopt.order_items)
       or (select count(*) from public.products) <> (select count(*) from brewlytics_adopt.products)
       or (select count(*) from public.employees) <> (select count(*) from brewlytics_adopt.employees)
       or (select count(*) from public.stores) <> 1
       or exists (select from public.payments) or exists (select from public.inventory) then
        raise exception 'adoption check failed: row counts differ from the original';
    end if;
    if exists (select from public.cdc_orders) then
        raise exception 'adoption check failed: the adoption wrote rows into cdc_orders';
    end if;
end
$check$;

-- What was adopted, for `brewlytics status` / support.
create table brewlytics_legacy.adoption (
    adopted_at          timestamptz not null,
    store_id            integer not null,
    unknown_customer_id integer,
    customers           bigint not null,
    products            bigint not null,
    employees           bigint not null,
    orders              bigint not null,
    order_items         bigint not null,
    emails_changed      bigint not null,
    legacy_cdc_rows     bigint not null
);
insert into brewlytics_legacy.adoption
select now(), (select min(id) from stores),
       (select id from customers where email = 'unknown-customer@brewlytics.invalid'
                                   and id not in (select id from brewlytics_adopt.customers)),
       (select count(*) from brewlytics_adopt.customers), (select count(*) from brewlytics_adopt.products),
       (select count(*) from brewlytics_adopt.employees), (select count(*) from brewlytics_adopt.orders),
       (select count(*) from brewlytics_adopt.order_items),
       (select count(*) from brewlytics_legacy.customer_email_changes),
       (select count(*) from brewlytics_legacy.legacy_cdc_orders);

-- The original tables (and their sequences) are no longer needed: every row is in ours. No
-- CASCADE: an object of someone else's that still depends on them makes the adoption fail
-- (and roll back) with PostgreSQL naming it, instead of being dropped silently.
drop table brewlytics_adopt.order_items, brewlytics_adopt.orders, brewlytics_adopt.employees,
           brewlytics_adopt.products, brewlytics_adopt.customers;
drop schema brewlytics_adopt;

-- refinery: our V1 and V2 count as applied. The table is refinery 0.10's own DDL (int4 versions,
-- the default without the int8-versions feature); name and checksum must be exactly refinery's
-- (Migration::name() and Migration::checksum() of the embedded migrations), applied_on RFC 3339.
-- >>>>>>>>>> PLACEHOLDERS: the caller substitutes __REFINERY_V1_CHECKSUM__ and
-- >>>>>>>>>> __REFINERY_V2_CHECKSUM__ (u64 as decimal text) before running this script.
create table if not exists refinery_schema_history(
             version int4 primary key,
             name varchar(255),
             applied_on varchar(255),
             checksum varchar(255));
insert into refinery_schema_history (version, name, applied_on, checksum)
values (1, 'business_tables', to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '__REFINERY_V1_CHECKSUM__'),
       (2, 'cdc_capture',     to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '__REFINERY_V2_CHECKSUM__');

do $placeholders$
begin
    if exists (select from refinery_schema_history where checksum !~ '^[0-9]+$') then
        raise exception 'adopt.sql was run without substituting __REFINERY_V1_CHECKSUM__ / __REFINERY_V2_CHECKSUM__'
            using hint = 'the caller must put refinery''s checksums of our V1 and V2 (u64, decimal) in their place';
    end if;
end
$placeholders$;
