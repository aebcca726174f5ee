//! Employees: `employees` in OLTP → `dim_employee` (type 1, in place; an employee's store is an
//! attribute, so a store named before its row arrives gets an inferred member).

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio_postgres::{binary_copy::BinaryCopyOutRow, types::Type};

use super::{
    row::{col, guard, versions, Latest},
    Check, Dim, DimKeys, Placement, Read, Retire, RowVersion, Rows, SnapshotRead, Source, Stage, Step, Table, Target,
    TransformError, Writer,
};
use crate::change::{to_json, ChangeRow, DecodeError};

/// The `employees` table.
pub(crate) struct Employees;

/// `employees` row image.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct EmployeeImage {
    id: i32,
    store_id: i32,
    name: String,
    role: String,
    active: bool,
}

static SOURCES: [Source; 1] = [Source {
    name: "employees",
    code: 2,
    snapshot: SnapshotRead {
        step: Step::First,
        read: Read::Rows {
            columns: "id, store_id, name, role, active",
            types: &[Type::INT4, Type::INT4, Type::TEXT, Type::TEXT, Type::BOOL],
        },
    },
}];

static TARGETS: [Target; 1] = [Target {
    name: "dim_employee",
    placement: Placement::Reference,
    retire: Retire::ByJob(
        "update dim_employee set is_deleted = true
         where employee_key > 0 and not is_deleted
           and (changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)",
    ),
}];

const UPSERT: &str = concat!(
    "insert into dim_employee as t (employee_id, store_id, name, role, active, is_deleted, changed_at, src_id)
     select s.id, s.store_id, s.name, s.role, s.active, s.deleted, coalesce(s.at, '-infinity'), s.src
     from unnest($1::int4[], $2::int4[], $3::text[], $4::text[], $5::bool[], $6::bool[],
                 $7::timestamptz[], $8::int8[])
          as s(id, store_id, name, role, active, deleted, at, src)
     on conflict (employee_id) do update set store_id = excluded.store_id, name = excluded.name,
       role = excluded.role, active = excluded.active, is_deleted = excluded.is_deleted,
       is_inferred = false, changed_at = excluded.changed_at, src_id = excluded.src_id
     where ",
    guard!()
);

const INFERRED: &str = "insert into dim_employee (employee_id, is_inferred) select unnest($1::int4[]), true
                        on conflict (employee_id) do nothing returning 1";

static CHECKS: [Check; 1] = [Check {
    name: "employees (live members)",
    oltp: "select null::int4, 'employees', count(*)::numeric from employees",
    olap: "select null::int4, 'employees', count(*)::numeric from dim_employee
           where employee_key > 0 and not is_deleted and not is_inferred",
    values: 1,
    totals: false,
}];

impl Table for Employees {
    fn sources(&self) -> &'static [Source] {
        &SOURCES
    }

    fn targets(&self) -> &'static [Target] {
        &TARGETS
    }

    fn stage(&self) -> Stage {
        Stage::Dimension { dim: Dim::Employee, key: "employee_id", inferred: INFERRED }
    }

    fn rows(&self) -> Box<dyn Rows> {
        Box::<EmployeeRows>::default()
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

fn from_copy(r: &BinaryCopyOutRow) -> Result<EmployeeImage, DecodeError> {
    let image = || -> Result<_, tokio_postgres::Error> {
        Ok(EmployeeImage {
            id: r.try_get(0)?,
            store_id: r.try_get(1)?,
            name: r.try_get(2)?,
            role: r.try_get(3)?,
            active: r.try_get(4)?,
        })
    };
    image().map_err(DecodeError::Column)
}

/// A type 1 row of `dim_employee`.
#[derive(Debug, Clone)]
struct EmployeeRow {
    image: EmployeeImage,
    is_deleted: bool,
    version: RowVersion,
}

#[derive(Default)]
struct EmployeeRows(Latest<i32, EmployeeRow>);

impl EmployeeRows {
    fn add(&mut self, image: EmployeeImage, is_deleted: bool, version: RowVersion) {
        self.0.insert(image.id, EmployeeRow { image, is_deleted, version });
    }
}

impl Rows for EmployeeRows {
    fn add_change(&mut self, _: &Source, change: &ChangeRow) -> Result<(), TransformError> {
        self.add(change.image()?, change.is_delete(), RowVersion::Change(change.version()));
        Ok(())
    }

    fn add_snapshot(&mut self, _: &Source, row: &BinaryCopyOutRow, job: i64) -> Result<(), TransformError> {
        self.add(from_copy(row)?, false, RowVersion::Snapshot { job });
        Ok(())
    }

    fn keys(&self, referenced: &mut DimKeys, written: &mut DimKeys) {
        for r in self.0.values() {
            referenced.store.insert(r.image.store_id);
            written.employee.insert(r.image.id);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn write<'a>(&'a self, w: &'a Writer<'a>) -> BoxFuture<'a, Result<u64, tokio_postgres::Error>> {
        Box::pin(async move {
            let r = self.0.sorted();
            let (del, at, src) = versions(&r, |x| (x.is_deleted, x.version));
            let (ids, stores, names) =
                (col(&r, |x| x.image.id), col(&r, |x| x.image.store_id), col(&r, |x| x.image.name.clone()));
            let (roles, active) = (col(&r, |x| x.image.role.clone()), col(&r, |x| x.image.active));
            w.tx.execute(w.statement(UPSERT), &[&ids, &stores, &names, &roles, &active, &del, &at, &src]).await?;
            Ok(0)
        })
    }
}
