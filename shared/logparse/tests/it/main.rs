//! Integration tests of aetherveil-logparse.
mod diff;
mod explain;
mod miner;
mod reader;
