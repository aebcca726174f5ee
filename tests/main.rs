//! One integration-test binary: every test talks to a real PostgreSQL.
mod support;

mod analytics;
mod api;
mod bench;
mod cdc;
mod cdc_faults;
mod cdc_semantics;
mod cli;
mod original;
mod readers;
mod roles;
mod schema;
mod snapshot;
mod tls;
mod up;
