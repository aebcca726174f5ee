//! Stock: `inventory` (stock on hand) and `inventory_movements` in OLTP → `fact_inventory`, one row
//! per product × store × UTC day: the day's received / sold / wasted / adjusted / net units, and
//! the last stock level seen that day (semi-additive: never summed across days).
//!
//! A movement adds into its day (an update subtracts its before image and adds its after image,
//! a delete subtracts); a stock level replaces the day's level when it is later. A snapshot job
//! reads whole days (the movements' totals per day, which replace the day's figures) and each
//! stock level on the day it was last updated.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio_postgres::{
    binary_copy::BinaryCopyOutRow,
    types::{ToSql, Type},
};

use super::{
    date_key, row::col, Check, DimKeys, Placement, Read, Retire, Rows, SnapshotRead, Source, Stage, Step, Table,
    Target, TransformError, Violation, Writer,
};
use crate::{
    change::{to_json, ChangeRow, DecodeError, Op, Side},
    shop::MovementReason,
};

/// The stock tables.
pub(crate) struct Stock;

/// `inventory` row image (stock on hand of a product in a store).
#[derive(Debug, Clone, Deserialize, Serialize)]
struct LevelImage {
    id: i32,
    product_id: i32,
    store_id: i32,
    on_hand: i32,
}

/// `inventory_movements` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct MovementImage {
    id: i32,
    product_id: i32,
    store_id: i32,
    quantity: i32,
    reason: String,
    moved_at: DateTime<Utc>,
}

const LEVELS: &str = "inventory";
const MOVEMENTS: &str = "inventory_movements";

static SOURCES: [Source; 2] = [
    Source {
        name: LEVELS,
        code: 7,
        snapshot: SnapshotRead {
            step: Step::First,
            read: Read::Rows {
                columns: "id, store_id, product_id, on_hand, updated_at",
                types: &[Type::INT4, Type::INT4, Type::INT4, Type::INT4, Type::TIMESTAMPTZ],
            },
        },
    },
    Source {
        name: MOVEMENTS,
        code: 8,
        snapshot: SnapshotRead {
            step: Step::First,
            read: Read::Query {
                sql: "select (moved_at at time zone 'UTC')::date, store_id, product_id,
                             coalesce(sum(quantity) filter (where reason = 'restock'), 0)::int4,
                             coalesce(-sum(quantity) filter (where reason = 'sale'), 0)::int4,
                             coalesce(-sum(quantity) filter (where reason = 'waste'), 0)::int4,
                             coalesce(sum(quantity) filter (where reason = 'adjustment'), 0)::int4,
                             sum(quantity)::int4
                      from inventory_movements group by 1, 2, 3",
                types: &[
                    Type::DATE,
                    Type::INT4,
                    Type::INT4,
                    Type::INT4,
                    Type::INT4,
                    Type::INT4,
                    Type::INT4,
                    Type::INT4,
                ],
            },
        },
    },
];

static TARGETS: [Target; 1] = [Target {
    name: "fact_inventory",
    placement: Placement::Distributed { column: "store_id", with: None },
    retire: Retire::ByStart(
        "update fact_inventory set units_received = 0, units_sold = 0, units_wasted = 0, units_adjusted = 0,
                net_units = 0, loaded_at = now()
         where loaded_at < $1::timestamptz
           and (units_received, units_sold, units_wasted, units_adjusted, net_units) <> (0, 0, 0, 0, 0)",
    ),
}];

