//! Integration tests of the healer.
mod decide;
