//! Placing an order: validate, resolve store and employee, price the lines from the catalogue, then
//! write the order, its lines, its payment, one `sale` stock movement per line and the on-hand
//! update in ONE statement (data-modifying CTEs), so a failure writes nothing.
//!
//! Stock rows are locked in product-id order, so concurrent orders of one store never deadlock.
//! On-hand may go negative: a till does not refuse a sale because the stock count is behind.

use std::collections::{btree_map::Entry, BTreeMap};

use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;

use super::{Order, OrderLine, Payment};
use crate::{
    api::{sql, ApiError, ApiResult},
    shop::{NewLine, NewOrder, OrderStatus, PaymentMethod},
};

/// Most distinct products in one order.
pub(super) const MAX_LINES: usize = 100;
/// Most units of one product in one order.
pub(super) const MAX_QUANTITY: i32 = 1000;
/// `orders.total` is numeric(12,2).
const MAX_TOTAL: Decimal = Decimal::from_parts(1_410_065_408, 2, 0, false, 0); // 10^10

/// A validated line: product, merged quantity, and the index of its first request line.
#[derive(Debug, Clone, Copy)]
struct Line {
    product_id: i32,
    quantity: i32,
    index: usize,
}

/// Place `order`; see the module docs.
pub(super) async fn place<C: GenericClient>(client: &C, order: &NewOrder) -> ApiResult<Order> {
    let lines = merge_lines(&order.items)?;
    let method = order.payment_method.unwrap_or(PaymentMethod::Card);
    let (_, (store_id, employee_id), prices) = tokio::try_join!(
        check_customer(client, order.customer_id),
        resolve_staff(client, order.employee_id, order.store_id),
        price_lines(client, &lines),
    )?;
    let items: Vec<OrderLine> = lines
        .iter()
        .zip(&prices)
        .map(|(l, &price)| OrderLine {
            product_id: l.product_id,
            quantity: l.quantity,
            price,
            line_total: price * Decimal::from(l.quantity),
        })
        .collect();
    let total: Decimal = items.iter().map(|l| l.line_total).sum();
    if total >= MAX_TOTAL {
        return Err(ApiError::invalid("items", format!("the order total {total} is too large")));
    }
    let product_ids: Vec<i32> = items.iter().map(|l| l.product_id).collect();
    let quantities: Vec<i32> = items.iter().map(|l| l.quantity).collect();
    let row = sql::query_one(
        client,
        INSERT_ORDER,
        &[&order.customer_id, &employee_id, &store_id, &total, &product_ids, &quantities, &prices, &method.as_str()],
    )
    .await?;
    Ok(Order {
        order_id: row.get(0),
        customer_id: order.customer_id,
        employee_id: Some(employee_id),
        store_id,
        status: OrderStatus::Placed,
        order_time: row.get(1),
        total,
        items,
        payments: vec![Payment { id: row.get(2), amount: total, method: method.as_str().into(), paid_at: row.get(3) }],
    })
}

/// Check quantities and merge lines of the same product; the result is sorted by product id.
fn merge_lines(items: &[NewLine]) -> ApiResult<Vec<Line>> {
    if items.is_empty() {
        return Err(ApiError::invalid("items", "an order needs at least one item"));
    }
    let mut merged: BTreeMap<i32, Line> = BTreeMap::new();
    for (index, item) in items.iter().enumerate() {
        let field = || format!("items[{index}].quantity");
        if item.quantity < 1 {
            return Err(ApiError::invalid(field(), format!("quantity must be at least 1, got {}", item.quantity)));
        }
        let line = match merged.entry(item.product_id) {
            Entry::Vacant(v) => v.insert(Line { product_id: item.product_id, quantity: 0, index }),
            Entry::Occupied(o) => o.into_mut(),
        };
        line.quantity = line.quantity.saturating_add(item.quantity);
        if line.quantity > MAX_QUANTITY {
            return Err(ApiError::invalid(field(), format!("at most {MAX_QUANTITY} units of one product per order")));
        }
    }
    if merged.len() > MAX_LINES {
        return Err(ApiError::invalid("items", format!("at most {MAX_LINES} different products per order")));
    }
    Ok(merged.into_values().collect())
}

async fn check_customer<C: GenericClient>(client: &C, customer_id: i32) -> ApiResult<()> {
    match sql::query_opt(client, "select 1 from customers where id = $1", &[&customer_id]).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::invalid("customer_id", format!("customer {customer_id} does not exist"))),
    }
}

/// The order's `(store_id, employee_id)`; see [`NewOrder`] for the defaults.
async fn resolve_staff<C: GenericClient>(
    client: &C,
    employee_id: Option<i32>,
    store_id: Option<i32>,
) -> ApiResult<(i32, i32)> {
    match (employee_id, store_id) {
        (Some(e), store) => employee_store(client, e, store).await,
        (None, Some(s)) => store_employee(client, s).await,
        (None, None) => {
            let row = sql::query_opt(client, DEFAULT_STAFF, &[]).await?;
            let row = row.ok_or_else(|| {
                ApiError::invalid("store_id", "no store has an active employee: give store_id and employee_id")
            })?;
            Ok((row.get(0), row.get(1)))
        }
    }
}

