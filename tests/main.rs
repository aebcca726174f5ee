//! One integration-test binary: every test talks to a real PostgreSQL.
mod support;

mod api;
mod bench;
mod cdc;
mod schema;
