//! Secrets out of prompts: tokens, keys and credentials in text sent to a language model are
//! replaced with `[REDACTED]`.

use regex::Regex;
use std::sync::LazyLock;

static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // GitHub tokens: classic, fine-grained, OAuth, app installation, refresh.
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}\b",
        r"\bgithub_pat_[A-Za-z0-9_]{20,}\b",
        // AWS access key ids, Google API keys, Slack tokens, OpenAI-style keys.
        r"\bAKIA[0-9A-Z]{16}\b",
        r"\bAIza[0-9A-Za-z_\-]{35}\b",
        r"\bxox[abprs]-[A-Za-z0-9\-]{10,}\b",
        r"\bsk-[A-Za-z0-9_\-]{16,}\b",
        // Authorization headers and URL credentials.
        r"(?i)\b(?:bearer|token|basic)\s+[A-Za-z0-9._~+/=\-]{12,}",
        r"://[^/\s:@]+:[^/\s@]+@",
        // key=value and key: value assignments of secret-looking names.
        r#"(?i)\b[A-Za-z0-9_]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key)[A-Za-z0-9_]*\s*[=:]\s*"?[^\s"',;]+"#,
        // PEM blocks.
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        // Long hex or base64 blobs (hashes of secrets, JWTs).
        r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\b",
        r"\b[A-Fa-f0-9]{40,}\b",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("redaction patterns compile"))
    .collect()
});

pub const REDACTED: &str = "[REDACTED]";

/// `text` with every secret-looking span replaced.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for re in PATTERNS.iter() {
        if re.is_match(&out) {
            out = re.replace_all(&out, REDACTED).into_owned();
        }
    }
    out
}

/// At most `max` characters of `text`, redacted.
pub fn redact_short(text: &str, max: usize) -> String {
    let r = redact(text);
    if r.chars().count() <= max { r } else { r.chars().take(max).collect::<String>() + "…" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_and_prose_is_kept() {
        let cases = [
            ("push failed with ghp_abcdefghijklmnopqrstuvwxyz0123456789", "push failed with [REDACTED]"),
            ("AWS key AKIAIOSFODNN7EXAMPLE leaked", "AWS key [REDACTED] leaked"),
            ("Authorization: Bearer abc.def.ghijklmnopqrstuvwxyz", "Authorization: [REDACTED]"),
            ("clone https://user:hunter2@github.com/x/y", "clone https[REDACTED]github.com/x/y"),
            ("DB_PASSWORD=s3cr3t npm test", "[REDACTED] npm test"),
            ("error: connection refused on port 5432", "error: connection refused on port 5432"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn a_sha_is_redacted_but_a_short_id_is_not() {
        assert_eq!(redact("commit 0123456789abcdef0123456789abcdef01234567"), "commit [REDACTED]");
        assert_eq!(redact("run 123456 job 789"), "run 123456 job 789");
    }
}