/// Upsert into `fact_inventory`: streamed movements add into the day's figures (`t.x +
/// excluded.x`), a snapshot's whole days replace them; the stock level keeps the latest seen.
macro_rules! upsert {
    ($units:literal) => {
        concat!(
            "insert into fact_inventory as t (date_key, store_id, product_id, units_received, units_sold,
                    units_wasted, units_adjusted, net_units, on_hand, on_hand_at, store_key, product_key, loaded_at)
             select s.*, coalesce(ds.store_key, 0), coalesce(dp.product_key, 0), clock_timestamp()
             from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::int4[], $6::int4[], $7::int4[],
                         $8::int4[], $9::int4[], $10::timestamptz[])
                  as s(date_key, store_id, product_id, received, sold, wasted, adjusted, net, on_hand, on_hand_at)
             left join dim_store ds on ds.store_id = s.store_id
             left join dim_product dp on dp.product_id = s.product_id and dp.is_current
             on conflict (date_key, store_id, product_id) do update set ",
            $units,
            ",
               on_hand = case when excluded.on_hand_at >= coalesce(t.on_hand_at, '-infinity') then excluded.on_hand
                              else t.on_hand end,
               on_hand_at = greatest(t.on_hand_at, excluded.on_hand_at),
               store_key = excluded.store_key, product_key = excluded.product_key, loaded_at = excluded.loaded_at"
        )
    };
}

const ADD: &str = upsert!(
    "units_received = t.units_received + excluded.units_received, units_sold = t.units_sold + excluded.units_sold,
     units_wasted = t.units_wasted + excluded.units_wasted,
     units_adjusted = t.units_adjusted + excluded.units_adjusted, net_units = t.net_units + excluded.net_units"
);

const REPLACE: &str = upsert!(
    "units_received = excluded.units_received, units_sold = excluded.units_sold,
     units_wasted = excluded.units_wasted, units_adjusted = excluded.units_adjusted,
     net_units = excluded.net_units"
);

static CHECKS: [Check; 1] = [Check {
    name: "inventory movements (received/sold/wasted/adjusted/net by day, store and product)",
    oltp: "select to_char(moved_at at time zone 'UTC', 'YYYYMMDD')::int4,
                  to_char(moved_at at time zone 'UTC', 'YYYYMMDD') || ':' || store_id || ':' || product_id,
                  coalesce(sum(quantity) filter (where reason = 'restock'), 0)::numeric,
                  coalesce(-sum(quantity) filter (where reason = 'sale'), 0)::numeric,
                  coalesce(-sum(quantity) filter (where reason = 'waste'), 0)::numeric,
                  coalesce(sum(quantity) filter (where reason = 'adjustment'), 0)::numeric,
                  sum(quantity)::numeric
           from inventory_movements group by 1, 2",
    olap: "select date_key, date_key || ':' || store_id || ':' || product_id,
                  sum(units_received)::numeric, sum(units_sold)::numeric, sum(units_wasted)::numeric,
                  sum(units_adjusted)::numeric, sum(net_units)::numeric
           from fact_inventory
           where (units_received, units_sold, units_wasted, units_adjusted) <> (0, 0, 0, 0)
           group by 1, 2",
    values: 5,
    totals: true,
}];

impl Table for Stock {
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }

    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn stage(&self) -> Stage {
        Stage::Fact { headers: None }
    }

    fn rows(&self) -> Box<dyn Rows> {
        Box::<StockRows>::default()
    }

    fn statements(&self) -> Vec<&'static str> {
        vec![ADD, REPLACE]
    }

    fn checks(&self) -> &'static [Check] {
        &CHECKS
    }

    fn snapshot_image(&self, source: &Source, row: &BinaryCopyOutRow) -> Result<String, TransformError> {
        match source.name {
            LEVELS => Ok(to_json(&level_from_copy(row)?.0)?),
            _ => Ok(to_json(&day_from_copy(row)?)?),
        }
    }
}

fn level_from_copy(r: &BinaryCopyOutRow) -> Result<(LevelImage, DateTime<Utc>), DecodeError> {
    let level = || -> Result<_, tokio_postgres::Error> {
        let image = LevelImage {
            id: r.try_get(0)?,
            store_id: r.try_get(1)?,
            product_id: r.try_get(2)?,
            on_hand: r.try_get(3)?,
        };
        Ok((image, r.try_get(4)?))
    };
    level().map_err(DecodeError::Column)
}

