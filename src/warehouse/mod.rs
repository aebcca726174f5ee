//! The star-schema side: the pure [`transform`] from change rows to warehouse rows, the sink
//! that writes them inside the caller's transaction, type 2 product history, and the
//! reconciliation of the warehouse with OLTP ([`verify`]).
//!
//! It depends on the change model only; the daemon (`crate::cdc`) drives it.

mod product;
mod rows;
mod sink;
mod star;
mod transform;
pub mod verify;

pub(crate) use rows::{date_key, InventoryDelta};
pub(crate) use sink::{Sink, WriteStats};
pub use star::StarTable;
pub(crate) use transform::{transform, transform_snapshot, Rejected, TransformError, WarehouseBatch};
