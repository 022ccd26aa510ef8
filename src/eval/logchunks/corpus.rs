//! The LogChunks layout: `labels/<Language>/<owner@repo>.xml` (one `<ExampleDataOfString>` per
//! labelled log, in chronological order) and `samples/<InputPath>` (the logs). The XML holds raw
//! escape bytes that an XML 1.0 parser rejects, so it is read by a small tolerant scanner.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// One labelled log.
#[derive(Debug, Clone)]
pub struct Example {
    /// `InputPath`, relative to `samples/`.
    pub input: String,
    /// The labelled chunk, entities decoded.
    pub output: String,
}

/// One repository's labelled logs whose log file is present, in the XML's (chronological) order.
#[derive(Debug, Clone)]
pub struct Repo {
    /// `<Language>/<owner@repo>`.
    pub name: String,
    pub examples: Vec<Example>,
    /// Examples listed in the XML whose log is missing from `samples/`.
    pub missing: usize,
}

/// Every repository with at least one log present.
pub fn load(root: &Path) -> anyhow::Result<Vec<Repo>> {
    let labels = root.join("labels");
    let mut files: Vec<PathBuf> = Vec::new();
    for language in std::fs::read_dir(&labels).with_context(|| format!("reading {}", labels.display()))? {
        let language = language?.path();
        if !language.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&language)? {
            let file = file?.path();
            if file.extension().is_some_and(|e| e == "xml") {
                files.push(file);
            }
        }
    }
    files.sort();
    let mut repos = Vec::new();
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file)?).into_owned();
        let language = file.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
        let stem = file.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut repo =
            Repo { name: format!("{}/{stem}", language.unwrap_or_default()), examples: Vec::new(), missing: 0 };
        for item in elements(&text, "ExampleDataOfString") {
            let Some(input) = elements(item, "InputPath").next().map(unescape) else { continue };
            let output = elements(item, "Output").next().map(unescape).unwrap_or_default();
            if root.join("samples").join(&input).is_file() {
                repo.examples.push(Example { input, output });
            } else {
                repo.missing += 1;
            }
        }
        if !repo.examples.is_empty() {
            repos.push(repo);
        }
    }
    Ok(repos)
}

/// The contents of every `<tag>...</tag>` in `text`, in order (no nesting of the same tag).
fn elements<'a>(text: &'a str, tag: &str) -> impl Iterator<Item = &'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let inner = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(inner)
    })
}

/// Decodes the five XML entities and numeric character references.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_reads_items_with_raw_escape_bytes_and_entities() {
        let xml = "<Examples><ExampleDataOfString><InputPath>Go/a@b/failed/1.log</InputPath>\
                   <Output>x &lt;&lt;&lt; FAILURE!\n\u{1b}[31mboom&#33; &amp; more</Output></ExampleDataOfString>\
                   <ExampleDataOfString><InputPath>Go/a@b/failed/2.log</InputPath></ExampleDataOfString></Examples>";
        let items: Vec<&str> = elements(xml, "ExampleDataOfString").collect();
        assert_eq!(items.len(), 2);
        let output = elements(items[0], "Output").next().map(unescape);
        assert_eq!(output.as_deref(), Some("x <<< FAILURE!\n\u{1b}[31mboom! & more"));
        assert_eq!(elements(items[1], "Output").next(), None);
        assert_eq!(unescape("a & b &bogus; c"), "a & b &bogus; c");
    }
}
