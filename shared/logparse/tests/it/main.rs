//! Integration tests of aetherveil-logparse.
