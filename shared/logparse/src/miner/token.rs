//! Splitting a line into tokens and masking the tokens that are obviously variables.
//!
//! A line is split on ASCII whitespace. Brackets, quotes and trailing punctuation around a token are
//! kept as they are; what they enclose (the *core*) is masked as `<*>` when it is a value:
//!
//! - it contains a digit (numbers, hex, IPs, ports, UUIDs, ids, timestamps);
//! - it is a path (`/a`, `./a`, `~/a`, or two slashes or more);
//! - it is a weekday or month abbreviation (`Mon`, `Jul`: part of a timestamp);
//! - it is a size unit right after a masked value (`17.7 GB`, `812 KB`): formatters pick the unit
//!   from the magnitude, so it belongs to the value;
//! - it is empty between a pair of brackets or quotes (`()`, `""`), an empty value.
//!
//! A core that starts with a word followed by key-value syntax (`uid=0`, `port:443`, `chdir(/tmp/x`,
//! `depth.....4`) keeps the word and the separators and masks the rest when the rest is a value, or a
//! lower-case host or file name (`rhost=ci.example.org`): `uid=<*>`, `rhost=<*>`. Any other token is kept verbatim: words without digits may still
//! be variables, and the miner generalises them when lines that share everything else disagree.

/// The text a variable is rendered as, in masked tokens and in template texts.
pub const VAR: &str = "<*>";

/// Writes the masked tokens of `line` to `out`, separated by one space, and each token's byte range
/// in `out` to `spans`. Both are cleared first.
pub fn mask_line(line: &str, out: &mut String, spans: &mut Vec<(u32, u32)>) {
    out.clear();
    spans.clear();
    let mut prev_var = false;
    let bytes = line.as_bytes();
    let mut i = 0;
    // One pass over the bytes: split on ASCII whitespace, and note on the way what the masking
    // checks need (a table lookup per byte), so that plain words cost nothing more.
    loop {
        while i < bytes.len() && CLASS[usize::from(bytes[i])] & SPACE != 0 {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        let mut seen = 0u8;
        while i < bytes.len() {
            let class = CLASS[usize::from(bytes[i])];
            if class & SPACE != 0 {
                break;
            }
            seen |= class;
            i += 1;
        }
        if !spans.is_empty() {
            out.push(' ');
        }
        let at = out.len();
        let shape = Shape { digit: seen & DIGIT != 0, slash: seen & SLASH != 0, separator: seen & SEPARATOR != 0 };
        // ASCII whitespace bounds the token, so both ends are char boundaries.
        prev_var = mask_token(&line[start..i], shape, prev_var, out);
        spans.push((at as u32, out.len() as u32));
    }
}

const SPACE: u8 = 1;
const DIGIT: u8 = 2;
const SLASH: u8 = 4;
const SEPARATOR: u8 = 8;

/// Byte classes for [`mask_line`]'s scan: ASCII whitespace (as `u8::is_ascii_whitespace`), digits,
/// `/`, and the key-value separators `=`, `:`, `(`, `.`.
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => SPACE,
            b'0'..=b'9' => DIGIT,
            b'/' => SLASH,
            b'=' | b':' | b'(' | b'.' => SEPARATOR,
            _ => 0,
        };
        b += 1;
    }
    table
};

/// What one scan of a token saw: enough to rule out most checks for a plain word.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    digit: bool,
    slash: bool,
    /// `=`, `:`, `(` or `.`: the token may be `key=value` (or end in punctuation).
    separator: bool,
}

/// Whether a byte opens or closes a token without belonging to the value inside.
fn is_wrapper(b: u8) -> bool {
    matches!(b, b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'<' | b'>' | b'"' | b'\'' | b',' | b';')
}

/// Whether a byte may trail a value as punctuation (`port 80.`, `host a:`).
fn is_trailing(b: u8) -> bool {
    is_wrapper(b) || matches!(b, b'.' | b':')
}

/// Whether `open` and `close` enclose an empty value: `()`, `[]`, `{}`, `<>`, `""`, `''`.
fn is_empty_pair(open: u8, close: u8) -> bool {
    matches!((open, close), (b'(', b')') | (b'[', b']') | (b'{', b'}') | (b'<', b'>') | (b'"', b'"') | (b'\'', b'\''))
}

const CALENDAR: [&str; 19] = [
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
    "Oct", "Nov", "Dec",
];

const SIZE_UNITS: [&str; 12] = ["B", "kB", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "PiB"];

/// A path: rooted (`/`, `./`, `../`, `~/`) or with two slashes or more (`a/b/c`, `http://h`).
fn is_path(s: &str) -> bool {
    s.len() > 1
        && (s.starts_with('/')
            || s.starts_with("./")
            || s.starts_with("../")
            || s.starts_with("~/")
            || s.bytes().filter(|&b| b == b'/').count() >= 2)
}

