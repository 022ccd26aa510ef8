//! Out of memory: the kernel's OOM killer (exit 137, SIGKILL), a JVM or Node heap limit, Go's runtime.

use super::Rule;
use crate::cause::Cause::Resources as R;
use crate::classify::Severity::High;

pub const RULES: &[Rule] = &[
    Rule::new(
        "oom.heap",
        R,
        High,
        0.94,
        &[
            "heap out of memory",
            "outofmemoryerror",
            "gc overhead limit",
            "out of memory",
            "cannot allocate memory",
            "memoryerror",
            "oomkilled",
            "allocation failed",
        ],
        &[
            r"JavaScript heap out of memory",
            r"java\.lang\.OutOfMemoryError",
            r"GC overhead limit exceeded",
            r"fatal error: (runtime: )?out of memory",
            r"(?i)cannot allocate memory",
            r"^MemoryError\b",
            r"\bOOMKilled\b",
            r"(?i)\bout of memory\b",
        ],
    ),
    // /home/runner/work/_temp/x.sh: line 1:  4318 Killed   mvn -B verify / signal: killed / (signal: 9, SIGKILL: kill)
    Rule::new(
        "oom.killed",
        R,
        High,
        0.9,
        &["killed", "sigkill", "exit code 137", "exit code: 137", "exit status 137"],
        &[
            r"line \d+:\s+\d+ Killed\s",
            r"^signal: killed$",
            r": signal: killed$",
            r"signal=SIGKILL",
            r"\(signal: 9, SIGKILL: kill\)",
            r"(?i)exit code:? 137\b",
            r"exit status 137\b",
            r"Killed signal terminated program",
        ],
    ),
];
