//! Stores: `stores` in OLTP → `dim_store` (type 1: the latest name and city, in place).

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio_postgres::{binary_copy::BinaryCopyOutRow, types::Type};

use super::{
    row::{col, guard, versions, Latest},
    Check, Dim, DimKeys, Placement, Read, Retire, RowVersion, Rows, SnapshotRead, Source, Stage, Step, Table, Target,
    TransformError, Writer,
};
use crate::change::{to_json, ChangeRow, DecodeError};

/// The `stores` table.
pub(crate) struct Stores;

/// `stores` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct StoreImage {
    id: i32,
    name: String,
    city: String,
}

static SOURCES: [Source; 1] = [Source {
    name: "stores",
    code: 0,
    snapshot: SnapshotRead {
        step: Step::First,
        read: Read::Rows { columns: "id, name, city", types: &[Type::INT4, Type::TEXT, Type::TEXT] },
    },
}];

static TARGETS: [Target; 1] = [Target {
    name: "dim_store",
    placement: Placement::Reference,
    retire: Retire::ByJob(
        "update dim_store set is_deleted = true
         where store_key > 0 and not is_deleted
           and (changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)",
    ),
}];

const UPSERT: &str = concat!(
    "insert into dim_store as t (store_id, name, city, is_deleted, changed_at, src_id)
     select s.id, s.name, s.city, s.deleted, coalesce(s.at, '-infinity'), s.src
     from unnest($1::int4[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[], $6::int8[])
          as s(id, name, city, deleted, at, src)
     on conflict (store_id) do update set name = excluded.name, city = excluded.city,
       is_deleted = excluded.is_deleted, is_inferred = false, changed_at = excluded.changed_at,
       src_id = excluded.src_id
     where ",
    guard!()
);

const INFERRED: &str = "insert into dim_store (store_id, is_inferred) select unnest($1::int4[]), true
                        on conflict (store_id) do nothing returning 1";

static CHECKS: [Check; 1] = [Check {
    name: "stores (live members)",
    oltp: "select null::int4, 'stores', count(*)::numeric from stores",
    olap: "select null::int4, 'stores', count(*)::numeric from dim_store
           where store_key > 0 and not is_deleted and not is_inferred",
    values: 1,
    totals: false,
}];

impl Table for Stores {
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }

    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn stage(&self) -> Stage {
        Stage::Dimension { dim: Dim::Store, key: "store_id", inferred: INFERRED }
    }

    fn rows(&self) -> Box<dyn Rows> {
        Box::<StoreRows>::default()
    }

    fn statements(&self) -> Vec<&'static str> {
        vec![UPSERT]
    }

    fn checks(&self) -> &'static [Check] {
        &CHECKS
    }

    fn snapshot_image(&self, _: &Source, row: &BinaryCopyOutRow) -> Result<String, TransformError> {
        Ok(to_json(&from_copy(row)?)?)
    }
}

fn from_copy(r: &BinaryCopyOutRow) -> Result<StoreImage, DecodeError> {
    let image = || -> Result<_, tokio_postgres::Error> {
        Ok(StoreImage { id: r.try_get(0)?, name: r.try_get(1)?, city: r.try_get(2)? })
    };
    image().map_err(DecodeError::Column)
}

/// A type 1 row of `dim_store`.
#[derive(Debug, Clone)]
struct StoreRow {
    image: StoreImage,
    is_deleted: bool,
    version: RowVersion,
}

#[derive(Default)]
struct StoreRows(Latest<i32, StoreRow>);

impl StoreRows {
    fn add(&mut self, image: StoreImage, is_deleted: bool, version: RowVersion) {
        self.0.insert(image.id, StoreRow { image, is_deleted, version });
    }
}

impl Rows for StoreRows {
    fn add_change(&mut self, _: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        self.add(change.image()?, change.is_delete(), RowVersion::Change(change.version()));
        Ok(())
    }

    fn add_snapshot(&mut self, _: &Source, row: &BinaryCopyOutRow, job: i64) -> Result<(), TransformError> {
        self.add(from_copy(row)?, false, RowVersion::Snapshot { job });
        Ok(())
    }

    fn keys(&self, _: &mut DimKeys, written: &mut DimKeys) {
        written.store.extend(self.0.values().map(|r| r.image.id));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn write<'a>(&'a self, w: &'a Writer<'a>) -> BoxFuture<'a, Result<u64, tokio_postgres::Error>> {
        Box::pin(async move {
            let r = self.0.sorted();
            let (del, at, src) = versions(&r, |x| (x.is_deleted, x.version));
            let (ids, names, cities) =
                (col(&r, |x| x.image.id), col(&r, |x| x.image.name.clone()), col(&r, |x| x.image.city.clone()));
            w.tx.execute(w.statement(UPSERT), &[&ids, &names, &cities, &del, &at, &src]).await?;
            Ok(0)
        })
    }
}
