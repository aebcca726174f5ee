//! Reading one order with its lines and payments.

use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;

use super::{Order, OrderLine, Payment};
use crate::{
    api::{sql, ApiError, ApiResult},
    shop::OrderStatus,
};

/// The order `id`, or `None` when there is no such order.
pub(super) async fn load<C: GenericClient>(client: &C, id: i32) -> ApiResult<Option<Order>> {
    let head = "select customer_id, employee_id, store_id, status, order_time, total from orders where id = $1";
    let lines = "select product_id, quantity, price from order_items where order_id = $1 order by id";
    let payments = "select id, amount, method, paid_at from payments where order_id = $1 order by id";
    let params: sql::Params = &[&id];
    let (head, lines, payments) = tokio::try_join!(
        sql::query_opt(client, head, params),
        sql::query(client, lines, params),
        sql::query(client, payments, params),
    )?;
    let Some(head) = head else { return Ok(None) };
    let status: String = head.get(3);
    let status = OrderStatus::parse(&status)
        .ok_or_else(|| ApiError::Internal(format!("order {id} has unknown status {status:?}").into()))?;
    Ok(Some(Order {
        order_id: id,
        customer_id: head.get(0),
        employee_id: head.get(1),
        store_id: head.get(2),
        status,
        order_time: head.get(4),
        total: head.get(5),
        items: lines
            .iter()
            .map(|r| {
                let (quantity, price): (i32, Decimal) = (r.get(1), r.get(2));
                OrderLine { product_id: r.get(0), quantity, price, line_total: price * Decimal::from(quantity) }
            })
            .collect(),
        payments: payments
            .iter()
            .map(|r| Payment { id: r.get(0), amount: r.get(1), method: r.get(2), paid_at: r.get(3) })
            .collect(),
    }))
}
