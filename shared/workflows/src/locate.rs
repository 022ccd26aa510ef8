//! Line numbers for errors: serde_norway gives a `Value` without positions, so a path of keys and
//! list indexes (`main` → `steps` → 2 → `fetch` → `parallel`) is found again in the text by its
//! indentation. Block style only; where the path goes into a flow collection (`{...}`, `[...]`)
//! the line of the deepest key found is given.

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl std::fmt::Display for Seg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seg::Key(k) => write!(f, ".{k}"),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// `main.steps[2].fetch`
pub fn display(path: &[Seg]) -> String {
    let s: String = path.iter().map(ToString::to_string).collect();
    s.strip_prefix('.').map(str::to_owned).unwrap_or(s)
}

struct Line<'a> {
    /// Column of the `- ` that opens a list item on this line, if any.
    dash: Option<usize>,
    /// Column where the content after any dashes starts.
    col: usize,
    text: &'a str,
}

impl Line<'_> {
    /// The column that decides where this line belongs.
    fn start(&self) -> usize {
        self.dash.unwrap_or(self.col)
    }
    fn has_key(&self, key: &str) -> bool {
        let t = self.text;
        [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")]
            .iter()
            .any(|k| t.strip_prefix(k.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t'])))
    }
}

fn scan(src: &str) -> Vec<(usize, Line<'_>)> {
    let mut out = Vec::new();
    for (n, raw) in src.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
            continue;
        }
        let indent = raw.len() - trimmed.len();
        let mut text = trimmed;
        let mut col = indent;
        let mut dash = None;
        while let Some(rest) = text.strip_prefix("- ").or_else(|| (text == "-").then_some("")) {
            dash.get_or_insert(col);
            let rest_trimmed = rest.trim_start();
            col += text.len() - rest_trimmed.len();
            text = rest_trimmed;
        }
        out.push((n + 1, Line { dash, col, text }));
    }
    out
}

/// The 1-based line of `path` in `src`, or of its deepest prefix found.
pub fn line_of(src: &str, path: &[Seg]) -> Option<usize> {
    let lines = scan(src);
    let mut range = 0..lines.len();
    let mut found = None;
    for seg in path {
        let Some(first) = lines.get(range.start).filter(|_| range.start < range.end) else {
            break;
        };
        match seg {
            Seg::Key(key) => {
                let col = first.1.col;
                let Some(at) = (range.start..range.end).find(|&i| {
                    let l = &lines[i].1;
                    l.col == col && l.has_key(key) && (i == range.start || l.dash.is_none_or(|d| d >= col))
                }) else {
                    break;
                };
                found = Some(lines[at].0);
                let end = (at + 1..range.end)
                    .find(|&i| {
                        let l = &lines[i].1;
                        l.start() < col || (l.start() == col && l.dash.is_none())
                    })
                    .unwrap_or(range.end);
                range = at + 1..end;
            }
            Seg::Index(index) => {
                let Some(dash) = first.1.dash else {
                    break;
                };
                let items: Vec<usize> = (range.start..range.end).filter(|&i| lines[i].1.dash == Some(dash)).collect();
                let Some(&at) = items.get(*index) else {
                    break;
                };
                found = Some(lines[at].0);
                let end = items.iter().copied().find(|&i| i > at).unwrap_or(range.end);
                // The item's own line holds its first key: re-scan it as a mapping line.
                range = at..end;
                if lines[at].1.text.is_empty() {
                    range = at + 1..end;
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
main:
  params: [args]
  steps:
    - first:
        assign:
          - x: 1
    # a comment
    - second:
        call: http.get
        args:
          url: http://example
        parallel: true
    - third:
        return: ${x}
sub:
  steps:
  - only:
      return: 1
";

    fn key(k: &str) -> Seg {
        Seg::Key(k.into())
    }

    #[test]
    fn finds_keys_and_items_by_indentation() {
        assert_eq!(line_of(DOC, &[key("main")]), Some(1));
        assert_eq!(line_of(DOC, &[key("main"), key("steps"), Seg::Index(0), key("first")]), Some(4));
        assert_eq!(line_of(DOC, &[key("main"), key("steps"), Seg::Index(1), key("second"), key("parallel")]), Some(12));
        assert_eq!(
            line_of(DOC, &[key("main"), key("steps"), Seg::Index(1), key("second"), key("args"), key("url")]),
            Some(11)
        );
        assert_eq!(line_of(DOC, &[key("main"), key("steps"), Seg::Index(2), key("third"), key("return")]), Some(14));
        assert_eq!(line_of(DOC, &[key("sub"), key("steps"), Seg::Index(0), key("only"), key("return")]), Some(18));
        assert_eq!(
            line_of(
                DOC,
                &[key("main"), key("steps"), Seg::Index(0), key("first"), key("assign"), Seg::Index(0), key("x")]
            ),
            Some(6)
        );
    }

    #[test]
    fn stops_at_the_deepest_prefix_found() {
        assert_eq!(line_of(DOC, &[key("main"), key("params"), Seg::Index(0)]), Some(2));
        assert_eq!(line_of(DOC, &[key("main"), key("steps"), Seg::Index(7)]), Some(3));
        assert_eq!(line_of(DOC, &[key("nowhere")]), None);
        assert_eq!(display(&[key("main"), key("steps"), Seg::Index(1), key("second")]), "main.steps[1].second");
    }
}