async fn employee_store<C: GenericClient>(client: &C, employee_id: i32, store: Option<i32>) -> ApiResult<(i32, i32)> {
    let sql = "select store_id, active from employees where id = $1";
    let row = sql::query_opt(client, sql, &[&employee_id]).await?;
    let row = row.ok_or_else(|| ApiError::invalid("employee_id", format!("employee {employee_id} does not exist")))?;
    let (store_id, active): (i32, bool) = (row.get(0), row.get(1));
    if !active {
        return Err(ApiError::invalid("employee_id", format!("employee {employee_id} is not active")));
    }
    match store {
        Some(s) if s != store_id => Err(ApiError::invalid(
            "store_id",
            format!("employee {employee_id} works at store {store_id}, not store {s}"),
        )),
        _ => Ok((store_id, employee_id)),
    }
}

async fn store_employee<C: GenericClient>(client: &C, store_id: i32) -> ApiResult<(i32, i32)> {
    let sql = "select exists (select 1 from stores where id = $1),
                      (select id from employees where store_id = $1 and active order by random() limit 1)";
    let row = sql::query_one(client, sql, &[&store_id]).await?;
    if !row.get::<_, bool>(0) {
        return Err(ApiError::invalid("store_id", format!("store {store_id} does not exist")));
    }
    let employee: Option<i32> = row.get(1);
    let employee =
        employee.ok_or_else(|| ApiError::invalid("store_id", format!("store {store_id} has no active employee")))?;
    Ok((store_id, employee))
}

/// The catalogue price of each line (same order); unknown or inactive products are 422.
async fn price_lines<C: GenericClient>(client: &C, lines: &[Line]) -> ApiResult<Vec<Decimal>> {
    let ids: Vec<i32> = lines.iter().map(|l| l.product_id).collect();
    let rows = sql::query(client, "select id, price, active from products where id = any($1)", &[&ids]).await?;
    let found: BTreeMap<i32, (Decimal, bool)> = rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect();
    lines
        .iter()
        .map(|l| {
            let field = format!("items[{}].product_id", l.index);
            match found.get(&l.product_id) {
                None => Err(ApiError::invalid(field, format!("product {} does not exist", l.product_id))),
                Some((_, false)) => Err(ApiError::invalid(field, format!("product {} is not on sale", l.product_id))),
                Some((price, true)) => Ok(*price),
            }
        })
        .collect()
}

/// The lowest-id store with an active employee, and one of its active employees at random.
const DEFAULT_STAFF: &str = "
    select store_id, id from employees
    where active and store_id = (select min(store_id) from employees where active)
    order by random() limit 1";

/// $1 customer, $2 employee, $3 store, $4 total, $5 product ids (sorted), $6 quantities, $7 prices, $8 method.
const INSERT_ORDER: &str = "
    with o as (
        insert into orders (customer_id, employee_id, store_id, status, order_time, total)
        values ($1, $2, $3, 'placed', now(), $4)
        returning id, order_time
    ), lines as (
        select * from unnest($5::int[], $6::int[], $7::numeric[]) as l (product_id, quantity, price)
    ), items as (
        insert into order_items (order_id, product_id, quantity, price)
        select o.id, l.product_id, l.quantity, l.price from o, lines l order by l.product_id
    ), pay as (
        insert into payments (order_id, amount, method)
        select o.id, $4, $8 from o
        returning id, paid_at
    ), moves as (
        insert into inventory_movements (product_id, store_id, order_id, quantity, reason)
        select l.product_id, $3, o.id, -l.quantity, 'sale' from o, lines l order by l.product_id
    ), stock as (
        insert into inventory (product_id, store_id, on_hand)
        select l.product_id, $3, -l.quantity from lines l order by l.product_id
        on conflict (product_id, store_id)
        do update set on_hand = inventory.on_hand + excluded.on_hand, updated_at = now()
    )
    select o.id, o.order_time, pay.id, pay.paid_at from o, pay";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_total_is_ten_billion() {
        assert_eq!(MAX_TOTAL, Decimal::from(10_000_000_000i64));
    }

    #[test]
    fn lines_merge_sorted_and_keep_first_index() {
        let items = [
            NewLine { product_id: 7, quantity: 1 },
            NewLine { product_id: 3, quantity: 2 },
            NewLine { product_id: 7, quantity: 4 },
        ];
        let lines = merge_lines(&items).unwrap();
        let got: Vec<_> = lines.iter().map(|l| (l.product_id, l.quantity, l.index)).collect();
        assert_eq!(got, [(3, 2, 1), (7, 5, 0)]);
    }

    #[test]
    fn bad_quantities_name_their_line() {
        let err = merge_lines(&[NewLine { product_id: 1, quantity: 1 }, NewLine { product_id: 2, quantity: 0 }]);
        assert!(matches!(err, Err(ApiError::Invalid { field: Some(f), .. }) if f == "items[1].quantity"));
        assert!(merge_lines(&[]).is_err());
    }
}
