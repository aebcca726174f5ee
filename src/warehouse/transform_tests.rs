//! Unit tests of the pure transform: no database.

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;

use super::{transform, TransformError};
use crate::change::{ChangeRow, Op};

fn change(id: i64, table: &str, op: Op, before: Option<&str>, after: Option<&str>) -> ChangeRow {
    ChangeRow {
        id,
        txid: 1000 + id,
        table: table.into(),
        op,
        row_id: 1,
        before: before.map(str::to_string),
        after: after.map(str::to_string),
        changed_at: Utc.timestamp_opt(1_750_000_000 + id, 0).unwrap(),
    }
}

const ORDER: &str = r#"{"id": 7, "customer_id": 3, "employee_id": null, "store_id": 2, "status": "placed",
    "order_time": "2025-07-20T23:30:00+00:00", "total": 7.60}"#;

#[test]
fn money_stays_exact() {
    let item = r#"{"id": 1, "order_id": 7, "product_id": 2, "quantity": 3, "price": 0.10}"#;
    let b = transform(&[change(1, "order_items", Op::Insert, None, Some(item))]);
    assert_eq!(b.sales[0].line_total, Decimal::new(30, 2));
    assert_eq!(b.sales[0].line_total.to_string(), "0.30");
    let two = r#"{"id": 2, "order_id": 7, "product_id": 2, "quantity": 1, "price": 0.20}"#;
    let b = transform(&[
        change(1, "order_items", Op::Insert, None, Some(item)),
        change(2, "order_items", Op::Insert, None, Some(two)),
    ]);
    let sum: Decimal = b.sales.iter().map(|s| s.unit_price).sum();
    assert_eq!(sum.to_string(), "0.30");
}

#[test]
fn order_keys_come_from_utc_time() {
    let b = transform(&[change(1, "orders", Op::Insert, None, Some(ORDER))]);
    let o = &b.orders[0];
    assert_eq!((o.date_key, o.time_key), (20250720, 23 * 60 + 30));
    assert_eq!(o.employee_id, None);
    assert!(b.inferred.customer.contains(&3) && b.inferred.store.contains(&2));
}

#[test]
fn several_changes_of_a_row_collapse_to_the_last() {
    let served = ORDER.replace("placed", "served");
    let b = transform(&[
        change(3, "orders", Op::Update, Some(ORDER), Some(&served)),
        change(1, "orders", Op::Insert, None, Some(ORDER)),
        change(4, "orders", Op::Delete, Some(&served), None),
    ]);
    assert_eq!(b.orders.len(), 1);
    assert!(b.orders[0].is_deleted, "the delete is the latest change");
    assert_eq!(b.orders[0].version.columns().1, 4);
    assert_eq!(b.applied.values().sum::<u64>(), 3);
}

