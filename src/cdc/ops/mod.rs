//! Operations around the stream: [`status`] (where the daemon is, from the databases alone),
//! [`monitor`] (the gauges it exports every second) and [`retention`] (pruning applied changes).

pub(crate) mod monitor;
pub mod retention;
pub mod status;
