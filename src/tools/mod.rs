//! Tooling around the product: what develops, demonstrates, loads and measures it. Nothing in
//! the daemon or the API depends on this module.
//!
//! * [`cluster`]: a private PostgreSQL (the tests, `brewlytics up`, the benchmark).
//! * [`seed`]: the chain's reference data (`brewlytics seed`).
//! * [`load`]: an HTTP order driver (`brewlytics load`, the generator of `up`).
//! * [`bench`]: `brewlytics bench`, each figure with a baseline measured in the same run.
//! * [`metabase`]: `brewlytics metabase setup`, the dashboard as code.

pub mod bench;
pub mod cluster;
pub mod load;
pub mod metabase;
pub mod seed;
