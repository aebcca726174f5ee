//! The CDC daemon (`brewlytics cdc`): reads committed changes from `cdc_orders` in snapshot
//! windows, has the warehouse map them onto the star schema, and applies each batch with its
//! checkpoint in one warehouse transaction.
//!
//! ```text
//! pipeline (loop, lock, wake-ups) ─▶ source (pages of a window) ─▶ apply ─▶ warehouse transform + sink
//!                                                                    └──▶ checkpoint, dead letters
//! ```
//!
//! * `snapshot` defines windows between two transaction snapshots; `source` reads their pages.
//! * `apply` wraps a batch in one warehouse transaction with the [`checkpoint`]; a batch the
//!   warehouse rejects as data goes through dead-letter isolation.
//! * `pipeline` is the loop; `lock` keeps one daemon active; `listen` wakes it up; `monitor`
//!   exports gauges; [`retention`] prunes applied changes; [`status`] reports from the databases.
//! * [`reconcile`] compares OLTP and the warehouse at one moment (`brewlytics verify`);
//!   `reconciler` runs it on a schedule (`CDC_RECONCILE_EVERY`) and exports the result.

mod apply;
mod backfill;
pub mod checkpoint;
mod daemon;
mod error;
mod listen;
mod lock;
mod monitor;
mod pipeline;
pub mod reconcile;
mod reconciler;
pub mod retention;
mod session;
mod source;
pub mod status;
mod window;

pub use backfill::{
    progress as snapshot_progress, request_resync, JobProgress, ResyncRequest, StarTable, TableProgress,
};
pub use checkpoint::Checkpoint;
pub use error::CdcError;
pub use pipeline::run;
