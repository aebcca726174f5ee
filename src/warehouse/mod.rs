//! The warehouse engine: the pure [`transform`] from change rows to each table's rows, and the
//! sink that writes them inside the caller's transaction. What each table's rows are and how they
//! are written is the table's own ([`crate::tables`]); this module walks the registry.

mod sink;
mod transform;

pub(crate) use sink::{Sink, WriteStats};
pub(crate) use transform::{transform, transform_snapshot, WarehouseBatch};
