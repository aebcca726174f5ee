//! One integration-test binary: every test talks to a real PostgreSQL.
mod support;

mod api;
mod cdc;
mod schema;

mod readers;
