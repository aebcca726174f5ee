//! One integration-test binary: every test talks to a real PostgreSQL.
mod support;

mod analytics;
mod api;
mod bench;
mod cdc;
mod cdc_faults;
mod cdc_semantics;
mod cdc_verify;
mod cli;
mod failover;
mod funnel;
mod newcomer;
mod original;
mod partitions;
mod readers;
mod roles;
mod rollups;
mod schema;
mod snapshot;
mod snapshot_faults;
mod tls;
mod up;
mod writers;
