//! Products: `products` in OLTP → `dim_product`, type 2 on name, category and price (a change of
//! one closes the current version and opens a new one at the change's time; facts bind to the
//! version valid when their order was placed), type 1 on `active` and deletion.

mod history;

use futures_util::future::BoxFuture;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio_postgres::{binary_copy::BinaryCopyOutRow, types::Type};

use super::{
    Check, Dim, DimKeys, Placement, Read, Retire, RowVersion, Rows, SnapshotRead, Source, Stage, Step, Table, Target,
    TransformError, Violation, Writer,
};
use crate::change::{to_json, ChangeRow, DecodeError};

/// The `products` table.
pub(crate) struct Products;

/// `products` row image.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub(super) struct ProductImage {
    pub id: i32,
    pub name: String,
    pub category: String,
    pub price: Decimal,
    pub active: bool,
}

static SOURCES: [Source; 1] = [Source {
    name: "products",
    code: 3,
    snapshot: SnapshotRead {
        step: Step::First,
        read: Read::Rows {
            columns: "id, name, category, price, active",
            types: &[Type::INT4, Type::TEXT, Type::TEXT, Type::NUMERIC, Type::BOOL],
        },
    },
}];

static TARGETS: [Target; 1] = [Target {
    name: "dim_product",
    placement: Placement::Reference,
    retire: Retire::ByJob(
        "update dim_product set is_deleted = true
         where product_key > 0 and is_current and not is_deleted
           and (changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)",
    ),
}];

const INFERRED: &str = "insert into dim_product (product_id, is_inferred) select unnest($1::int4[]), true
                        on conflict (product_id) where is_current do nothing returning 1";

static CHECKS: [Check; 1] = [Check {
    name: "products (live members)",
    oltp: "select null::int4, 'products', count(*)::numeric from products",
    olap: "select null::int4, 'products', count(*)::numeric from dim_product
           where product_key > 0 and is_current and not is_deleted and not is_inferred",
    values: 1,
    totals: false,
}];

impl Table for Products {
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }

    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn stage(&self) -> Stage {
        Stage::Dimension { dim: Dim::Product, key: "product_id", inferred: INFERRED }
    }

    fn rows(&self) -> Box<dyn Rows> {
        Box::<ProductRows>::default()
    }

    fn statements(&self) -> Vec<&'static str> {
        history::STATEMENTS.to_vec()
    }

    fn checks(&self) -> &'static [Check] {
        &CHECKS
    }

    fn snapshot_image(&self, _: &Source, row: &BinaryCopyOutRow) -> Result<String, TransformError> {
        Ok(to_json(&from_copy(row)?)?)
    }
}

fn from_copy(r: &BinaryCopyOutRow) -> Result<ProductImage, DecodeError> {
    let image = || -> Result<_, tokio_postgres::Error> {
        Ok(ProductImage {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            category: r.try_get(2)?,
            price: r.try_get(3)?,
            active: r.try_get(4)?,
        })
    };
    image().map_err(DecodeError::Column)
}

/// One change of a product, applied in order (type 2 needs every version).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ProductChange {
    pub image: ProductImage,
    pub is_deleted: bool,
    pub version: RowVersion,
}

/// A batch's product changes, all of them, in version order.
#[derive(Default)]
struct ProductRows(Vec<ProductChange>);

impl ProductRows {
    fn add(&mut self, image: ProductImage, is_deleted: bool, version: RowVersion) -> Result<(), TransformError> {
        if image.price <= Decimal::ZERO {
            return Err(Violation::new("product", image.id, format!("has a non-positive price {}", image.price)).into());
        }
        self.0.push(ProductChange { image, is_deleted, version });
        Ok(())
    }
}

impl Rows for ProductRows {
    fn add_change(&mut self, _: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        self.add(change.image()?, change.is_delete(), RowVersion::Change(change.version()))
    }

    fn add_snapshot(&mut self, _: &Source, row: &BinaryCopyOutRow, job: i64) -> Result<(), TransformError> {
        self.add(from_copy(row)?, false, RowVersion::Snapshot { job })
    }

    fn keys(&self, _: &mut DimKeys, written: &mut DimKeys) {
        written.product.extend(self.0.iter().map(|c| c.image.id));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn write<'a>(&'a self, w: &'a Writer<'a>) -> BoxFuture<'a, Result<u64, tokio_postgres::Error>> {
        Box::pin(history::apply(w, &self.0))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::change::Op;

    #[test]
    fn a_non_positive_price_is_a_violation() {
        let after = r#"{"id": 7, "name": "Latte", "category": "coffee", "price": 0, "active": true}"#;
        let change = ChangeRow {
            id: 1,
            txid: 1,
            table: "products".into(),
            op: Op::Insert,
            row_id: 7,
            before: None,
            after: Some(after.into()),
            changed_at: Utc.timestamp_opt(1_750_000_000, 0).unwrap(),
        };
        let err = ProductRows::default().add_change(&SOURCES[0], &change).unwrap_err();
        assert_eq!(err.to_string(), "product 7 has a non-positive price 0");
    }
}
