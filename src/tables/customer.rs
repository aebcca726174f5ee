//! Customers: `customers` in OLTP → `dim_customer` (type 1: the latest name and e-mail, in place).

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio_postgres::{binary_copy::BinaryCopyOutRow, types::Type};

use super::{
    row::{col, guard, versions, Latest},
    Check, Dim, DimKeys, Placement, Read, Retire, RowVersion, Rows, SnapshotRead, Source, Stage, Step, Table, Target,
    TransformError, Writer,
};
use crate::change::{to_json, ChangeRow, DecodeError};

/// The `customers` table.
pub(crate) struct Customers;

/// `customers` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct CustomerImage {
    id: i32,
    name: String,
    email: String,
}

static SOURCES: [Source; 1] = [Source {
    name: "customers",
    code: 1,
    snapshot: SnapshotRead {
        step: Step::First,
        read: Read::Rows { columns: "id, name, email", types: &[Type::INT4, Type::TEXT, Type::TEXT] },
    },
}];

static TARGETS: [Target; 1] = [Target {
    name: "dim_customer",
    placement: Placement::Reference,
    retire: Retire::ByJob(
        "update dim_customer set is_deleted = true
         where customer_key > 0 and not is_deleted
           and (changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)",
    ),
}];

const UPSERT: &str = concat!(
    "insert into dim_customer as t (customer_id, name, email, is_deleted, changed_at, src_id)
     select s.id, s.name, s.email, s.deleted, coalesce(s.at, '-infinity'), s.src
     from unnest($1::int4[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[], $6::int8[])
          as s(id, name, email, deleted, at, src)
     on conflict (customer_id) do update set name = excluded.name, email = excluded.email,
       is_deleted = excluded.is_deleted, is_inferred = false, changed_at = excluded.changed_at,
       src_id = excluded.src_id
     where ",
    guard!()
);

const INFERRED: &str = "insert into dim_customer (customer_id, is_inferred) select unnest($1::int4[]), true
                        on conflict (customer_id) do nothing returning 1";

static CHECKS: [Check; 1] = [Check {
    name: "customers (live members)",
    oltp: "select null::int4, 'customers', count(*)::numeric from customers",
    olap: "select null::int4, 'customers', count(*)::numeric from dim_customer
           where customer_key > 0 and not is_deleted and not is_inferred",
    values: 1,
    totals: false,
}];

impl Table for Customers {
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }

    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn stage(&self) -> Stage {
        Stage::Dimension { dim: Dim::Customer, key: "customer_id", inferred: INFERRED }
    }

    fn rows(&self) -> Box<dyn Rows> {
        Box::<CustomerRows>::default()
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

fn from_copy(r: &BinaryCopyOutRow) -> Result<CustomerImage, DecodeError> {
    let image = || -> Result<_, tokio_postgres::Error> {
        Ok(CustomerImage { id: r.try_get(0)?, name: r.try_get(1)?, email: r.try_get(2)? })
    };
    image().map_err(DecodeError::Column)
}

/// A type 1 row of `dim_customer`.
#[derive(Debug, Clone)]
struct CustomerRow {
    image: CustomerImage,
    is_deleted: bool,
    version: RowVersion,
}

#[derive(Default)]
struct CustomerRows(Latest<i32, CustomerRow>);

impl CustomerRows {
    fn add(&mut self, image: CustomerImage, is_deleted: bool, version: RowVersion) {
        self.0.insert(image.id, CustomerRow { image, is_deleted, version });
    }
}

impl Rows for CustomerRows {
    fn add_change(&mut self, _: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        self.add(change.image()?, change.is_delete(), RowVersion::Change(change.version()));
        Ok(())
    }

    fn add_snapshot(&mut self, _: &Source, row: &BinaryCopyOutRow, job: i64) -> Result<(), TransformError> {
        self.add(from_copy(row)?, false, RowVersion::Snapshot { job });
        Ok(())
    }

    fn keys(&self, _: &mut DimKeys, written: &mut DimKeys) {
        written.customer.extend(self.0.values().map(|r| r.image.id));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn write<'a>(&'a self, w: &'a Writer<'a>) -> BoxFuture<'a, Result<u64, tokio_postgres::Error>> {
        Box::pin(async move {
            let r = self.0.sorted();
            let (del, at, src) = versions(&r, |x| (x.is_deleted, x.version));
            let (ids, names, emails) =
                (col(&r, |x| x.image.id), col(&r, |x| x.image.name.clone()), col(&r, |x| x.image.email.clone()));
            w.tx.execute(w.statement(UPSERT), &[&ids, &names, &emails, &del, &at, &src]).await?;
            Ok(0)
        })
    }
}
