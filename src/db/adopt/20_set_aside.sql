-- ---------------------------------------------------------------------------------------------
-- Adoption step 2/5: stop the original capture and move the original objects out of `public`.
-- ---------------------------------------------------------------------------------------------
-- The original's row triggers and their functions go first (V5 left trg_order_item_cdc and
-- log_order_item_cdc(); trg_order_cdc / log_order_cdc() are gone since V5 but are dropped too,
-- in case an old volume still has them).
drop trigger if exists trg_order_item_cdc on public.order_items;
drop trigger if exists trg_order_cdc on public.orders;
drop function if exists public.log_order_item_cdc();
drop function if exists public.log_order_cdc();

-- Kept for good, never replayed: the original's change log, its offset and Flyway's history, in a
-- schema of their own that only the migration user can read (no grants).
create schema brewlytics_legacy;
comment on schema brewlytics_legacy is
    'Left by the adoption of the original Brewlytics (brewlytics migrate): its cdc_orders and cdc_offset rows, '
    'its Flyway history and the adoption record. Read-only history; nothing reads or replays it.';

alter table public.cdc_orders rename to legacy_cdc_orders;
alter table public.legacy_cdc_orders set schema brewlytics_legacy;
alter table brewlytics_legacy.legacy_cdc_orders rename constraint cdc_orders_pkey to legacy_cdc_orders_pkey;
alter sequence brewlytics_legacy.cdc_orders_id_seq rename to legacy_cdc_orders_id_seq;

alter table public.cdc_offset rename to legacy_cdc_offset;
alter table public.legacy_cdc_offset set schema brewlytics_legacy;
alter table brewlytics_legacy.legacy_cdc_offset rename constraint cdc_offset_pkey to legacy_cdc_offset_pkey;

alter table public.flyway_schema_history set schema brewlytics_legacy;

-- The original business tables move to a staging schema (with their sequences, indexes and
-- constraints), so that our V1 can create ours under the same names; step 4 copies the rows
-- over and step 5 drops the staging schema.
create schema brewlytics_adopt;
alter table public.order_items set schema brewlytics_adopt;
alter table public.orders set schema brewlytics_adopt;
alter table public.employees set schema brewlytics_adopt;
alter table public.products set schema brewlytics_adopt;
alter table public.customers set schema brewlytics_adopt;