fn day_from_copy(r: &BinaryCopyOutRow) -> Result<Day, DecodeError> {
    let day = || -> Result<_, tokio_postgres::Error> {
        let date: NaiveDate = r.try_get(0)?;
        Ok(Day {
            date_key: date_key(date.and_hms_opt(12, 0, 0).expect("noon exists").and_utc()),
            store_id: r.try_get(1)?,
            product_id: r.try_get(2)?,
            received: r.try_get(3)?,
            sold: r.try_get(4)?,
            wasted: r.try_get(5)?,
            adjusted: r.try_get(6)?,
            net: r.try_get(7)?,
            on_hand: None,
        })
    };
    day().map_err(DecodeError::Column)
}

/// What a batch adds into one `fact_inventory` row (product × store × day), or, from a snapshot,
/// the whole day's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
struct Day {
    date_key: i32,
    store_id: i32,
    product_id: i32,
    received: i32,
    sold: i32,
    wasted: i32,
    adjusted: i32,
    net: i32,
    /// The last stock level seen that day, with its time.
    on_hand: Option<(i32, DateTime<Utc>)>,
}

#[derive(Default)]
struct StockRows {
    /// Streamed movements and stock levels, by (day, store, product).
    deltas: HashMap<(i32, i32, i32), Day>,
    /// A snapshot's whole days: they replace the day's figures.
    days: Vec<Day>,
}

impl StockRows {
    fn delta(&mut self, date_key: i32, store_id: i32, product_id: i32) -> &mut Day {
        self.deltas.entry((date_key, store_id, product_id)).or_insert_with(|| Day {
            date_key,
            store_id,
            product_id,
            ..Day::default()
        })
    }

    fn level(&mut self, store_id: i32, product_id: i32, on_hand: i32, at: DateTime<Utc>) {
        self.delta(date_key(at), store_id, product_id).on_hand = Some((on_hand, at));
    }

    /// Subtract the before image and add the after image of a movement (both checked first).
    fn movement(&mut self, before: Option<MovementImage>, after: Option<MovementImage>) -> Result<(), TransformError> {
        let mut checked = Vec::with_capacity(2);
        for (sign, m) in [before.map(|m| (-1, m)), after.map(|m| (1, m))].into_iter().flatten() {
            let Some(reason) = MovementReason::parse(&m.reason) else {
                return Err(Violation::new("movement", m.id, format!("has unknown reason '{}'", m.reason)).into());
            };
            checked.push((sign, reason, m));
        }
        for (sign, reason, m) in checked {
            let q = sign * m.quantity;
            let d = self.delta(date_key(m.moved_at), m.store_id, m.product_id);
            match reason {
                MovementReason::Restock => d.received += q,
                MovementReason::Sale => d.sold -= q,
                MovementReason::Waste => d.wasted -= q,
                MovementReason::Adjustment => d.adjusted += q,
            }
            d.net += q;
        }
        Ok(())
    }
}

impl Rows for StockRows {
    fn add_change(&mut self, source: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        match source.name {
            // A removed stock row says nothing about that day's level.
            LEVELS if change.is_delete() => Ok(()),
            LEVELS => {
                let l: LevelImage = change.image()?;
                self.level(l.store_id, l.product_id, l.on_hand, change.changed_at);
                Ok(())
            }
            _ => {
                let before = (change.op != Op::Insert).then(|| change.side(Side::Before)).transpose()?;
                let after = (change.op != Op::Delete).then(|| change.side(Side::After)).transpose()?;
                self.movement(before, after)
            }
        }
    }

    fn add_snapshot(&mut self, source: &Source, row: &BinaryCopyOutRow, _job: i64) -> Result<(), TransformError> {
        match source.name {
            LEVELS => {
                let (l, at) = level_from_copy(row)?;
                self.level(l.store_id, l.product_id, l.on_hand, at);
            }
            _ => self.days.push(day_from_copy(row)?),
        }
        Ok(())
    }

