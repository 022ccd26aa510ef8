//! Integration tests of the monitor, through its public API: the detectors' targets on
//! synthetic workloads, the bus handler over a real SQLite store, and the read API.

mod api;
mod detection;
mod handler;
mod support;
