//! Integration tests of the logscan function.
