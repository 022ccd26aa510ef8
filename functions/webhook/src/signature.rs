//! `X-Hub-Signature-256`: `sha256=` followed by the hex HMAC-SHA256 of the raw body, keyed by
//! the webhook secret. Verified with `ring`, whose `hmac::verify` compares in constant time.

use ring::hmac;

pub struct Secret(hmac::Key);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// True when `header` is `sha256=<hex>` and the hex is the HMAC of `body`.
    pub fn verify(&self, body: &[u8], header: &str) -> bool {
        let Some(hex) = header.trim().strip_prefix("sha256=") else {
            return false;
        };
        let Some(tag) = decode_hex(hex) else {
            return false;
        };
        hmac::verify(&self.0, body, &tag).is_ok()
    }

    /// The header value for `body` (for senders: replay, the simulator, tests).
    pub fn sign(&self, body: &[u8]) -> String {
        let tag = hmac::sign(&self.0, body);
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256=");
        for b in tag.as_ref() {
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        out
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    hex.as_bytes().chunks(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB_VECTOR: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_documented_test_vector_verifies() {
        let secret = Secret::new(b"It's a Secret to Everybody");
        assert!(secret.verify(b"Hello, World!", GITHUB_VECTOR));
        assert_eq!(secret.sign(b"Hello, World!"), GITHUB_VECTOR);
        assert!(secret.verify(b"Hello, World!", &GITHUB_VECTOR.to_uppercase().replace("SHA256=", "sha256=")));
    }

    #[test]
    fn anything_else_fails() {
        let secret = Secret::new(b"It's a Secret to Everybody");
        assert!(!secret.verify(b"Hello, World?", GITHUB_VECTOR), "tampered body");
        assert!(!Secret::new(b"another secret").verify(b"Hello, World!", GITHUB_VECTOR), "wrong secret");
        assert!(!secret.verify(b"Hello, World!", &GITHUB_VECTOR.replace("sha256=", "sha1=")), "wrong scheme");
        assert!(!secret.verify(b"Hello, World!", &GITHUB_VECTOR[..70]), "truncated");
        assert!(!secret.verify(b"Hello, World!", &GITHUB_VECTOR.replace('7', "z")), "not hex");
        assert!(!secret.verify(b"Hello, World!", ""), "empty");
    }
}