/// A lower-case dotted name ending in a short alphabetic label: a host or file name.
fn is_dotted_name(s: &str) -> bool {
    let mut labels = 0;
    let mut last = "";
    for label in s.split('.') {
        if label.is_empty() || !label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && (2..=6).contains(&last.len()) && last.bytes().all(|b| b.is_ascii_lowercase())
}

/// Whether a core is a value by itself.
fn is_value(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit()) || is_path(s)
}

/// Splits `key<separators>rest` where `key` is a run of letters and the separators are explicit
/// key-value syntax (they contain `=`, `:` or `(`, or are a dot leader `.....`): returns the byte
/// length of the key with its separators. A `/` starts the rest (a rooted path), and a `-` right before the rest's first digit belongs to the
/// rest (`x=-42`).
fn key_prefix(core: &str) -> Option<usize> {
    let b = core.as_bytes();
    let key = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
    if key == 0 {
        return None;
    }
    let mut end = key + b[key..].iter().take_while(|c| !c.is_ascii_alphanumeric() && !matches!(c, b'_' | b'/')).count();
    if end == key || end == b.len() {
        return None;
    }
    let sep = &b[key..end];
    if !(sep.iter().any(|c| matches!(c, b'=' | b':' | b'(')) || sep.starts_with(b"...")) {
        return None;
    }
    if end - key >= 2 && b[end - 1] == b'-' && b[end].is_ascii_digit() {
        end -= 1;
    }
    Some(end)
}

/// Whether the rest after a key is a value: a digit, a path, or a host or file name.
fn is_key_value(s: &str) -> bool {
    is_value(s) || is_dotted_name(s)
}

/// Appends the masked form of one whitespace-free token to `out`, and says whether its core was
/// masked as a whole. `shape` is what a scan of the whole token saw; `after_value` says whether the
/// previous token's core was masked.
fn mask_token(token: &str, shape: Shape, after_value: bool, out: &mut String) -> bool {
    let bytes = token.as_bytes();
    let mut lo = 0;
    while lo < bytes.len() && is_wrapper(bytes[lo]) {
        lo += 1;
    }
    let mut hi = bytes.len();
    while hi > lo && is_trailing(bytes[hi - 1]) {
        hi -= 1;
    }
    // Only ASCII bytes were skipped, so `lo` and `hi` are char boundaries.
    let core = &token[lo..hi];
    if core.is_empty() {
        // `()`, `""`, `[],`: an empty value between a pair.
        let pair = token.trim_end_matches([',', ';', '.', ':']).as_bytes();
        if pair.len() == 2 && is_empty_pair(pair[0], pair[1]) {
            out.push(char::from(pair[0]));
            out.push_str(VAR);
            out.push_str(&token[1..]);
            return true;
        }
        out.push_str(token);
        return false;
    }
    // The wrappers around the core are neither digits nor slashes, so the token's shape is the
    // core's for those; a separator may be a wrapper, which only costs the exact check below.
    if shape.separator {
        if let Some(k) = key_prefix(core).filter(|&k| is_key_value(&core[k..])) {
            out.push_str(&token[..lo + k]);
            out.push_str(VAR);
            out.push_str(&token[hi..]);
            return false;
        }
    }
    let value = shape.digit || (shape.slash && is_path(core));
    if !(value || (core.len() == 3 && CALENDAR.contains(&core)) || (after_value && SIZE_UNITS.contains(&core))) {
        out.push_str(token);
        return false;
    }
    out.push_str(&token[..lo]);
    out.push_str(VAR);
    out.push_str(&token[hi..]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(line: &str) -> Vec<String> {
        let (mut out, mut spans) = (String::new(), Vec::new());
        mask_line(line, &mut out, &mut spans);
        spans.iter().map(|&(a, b)| out[a as usize..b as usize].to_owned()).collect()
    }

    #[test]
    fn masks_values_and_keeps_their_punctuation() {
        assert_eq!(
            masked("job 42 (uid=0), took 1.5s at 10.0.0.1:8080 port:443 [x7] done. blk_-7 node-3 size 9 KB, ()"),
            [
                "job",
                "<*>",
                "(uid=<*>),",
                "took",
                "<*>",
                "at",
                "<*>",
                "port:<*>",
                "[<*>]",
                "done.",
                "<*>",
                "<*>",
                "size",
                "<*>",
                "<*>,",
                "(<*>)"
            ]
        );
    }

    #[test]
    fn paths_hosts_and_dates_are_values() {
        assert_eq!(
            masked("open /etc/hosts from a/b/c on Fri Jul load/store setup.py rhost=ci.example.com chdir(/tmp) d...4"),
            [
                "open",
                "<*>",
                "from",
                "<*>",
                "on",
                "<*>",
                "<*>",
                "load/store",
                "setup.py",
                "rhost=<*>",
                "chdir(<*>)",
                "d...<*>"
            ]
        );
        assert_eq!(masked("org.Example.Main B"), ["org.Example.Main", "B"]);
    }

    #[test]
    fn words_without_digits_are_kept() {
        assert_eq!(masked("  cache   restored\tfrom key: "), ["cache", "restored", "from", "key:"]);
    }
}
