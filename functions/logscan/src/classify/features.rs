//! Token features of log lines for the learned model: lowercased, digits masked to `0`, long hex
//! strings to `h`, paths cut to their last component, so that two runs of the same failure give the
//! same features.

/// Tokens kept per line.
const MAX_TOKENS_PER_LINE: usize = 32;
/// Longest token kept (longer ones are cut).
const MAX_TOKEN_LEN: usize = 32;

/// The masked tokens of one line, in order (unigrams, prefixed `t:`), then adjacent pairs (`b:`).
pub fn line_features(text: &str) -> Vec<String> {
    let tokens = tokens(text);
    let mut out: Vec<String> = tokens.iter().map(|t| format!("t:{t}")).collect();
    out.extend(tokens.windows(2).map(|w| format!("b:{}_{}", w[0], w[1])));
    out
}

/// The masked tokens of one line.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        // A path keeps its last component: `/home/runner/work/a/a/src/lib.rs:12:5` -> `lib.rs:12:5`.
        let word = if word.contains('/') { word.rsplit('/').find(|s| !s.is_empty()).unwrap_or(word) } else { word };
        for raw in word.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if raw.len() < 2 && !raw.bytes().all(|b| b.is_ascii_digit()) || raw.is_empty() {
                continue;
            }
            out.push(mask(raw));
            if out.len() >= MAX_TOKENS_PER_LINE {
                return out;
            }
        }
    }
    out
}

/// Lowercase; a hex string of 7+ characters with a digit becomes `h`; each run of digits becomes `0`.
fn mask(raw: &str) -> String {
    let is_hex =
        raw.len() >= 7 && raw.bytes().all(|b| b.is_ascii_hexdigit()) && raw.bytes().any(|b| b.is_ascii_digit());
    if is_hex {
        return "h".to_owned();
    }
    let mut s = String::with_capacity(raw.len().min(MAX_TOKEN_LEN));
    let mut prev_digit = false;
    for c in raw.chars() {
        if c.is_ascii_digit() {
            if !prev_digit {
                s.push('0');
            }
            prev_digit = true;
        } else {
            s.push(c.to_ascii_lowercase());
            prev_digit = false;
        }
        if s.len() >= MAX_TOKEN_LEN {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_digits_hex_and_paths() {
        assert_eq!(
            tokens("error[E0599]: at /home/runner/work/a/a/src/lib.rs:12:5 sha 0123abcd9f"),
            ["error", "e0", "at", "lib", "rs", "0", "0", "sha", "h"]
        );
        assert_eq!(line_features("No space"), ["t:no", "t:space", "b:no_space"]);
    }
}
