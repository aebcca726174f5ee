//! Operations around the stream: [`status`] (where the daemon is, from the databases alone),
//! [`monitor`] (the gauges it exports every second), [`retention`] (pruning applied changes) and
//! [`partitions`] (the fact tables' partitions, created ahead).

pub(crate) mod monitor;
pub mod partitions;
pub mod retention;
pub mod status;
