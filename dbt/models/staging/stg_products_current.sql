-- The current version of each product (type 2 dimension): one row per product_id. Readers take
-- a product's display name and category from here, and group by product_id, never by name.
select
    product_id,
    product_key,
    name,
    category,
    price,
    active,
    is_inferred,
    is_deleted
from {{ source('star', 'dim_product') }}
where is_current
  and product_id is not null
