-- Business tables of the coffee chain (coffee_oltp). Append-only: never edit a landed migration.
create table stores (
    id         serial primary key,
    name       text not null unique,
    city       text not null,
    opened_at  timestamptz not null default now()
);

create table customers (
    id         serial primary key,
    name       text not null,
    email      text not null unique,
    created_at timestamptz not null default now()
);

create table products (
    id       serial primary key,
    name     text not null,
    category text not null default 'coffee',
    price    numeric(10,2) not null check (price > 0),
    active   boolean not null default true
);

create table employees (
    id       serial primary key,
    store_id integer not null references stores (id),
    name     text not null,
    role     text not null default 'barista',
    active   boolean not null default true
);
create index employees_store_id_idx on employees (store_id);

create table orders (
    id          serial primary key,
    customer_id integer not null references customers (id),
    employee_id integer references employees (id),
    store_id    integer not null references stores (id),
    status      text not null default 'placed'
                check (status in ('placed', 'served', 'cancelled', 'refunded')),
    order_time  timestamptz not null default now(),
    total       numeric(12,2) not null default 0 check (total >= 0)
);
create index orders_customer_id_idx on orders (customer_id);
create index orders_employee_id_idx on orders (employee_id);
create index orders_store_id_idx on orders (store_id);

-- `price` keeps the original column name: it is the unit price snapshot taken from the catalogue.
create table order_items (
    id         serial primary key,
    order_id   integer not null references orders (id),
    product_id integer not null references products (id),
    quantity   integer not null check (quantity > 0),
    price      numeric(10,2) not null check (price >= 0)
);
create index order_items_order_id_idx on order_items (order_id);
create index order_items_product_id_idx on order_items (product_id);

-- A refund is a negative payment.
create table payments (
    id       serial primary key,
    order_id integer not null references orders (id),
    amount   numeric(12,2) not null check (amount <> 0),
    method   text not null check (method in ('cash', 'card', 'mobile')),
    paid_at  timestamptz not null default now()
);
create index payments_order_id_idx on payments (order_id);

create table inventory (
    id         serial primary key,
    product_id integer not null references products (id),
    store_id   integer not null references stores (id),
    on_hand    integer not null default 0,
    updated_at timestamptz not null default now(),
    unique (product_id, store_id)
);
create index inventory_store_id_idx on inventory (store_id);

create table inventory_movements (
    id         serial primary key,
    product_id integer not null references products (id),
    store_id   integer not null references stores (id),
    order_id   integer references orders (id),
    quantity   integer not null check (quantity <> 0),
    reason     text not null check (reason in ('sale', 'restock', 'waste', 'adjustment')),
    moved_at   timestamptz not null default now()
);
create index inventory_movements_product_id_idx on inventory_movements (product_id);
create index inventory_movements_store_id_idx on inventory_movements (store_id);
create index inventory_movements_order_id_idx on inventory_movements (order_id);
