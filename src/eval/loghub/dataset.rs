//! Reading a Loghub-2k folder: `<variant>/<System>/<System>_2k.log_structured[_corrected].csv`.
//!
//! Variants are the folders `loghub_original`, `loghub_2k_corrected` and `loghub2_corrected`
//! present under the root. In each system folder the corrected ground truth
//! (`*_structured_corrected.csv`) is used when it exists, the original one otherwise.

use std::path::Path;

use anyhow::{Context, bail};

/// The ground-truth variants, in report order.
pub const VARIANTS: [&str; 3] = ["loghub_original", "loghub_2k_corrected", "loghub2_corrected"];

/// One structured log: the `Content` of every line with its ground truth.
#[derive(Debug, Clone)]
pub struct StructuredLog {
    pub system: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub content: String,
    pub event_id: String,
    pub event_template: String,
}

/// The variants present under `root`, each with its systems sorted by name.
pub fn load(root: &Path) -> anyhow::Result<Vec<(String, Vec<StructuredLog>)>> {
    let mut variants = Vec::new();
    for variant in VARIANTS {
        let dir = root.join(variant);
        if !dir.is_dir() {
            continue;
        }
        let mut systems: Vec<String> = std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        systems.sort();
        let mut logs = Vec::new();
        for system in systems {
            let folder = dir.join(&system);
            let corrected = folder.join(format!("{system}_2k.log_structured_corrected.csv"));
            let original = folder.join(format!("{system}_2k.log_structured.csv"));
            let path = if corrected.is_file() { corrected } else { original };
            if !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let rows = parse_structured(&text).with_context(|| format!("parsing {}", path.display()))?;
            logs.push(StructuredLog { system, rows });
        }
        if !logs.is_empty() {
            variants.push((variant.to_owned(), logs));
        }
    }
    if variants.is_empty() {
        bail!("no Loghub variant folder ({}) with structured CSVs under {}", VARIANTS.join(", "), root.display());
    }
    Ok(variants)
}

/// The `Content`, `EventId` and `EventTemplate` columns of a structured CSV.
pub fn parse_structured(text: &str) -> anyhow::Result<Vec<Row>> {
    let mut records = parse_csv(text.strip_prefix('\u{feff}').unwrap_or(text)).into_iter();
    let header = records.next().context("empty file")?;
    let column = |name: &str| header.iter().position(|h| h == name).with_context(|| format!("no {name} column"));
    let (content, id, template) = (column("Content")?, column("EventId")?, column("EventTemplate")?);
    let mut rows = Vec::new();
    for (n, record) in records.enumerate() {
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        let field =
            |i: usize| record.get(i).cloned().with_context(|| format!("record {} has {} fields", n + 2, record.len()));
        rows.push(Row { content: field(content)?, event_id: field(id)?, event_template: field(template)? });
    }
    Ok(rows)
}

/// RFC 4180 records: fields separated by commas, optionally double-quoted, `""` inside quotes for a
/// quote, line breaks (LF or CRLF) inside quotes kept.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_commas_and_line_breaks() {
        let text = "a,b,c\r\n1,\"x, \"\"y\"\"\",\"two\nlines\"\n2,,\n";
        assert_eq!(
            parse_csv(text),
            vec![
                vec!["a".to_owned(), "b".into(), "c".into()],
                vec!["1".into(), "x, \"y\"".into(), "two\nlines".into()],
                vec!["2".into(), "".into(), "".into()],
            ]
        );
    }

    #[test]
    fn structured_rows_pick_the_three_columns_by_name() {
        let text = "LineId,Level,Content,EventId,EventTemplate\n1,INFO,\"job 7, done\",E1,\"job <*>, done\"\n";
        let rows = parse_structured(text).expect("parses");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].content.as_str(), rows[0].event_id.as_str()), ("job 7, done", "E1"));
        assert_eq!(rows[0].event_template, "job <*>, done");
    }
}
