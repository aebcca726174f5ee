//! The CDC daemon (`brewlytics cdc`): reads committed changes from `cdc_orders` in snapshot
//! windows, maps them onto the star schema, and applies each batch with its checkpoint in one
//! warehouse transaction.
//!
//! * [`source`] reads pages of a window; [`snapshot`] defines windows.
//! * [`crate::warehouse::transform`] is the pure mapping; [`crate::warehouse::sink`] writes.
//! * [`apply`] wraps a batch in a transaction with the [`checkpoint`] and isolates poison changes.
//! * [`pipeline`] is the loop; [`lock`] keeps one daemon active; [`listen`] wakes it up.

pub mod apply;
pub mod change;
pub mod checkpoint;
pub mod dlq;
pub mod error;
pub mod listen;
pub mod lock;
pub mod monitor;
pub mod pipeline;
pub mod retention;
pub mod snapshot;
pub mod source;
pub mod status;

pub use pipeline::run;
