//! Brewlytics: change-data-capture from a coffee chain's order database into a star schema.
//!
//! Data flow:
//!
//! ```text
//! order API ──▶ coffee_oltp ──(statement triggers)──▶ cdc_orders ──▶ brewlytics cdc
//!                                                                     │ source: snapshot windows
//!                                                                     │ transform: pure
//!                                                                     ▼ sink: one transaction
//!                                          coffee_olap: dim_*, fact_*, cdc_offset, cdc_dead_letter
//! ```
//!
//! Guarantees: every committed change is applied exactly once. Batches are built from
//! transaction snapshots (PgQ style) so commits out of id order are never skipped, and the
//! checkpoint (`cdc_offset`) commits in the same warehouse transaction as the rows it covers.

pub mod api;
pub mod bench;
pub mod cdc;
pub mod commands;
pub mod config;
pub mod db;
pub mod loadgen;
pub mod metabase;
pub mod pgtemp;
pub mod seed;
pub mod telemetry;
pub mod up;
pub mod warehouse;
