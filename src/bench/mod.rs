//! Benchmarks (functions, not tests): each measures one figure and the baseline it is judged by.

pub mod api;
