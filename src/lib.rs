//! Brewlytics: change-data-capture from a coffee chain's order database into a star schema.
//!
//! # The product, in the order data flows
//!
//! ```text
//!  order API ──▶ coffee_oltp ──(row triggers)──▶ cdc_orders
//!  [api] uses [shop]     │                           │
//!                        ▼                           ▼
//!  [cdc] snapshot_job (initial           stream (snapshot windows,
//!        snapshot, resync)                        the checkpoint)
//!                        └───────────┬───────────────┘
//!                                    ▼
//!   [apply] one unit: [warehouse] transform (pure) ─▶ sink, in one transaction with its mark;
//!           rows the warehouse rejects isolated ─▶ [dead_letter]               │
//!                                    each table's part: [tables]               ▼
//!                          coffee_olap: dim_*, fact_*, cdc_offset, cdc_dead_letter
//!        [cdc] reconcile (exact verify at the checkpoint), ops (status,        │
//!              monitor, retention)                                             │
//!  [analytics] read API, docs, live page (analytics_reader, read-only) ◀──────┘
//! ```
//!
//! Every arrow points one way: [`cdc`] drives [`apply`], the only way into the warehouse, which
//! runs the [`warehouse`] engine and stores [`dead_letter`]s; the engine walks `tables`, where
//! each captured table is one module (its images, star rows, SQL, snapshot read, checks and
//! Citus placement); all of them read the change model (`change`); nothing points back. [`api`]
//! and the load tools share `shop`, the chain's vocabulary. [`analytics`] only reads the
//! warehouse: it uses neither [`api`] nor [`cdc`]. [`config`], [`db`] and [`telemetry`] are the
//! plumbing under all of them.
//!
//! Guarantees: every committed change is applied exactly once. Batches are built from
//! transaction snapshots (PgQ style), so commits out of id order are never skipped, and the
//! checkpoint (`cdc_offset`) commits in the same warehouse transaction as the rows it covers.
//!
//! # Tooling around it
//!
//! [`tools`] holds what develops, demonstrates and measures the product (a private PostgreSQL,
//! the seed, the HTTP load driver, the benchmark, the Metabase setup); the product never
//! depends on it. The `brewlytics` binary (`src/cli/`) is the thin layer over both.

pub mod analytics;
pub mod api;
pub mod apply;
pub mod cdc;
mod change;
pub mod config;
pub mod db;
pub mod dead_letter;
mod rollups;
mod shop;
mod tables;
pub mod telemetry;
pub mod tools;
pub mod warehouse;
