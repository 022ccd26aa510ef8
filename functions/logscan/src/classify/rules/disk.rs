//! The runner's disk is full.

use super::Rule;
use crate::cause::Cause::Disk as D;
use crate::classify::Severity::High;

pub const RULES: &[Rule] = &[
    // No space left on device / ENOSPC / [Errno 28] / There is not enough space on the disk.
    // You are running out of disk space. The runner will stop working when the machine runs out of disk space.
    Rule::new(
        "disk.full",
        D,
        High,
        0.97,
        &[
            "no space left on device",
            "enospc",
            "errno 28",
            "not enough space on the disk",
            "running out of disk space",
            "disk quota exceeded",
            "insufficient disk space",
        ],
        &[],
    ),
];
