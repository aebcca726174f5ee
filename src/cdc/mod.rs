//! The CDC daemon (`brewlytics cdc`) and the commands that look at it, by concept:
//!
//! * [`stream`]: committed changes of `cdc_orders` read in snapshot windows, each page applied
//!   once with the checkpoint (`crate::apply`) — the daemon's main job;
//! * [`snapshot_job`]: the initial snapshot of an empty warehouse and resyncs (`brewlytics
//!   resync`), loaded from one OLTP snapshot before streaming goes on;
//! * [`reconcile`]: the warehouse against OLTP at the checkpoint, exactly (`brewlytics verify`),
//!   and the daemon's scheduled reconciliation;
//! * [`ops`]: status, the monitor's gauges, retention of applied changes.
//! * `rebase`: what happens when the OLTP source was replaced (a promoted standby, a restore).
//!
//! `daemon` is the loop that ties them together: one active daemon (an advisory lock), a session
//! per connection with capped backoff, the open snapshot job before streaming, retention now and
//! then, the monitor and the reconciliation beside it, one shutdown token passed down.

mod daemon;
mod error;
pub mod ops;
mod rebase;
pub mod reconcile;
mod session;
pub mod snapshot_job;
pub mod stream;

pub use daemon::run;
pub use error::CdcError;
