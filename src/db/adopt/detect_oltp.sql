-- What is this coffee_oltp? One query, run before `brewlytics migrate` touches anything.
-- Returns rows (kind, table_name, column_name, problem):
--   kind = 'empty'    one row, no problem: no relation, function or type of ours in schema public
--                     (objects that belong to an extension, e.g. pg_stat_statements, do not count)
--                     -> run our migrations;
--   kind = 'ours'     one row: public.refinery_schema_history exists -> let refinery migrate;
--   kind = 'original' one row: flyway_schema_history records V1..V5 as successful and the schema is
--                     exactly the original's (reference §2): tables, columns, column types and
--                     NOT NULLs, serial sequences, the original's triggers and functions only
--                     -> run adopt.sql;
--   kind = 'other'    one row per difference from the original's schema, e.g.
--                     ('other', 'loyalty', null, 'unknown table'),
--                     ('other', 'orders', 'status', 'unknown column (text)'),
--                     ('other', 'products', 'price', 'type is double precision, the original''s is numeric')
--                     -> refuse, printing every row; change nothing.
-- Flyway checksums are NOT compared: the original edited V1/V2 after release, so real volumes
-- carry several different checksums for the same version. Extra indexes and constraints on the
-- original tables are not differences either (the adoption rebuilds the tables, they are dropped).
with
expected_columns (table_name, column_name, data_type, not_null) as (values
    ('customers',   'id',          'integer',                  true),
    ('customers',   'name',        'text',                     true),
    ('customers',   'email',       'text',                     true),
    ('products',    'id',          'integer',                  true),
    ('products',    'name',        'text',                     true),
    ('products',    'price',       'numeric',                  true),
    ('employees',   'id',          'integer',                  true),
    ('employees',   'name',        'text',                     true),
    ('employees',   'active',      'boolean',                  false),
    ('orders',      'id',          'integer',                  true),
    ('orders',      'customer_id', 'integer',                  false),
    ('orders',      'employee_id', 'integer',                  false),
    ('orders',      'order_time',  'timestamp with time zone', true),
    ('order_items', 'id',          'integer',                  true),
    ('order_items', 'order_id',    'integer',                  false),
    ('order_items', 'product_id',  'integer',                  false),
    ('order_items', 'quantity',    'integer',                  true),
    ('order_items', 'price',       'numeric',                  true),
    ('cdc_orders',  'id',          'integer',                  true),
    ('cdc_orders',  'payload',     'jsonb',                    true),
    ('cdc_orders',  'processed',   'boolean',                  false),
    ('cdc_orders',  'created_at',  'timestamp with time zone', false),
    ('cdc_orders',  'op',          'text',                     false),
    ('cdc_orders',  'table_name',  'text',                     false),
    ('cdc_offset',  'table_name',  'text',                     true),
    ('cdc_offset',  'last_id',     'integer',                  false),
    -- Flyway's own table: only what the detection reads is required (its DDL varies by version).
    ('flyway_schema_history', 'version', null, false),
    ('flyway_schema_history', 'success', null, false)
),
expected_sequences (seq_name, table_name) as (values
    ('customers_id_seq', 'customers'), ('products_id_seq', 'products'), ('employees_id_seq', 'employees'),
    ('orders_id_seq', 'orders'), ('order_items_id_seq', 'order_items'), ('cdc_orders_id_seq', 'cdc_orders')
),
-- V5 leaves trg_order_item_cdc / log_order_item_cdc(); an old volume may still have V2's pair.
expected_triggers (table_name, trigger_name) as (values ('order_items', 'trg_order_item_cdc'), ('orders', 'trg_order_cdc')),
expected_functions (function_name) as (values ('log_order_item_cdc()'), ('log_order_cdc()')),
optional_tables (table_name) as (select null::text where false),
expected_versions (version) as (values ('1'), ('2'), ('3'), ('4'), ('5')),
created_schemas (nspname) as (values ('brewlytics_legacy'), ('brewlytics_adopt')),
-- (continued by detect.sql)
