//! The tables of the star schema, by name, and what a snapshot job does to rows it did not load.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

/// A warehouse table (the targets of a snapshot job).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StarTable {
    DimStore,
    DimCustomer,
    DimEmployee,
    DimProduct,
    FactOrders,
    FactSales,
    FactPayments,
    FactInventory,
    FactFeedback,
}

impl StarTable {
    /// Every target, in load order.
    pub const ALL: [StarTable; 9] = [
        StarTable::DimStore,
        StarTable::DimCustomer,
        StarTable::DimEmployee,
        StarTable::DimProduct,
        StarTable::FactInventory,
        StarTable::FactOrders,
        StarTable::FactSales,
        StarTable::FactPayments,
        StarTable::FactFeedback,
    ];

    /// The warehouse table's name.
    pub fn name(self) -> &'static str {
        match self {
            StarTable::DimStore => "dim_store",
            StarTable::DimCustomer => "dim_customer",
            StarTable::DimEmployee => "dim_employee",
            StarTable::DimProduct => "dim_product",
            StarTable::FactOrders => "fact_orders",
            StarTable::FactSales => "fact_sales",
            StarTable::FactPayments => "fact_payments",
            StarTable::FactInventory => "fact_inventory",
            StarTable::FactFeedback => "fact_feedback",
        }
    }

    /// The target of a warehouse table name.
    pub fn from_name(name: &str) -> Option<Self> {
        StarTable::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl StarTable {
    /// After snapshot job `job` loaded this table, mark what it did not load as gone: rows are
    /// soft-deleted (`fact_inventory` days lose their movement figures, keeping the stock level).
    /// Streaming waits while a job runs, so every row written since the job started is its own.
    ///
    /// These are the only statements that touch every shard of a fact on Citus (once per job).
    /// They call no volatile function (Citus refuses `clock_timestamp()` in an UPDATE of a
    /// distributed table) and read no local table (the job's start is passed in).
    pub(crate) async fn retire_unloaded(self, tx: &impl GenericClient, job: i64) -> Result<u64, tokio_postgres::Error> {
        match self {
            StarTable::FactInventory => {
                let started = "select started_at from cdc_snapshot where job_id = $1";
                let started: Option<DateTime<Utc>> = tx.query_one(started, &[&job]).await?.get(0);
                tx.execute(&self.retire_sql(), &[&started]).await
            }
            _ => tx.execute(&self.retire_sql(), &[&job]).await,
        }
    }

    /// The statement of [`StarTable::retire_unloaded`]: its parameter is the job id, or the
    /// job's start for `fact_inventory`.
    fn retire_sql(self) -> String {
        let not_loaded = "(changed_at, src_id) is distinct from ('-infinity'::timestamptz, -$1::int8)";
        match self {
            StarTable::DimStore | StarTable::DimCustomer | StarTable::DimEmployee => {
                let table = self.name();
                let key = table.replace("dim_", "") + "_key";
                format!("update {table} set is_deleted = true where {key} > 0 and not is_deleted and {not_loaded}")
            }
            StarTable::DimProduct => format!(
                "update dim_product set is_deleted = true
                 where product_key > 0 and is_current and not is_deleted and {not_loaded}"
            ),
            StarTable::FactOrders | StarTable::FactSales | StarTable::FactPayments | StarTable::FactFeedback => {
                format!(
                    "update {} set is_deleted = true, loaded_at = now() where not is_deleted and {not_loaded}",
                    self.name()
                )
            }
            StarTable::FactInventory => "update fact_inventory set units_received = 0, units_sold = 0,
                        units_wasted = 0, units_adjusted = 0, net_units = 0, loaded_at = now()
                 where loaded_at < $1::timestamptz
                   and (units_received, units_sold, units_wasted, units_adjusted, net_units) <> (0, 0, 0, 0, 0)"
                .to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StarTable;

    #[test]
    fn retiring_calls_no_volatile_function_and_reads_no_local_table() {
        for table in StarTable::ALL {
            let sql = table.retire_sql();
            assert!(!sql.contains("clock_timestamp"), "{sql}");
            assert!(!sql.contains("select"), "{}: a subquery: {sql}", table.name());
        }
    }
}