    fn keys(&self, referenced: &mut DimKeys, _: &mut DimKeys) {
        for d in self.deltas.values().chain(&self.days) {
            referenced.store.insert(d.store_id);
            referenced.product.insert(d.product_id);
        }
    }

    fn is_empty(&self) -> bool {
        self.deltas.is_empty() && self.days.is_empty()
    }

    fn write<'a>(&'a self, w: &'a Writer<'a>) -> BoxFuture<'a, Result<u64, tokio_postgres::Error>> {
        Box::pin(async move {
            let mut deltas: Vec<&Day> = self.deltas.values().collect();
            deltas.sort_by_key(|d| (d.date_key, d.store_id, d.product_id));
            for (sql, rows) in [(ADD, deltas), (REPLACE, self.days.iter().collect())] {
                if !rows.is_empty() {
                    w.tx.execute(w.statement(sql), &params(&rows).each()).await?;
                }
            }
            Ok(0)
        })
    }
}

/// The columns of an upsert.
struct Params(
    Vec<i32>,
    Vec<i32>,
    Vec<i32>,
    Vec<i32>,
    Vec<i32>,
    Vec<i32>,
    Vec<i32>,
    Vec<i32>,
    Vec<Option<i32>>,
    Vec<Option<DateTime<Utc>>>,
);

impl Params {
    fn each(&self) -> [&(dyn ToSql + Sync); 10] {
        [&self.0, &self.1, &self.2, &self.3, &self.4, &self.5, &self.6, &self.7, &self.8, &self.9]
    }
}

fn params(r: &[&Day]) -> Params {
    Params(
        col(r, |x| x.date_key),
        col(r, |x| x.store_id),
        col(r, |x| x.product_id),
        col(r, |x| x.received),
        col(r, |x| x.sold),
        col(r, |x| x.wasted),
        col(r, |x| x.adjusted),
        col(r, |x| x.net),
        col(r, |x| x.on_hand.map(|o| o.0)),
        col(r, |x| x.on_hand.map(|o| o.1)),
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn change(id: i64, op: Op, before: Option<&str>, after: Option<&str>) -> ChangeRow {
        ChangeRow {
            id,
            txid: 1000 + id,
            table: MOVEMENTS.into(),
            op,
            row_id: 1,
            before: before.map(str::to_string),
            after: after.map(str::to_string),
            changed_at: Utc.timestamp_opt(1_750_000_000 + id, 0).unwrap(),
        }
    }

    const SALE: &str = r#"{"id": 1, "product_id": 2, "store_id": 3, "quantity": -4, "reason": "sale",
        "moved_at": "2025-07-20T10:00:00+00:00"}"#;

    #[test]
    fn a_movement_moved_to_another_day_leaves_one_and_enters_the_other() {
        let later = SALE.replace("2025-07-20", "2025-07-21");
        let mut rows = StockRows::default();
        rows.add_change(&SOURCES[1], &change(1, Op::Insert, None, Some(SALE))).unwrap();
        rows.add_change(&SOURCES[1], &change(2, Op::Update, Some(SALE), Some(&later))).unwrap();
        let day = |k| rows.deltas[&(k, 3, 2)].clone();
        assert_eq!((day(20250720).sold, day(20250720).net), (0, 0));
        assert_eq!((day(20250721).sold, day(20250721).net), (4, -4));
    }

    #[test]
    fn an_unknown_reason_applies_neither_image() {
        let bad = SALE.replace("sale", "theft");
        let mut rows = StockRows::default();
        let err = rows.add_change(&SOURCES[1], &change(1, Op::Update, Some(SALE), Some(&bad))).unwrap_err();
        assert_eq!(err.to_string(), "movement 1 has unknown reason 'theft'");
        assert!(rows.is_empty());
    }
}
