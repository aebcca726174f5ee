-- What is this coffee_olap? The warehouse counterpart of detect.sql, same output:
-- rows (kind, table_name, column_name, problem), kind in 'empty' | 'ours' | 'original' | 'other'.
--   'original' = the original's warehouse (reference §3): flyway_schema_history with V1 successful
--   and only the original's tables, columns and serial sequences. Its 4 dimensions are required;
--   its 3 fact tables are optional (volumes migrated before the original's commit ef2efc4 never got
--   them). Such a warehouse is moved aside by adopt_olap.sql, then our OLAP migrations run.
-- Objects of extensions do not count; Flyway checksums are not compared (V1 was edited in place).
with
expected_columns (table_name, column_name, data_type, not_null) as (values
    ('dim_customer',   'id',              'integer',                  true),
    ('dim_customer',   'customer_id',     'integer',                  false),
    ('dim_customer',   'name',            'text',                     false),
    ('dim_customer',   'email',           'text',                     false),
    ('dim_product',    'id',              'integer',                  true),
    ('dim_product',    'product_id',      'integer',                  false),
    ('dim_product',    'name',            'text',                     false),
    ('dim_product',    'price',           'numeric',                  false),
    ('dim_employee',   'id',              'integer',                  true),
    ('dim_employee',   'employee_id',     'integer',                  false),
    ('dim_employee',   'name',            'text',                     false),
    ('dim_date',       'id',              'integer',                  true),
    ('dim_date',       'date',            'date',                     false),
    ('fact_sales',     'id',              'integer',                  true),
    ('fact_sales',     'date_id',         'integer',                  false),
    ('fact_sales',     'customer_dim_id', 'integer',                  false),
    ('fact_sales',     'product_dim_id',  'integer',                  false),
    ('fact_sales',     'employee_dim_id', 'integer',                  false),
    ('fact_sales',     'quantity',        'integer',                  false),
    ('fact_sales',     'price',           'numeric',                  false),
    ('fact_sales',     'total',           'numeric',                  false),
    ('fact_sales',     'order_time',      'timestamp with time zone', false),
    ('fact_inventory', 'id',              'integer',                  true),
    ('fact_inventory', 'product_dim_id',  'integer',                  false),
    ('fact_inventory', 'quantity_sold',   'integer',                  true),
    ('fact_inventory', 'date_id',         'integer',                  false),
    ('fact_inventory', 'recorded_at',     'timestamp with time zone', true),
    ('fact_payments',  'id',              'integer',                  true),
    ('fact_payments',  'customer_dim_id', 'integer',                  false),
    ('fact_payments',  'order_id',        'integer',                  true),
    ('fact_payments',  'payment_amount',  'numeric',                  true),
    ('fact_payments',  'payment_method',  'text',                     true),
    ('fact_payments',  'date_id',         'integer',                  false),
    ('fact_payments',  'recorded_at',     'timestamp with time zone', true),
    ('flyway_schema_history', 'version', null, false),
    ('flyway_schema_history', 'success', null, false)
),
optional_tables (table_name) as (values ('fact_sales'), ('fact_inventory'), ('fact_payments')),
expected_sequences (seq_name, table_name) as (
    select t || '_id_seq', t
    from unnest(array['dim_customer', 'dim_product', 'dim_employee', 'dim_date',
                      'fact_sales', 'fact_inventory', 'fact_payments']) as t
),
-- the original's warehouse has no triggers and no functions
expected_triggers (table_name, trigger_name) as (select null::text, null::text where false),
expected_functions (function_name) as (select null::text where false),
expected_versions (version) as (values ('1')),
created_schemas (nspname) as (values ('brewlytics_legacy')),
-- (continued by detect.sql)
