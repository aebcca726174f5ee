//! The order life cycle.
//!
//! ```text
//! placed ──▶ served ──▶ refunded
//!    └─────▶ cancelled
//! ```
//!
//! * `served`: nothing else changes.
//! * `refunded` (from served): a negative payment of the order total, with the method of the
//!   original payment. The goods were consumed, so stock is not returned.
//! * `cancelled` (from placed): the charge is refunded the same way (negative payment), and the
//!   stock comes back: one positive `adjustment` movement per product, and on-hand increased.
//!
//! Any other transition (including to the same status) is 409; the order row is locked first,
//! so two concurrent changes of one order cannot both succeed.

use deadpool_postgres::GenericClient;

use super::{read, Order};
use crate::api::{sql, ApiError, ApiResult};
use crate::shop::OrderStatus;

/// Move order `id` to `to` in one transaction, with the side effects of the module docs.
pub(super) async fn change(client: &mut deadpool_postgres::Object, id: i32, to: OrderStatus) -> ApiResult<Order> {
    let tx = client.transaction().await?;
    let row = sql::query_opt(&tx, "select status from orders where id = $1 for update", &[&id]).await?;
    let Some(row) = row else { return Err(ApiError::not_found(format!("order {id} not found"))) };
    let from = OrderStatus::parse(row.get(0)).unwrap_or(OrderStatus::Refunded);
    if !from.can_become(to) {
        return Err(ApiError::conflict(
            "status",
            format!("order {id} is {}: it cannot become {}", from.as_str(), to.as_str()),
        ));
    }
    sql::query(&tx, "update orders set status = $2 where id = $1", &[&id, &to.as_str()]).await?;
    match to {
        OrderStatus::Refunded => refund(&tx, id).await?,
        OrderStatus::Cancelled => {
            refund(&tx, id).await?;
            restock_lines(&tx, id).await?;
        }
        OrderStatus::Placed | OrderStatus::Served => {}
    }
    let order = read::load(&tx, id).await?;
    tx.commit().await?;
    order.ok_or_else(|| ApiError::not_found(format!("order {id} not found")))
}

/// A negative payment of the order total, with the method of the first payment (card if none).
async fn refund<C: GenericClient>(tx: &C, id: i32) -> ApiResult<()> {
    let sql = "insert into payments (order_id, amount, method)
               select o.id, -o.total,
                      coalesce((select method from payments where order_id = o.id order by id limit 1), 'card')
               from orders o where o.id = $1 and o.total > 0";
    sql::query(tx, sql, &[&id]).await?;
    Ok(())
}

/// Return the order's goods to its store's stock, locking stock rows in product-id order.
async fn restock_lines<C: GenericClient>(tx: &C, id: i32) -> ApiResult<()> {
    let sql = "with lines as (
                   select i.product_id, o.store_id, sum(i.quantity)::int as quantity
                   from order_items i join orders o on o.id = i.order_id
                   where i.order_id = $1 group by i.product_id, o.store_id
               ), moves as (
                   insert into inventory_movements (product_id, store_id, order_id, quantity, reason)
                   select product_id, store_id, $1, quantity, 'adjustment' from lines order by product_id
               )
               insert into inventory (product_id, store_id, on_hand)
               select product_id, store_id, quantity from lines order by product_id
               on conflict (product_id, store_id)
               do update set on_hand = inventory.on_hand + excluded.on_hand, updated_at = now()";
    sql::query(tx, sql, &[&id]).await?;
    Ok(())
}