#[test]
fn product_changes_are_all_kept_in_order() {
    let p = |price: &str| {
        format!(r#"{{"id": 1, "name": "Latte", "category": "coffee", "price": {price}, "active": true}}"#)
    };
    let b = transform(&[
        change(2, "products", Op::Update, Some(&p("3.80")), Some(&p("4.00"))),
        change(1, "products", Op::Insert, None, Some(&p("3.80"))),
    ]);
    let prices: Vec<String> = b.products.iter().map(|c| c.image.price.to_string()).collect();
    assert_eq!(prices, ["3.80", "4.00"]);
}

#[test]
fn movements_become_deltas_of_their_day() {
    let m = |q: i32, reason: &str| {
        format!(
            r#"{{"id": 1, "product_id": 2, "store_id": 1, "quantity": {q}, "reason": "{reason}", "moved_at": "2025-07-20T10:00:00+00:00"}}"#
        )
    };
    let b = transform(&[
        change(1, "inventory_movements", Op::Insert, None, Some(&m(24, "restock"))),
        change(2, "inventory_movements", Op::Insert, None, Some(&m(-2, "sale"))),
        change(3, "inventory_movements", Op::Update, Some(&m(-2, "sale")), Some(&m(-3, "sale"))),
        change(4, "inventory_movements", Op::Delete, Some(&m(-1, "waste")), None),
    ]);
    assert_eq!(b.inventory.len(), 1);
    let d = &b.inventory[0];
    assert_eq!((d.date_key, d.received, d.sold, d.wasted, d.net), (20250720, 24, 3, -1, 22));
}

#[test]
fn bad_changes_are_rejected_and_the_rest_goes_on() {
    let b = transform(&[
        change(1, "orders", Op::Insert, None, Some(r#"{"id": 1}"#)),
        change(3, "nope", Op::Insert, None, Some("{}")),
        change(
            4,
            "order_items",
            Op::Insert,
            None,
            Some(r#"{"id": 1, "order_id": 7, "product_id": 2, "quantity": 0, "price": 1}"#),
        ),
        change(5, "orders", Op::Insert, None, Some(ORDER)),
        change(6, "orders", Op::Delete, None, None),
    ]);
    let errors: Vec<String> = b.rejected.iter().map(|r| r.error.to_string()).collect();
    assert!(matches!(b.rejected[0].error, TransformError::Decode(_)), "{errors:?}");
    assert!(errors[0].contains("the after image does not decode: missing field `customer_id`"), "{errors:?}");
    assert_eq!(errors[1], "unknown table 'nope'");
    assert!(matches!(b.rejected[2].error, TransformError::Invalid(_)), "{errors:?}");
    assert_eq!(errors[2], "order item 1 has a non-positive quantity 0");
    assert_eq!(errors[3], "the before image is missing");
    assert_eq!(b.orders.len(), 1);
    assert_eq!(b.applied.values().sum::<u64>(), 1);
}

#[test]
fn feedback_becomes_one_rating_row_of_its_utc_day() {
    let f = |rating: i32| {
        format!(
            r#"{{"id": 4, "order_id": 7, "rating": {rating}, "comment": "great flat white",
                 "created_at": "2025-07-20T23:59:30+00:00"}}"#
        )
    };
    let b = transform(&[
        change(1, "feedback", Op::Insert, None, Some(&f(4))),
        change(2, "feedback", Op::Update, Some(&f(4)), Some(&f(5))),
    ]);
    assert_eq!(b.feedback.len(), 1);
    let row = &b.feedback[0];
    assert_eq!((row.feedback_id, row.order_id, row.rating), (4, 7, 5));
    assert_eq!((row.date_key, row.time_key), (20250720, 23 * 60 + 59));
    assert_eq!(row.comment.as_deref(), Some("great flat white"));
    assert!(!row.is_deleted);
    let b = transform(&[change(3, "feedback", Op::Delete, Some(&f(5)), None)]);
    assert!(b.feedback[0].is_deleted, "a deleted rating is kept, flagged");
    let no_comment = r#"{"id": 5, "order_id": 8, "rating": 1, "comment": null, "created_at": "2025-07-21T08:00:00Z"}"#;
    assert_eq!(transform(&[change(4, "feedback", Op::Insert, None, Some(no_comment))]).feedback[0].comment, None);
}

#[test]
fn ratings_outside_one_to_five_are_rejected() {
    let bad = r#"{"id": 9, "order_id": 7, "rating": 6, "comment": null, "created_at": "2025-07-20T10:00:00Z"}"#;
    let b = transform(&[change(1, "feedback", Op::Insert, None, Some(bad))]);
    assert!(b.feedback.is_empty());
    assert!(matches!(b.rejected[0].error, TransformError::Invalid(_)));
    assert_eq!(b.rejected[0].error.to_string(), "feedback 9 has a rating 6 outside 1 to 5");
}

#[test]
fn ops_are_decoded_at_the_edge() {
    assert_eq!(Op::from_code("U").unwrap(), Op::Update);
    assert_eq!(Op::from_code("X").unwrap_err().to_string(), "unknown op 'X' (expected I, U or D)");
}

#[test]
fn a_line_moved_to_another_order_is_deleted_under_the_one_it_left() {
    let item =
        |order: i32| format!(r#"{{"id": 1, "order_id": {order}, "product_id": 2, "quantity": 3, "price": 0.10}}"#);
    let keys = |b: &super::WarehouseBatch| -> Vec<(i32, bool)> {
        b.sales.iter().map(|s| (s.order_id, s.is_deleted)).collect()
    };
    let moved = transform(&[change(1, "order_items", Op::Update, Some(&item(7)), Some(&item(8)))]);
    assert_eq!(keys(&moved), [(7, true), (8, false)]);
    assert_eq!(moved.sales[0].version, moved.sales[1].version, "the old row is retired by the same change");
    // Moved back in the same batch: alive under 7 again, retired under 8.
    let back = transform(&[
        change(1, "order_items", Op::Update, Some(&item(7)), Some(&item(8))),
        change(2, "order_items", Op::Update, Some(&item(8)), Some(&item(7))),
    ]);
    assert_eq!(keys(&back), [(7, false), (8, true)]);
    // An edit that keeps the order writes one row.
    let edited = transform(&[change(1, "order_items", Op::Update, Some(&item(7)), Some(&item(7)))]);
    assert_eq!(keys(&edited), [(7, false)]);
}

#[test]
fn a_payment_moved_to_another_order_is_deleted_under_the_one_it_left() {
    let pay = |order: i32| {
        format!(
            r#"{{"id": 4, "order_id": {order}, "amount": 7.60, "method": "card", "paid_at": "2025-07-20T23:31:00+00:00"}}"#
        )
    };
    let b = transform(&[change(1, "payments", Op::Update, Some(&pay(9)), Some(&pay(3)))]);
    let keys: Vec<(i32, bool)> = b.payments.iter().map(|p| (p.order_id, p.is_deleted)).collect();
    assert_eq!(keys, [(3, false), (9, true)]);
}

#[test]
fn a_rating_moved_to_another_order_is_deleted_under_the_one_it_left() {
    let rating = |order: i32| {
        format!(
            r#"{{"id": 5, "order_id": {order}, "rating": 4, "comment": null, "created_at": "2025-07-20T23:40:00+00:00"}}"#
        )
    };
    let b = transform(&[change(1, "feedback", Op::Update, Some(&rating(2)), Some(&rating(6)))]);
    let keys: Vec<(i32, bool)> = b.feedback.iter().map(|f| (f.order_id, f.is_deleted)).collect();
    assert_eq!(keys, [(2, true), (6, false)]);
}
