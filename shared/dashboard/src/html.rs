//! HTML building blocks: escaping, the page layout, tables.

use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub const PAGES: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/analytics", "Pipeline analytics"),
    ("/anomalies", "Anomalies"),
    ("/failures", "Failures"),
    ("/healing", "Self-healing"),
    ("/security", "Security"),
    ("/alerts", "Alerts"),
];

/// A whole page: navigation, title, body. No script, every resource served by the binary.
pub fn page(current: &str, title: &str, body: &str) -> String {
    let mut nav = String::new();
    for (href, name) in PAGES {
        let class = if *href == current { r#" class="current""# } else { "" };
        let _ = write!(nav, r#"<a href="{href}"{class}>{}</a>"#, esc(name));
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{} · Aetherveil</title><link rel="icon" href="/ui/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/ui/style.css"></head>
<body><header><span class="brand">Aetherveil</span><nav>{nav}</nav></header>
<main><h1>{}</h1>
{body}
</main><footer>JSON behind every page: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> · <a href="/metrics">/metrics</a></footer></body></html>"#,
        esc(title),
        esc(title)
    )
}

/// A table: headers, then rows of already-rendered cells.
pub fn table(class: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(r#"<table class="{class}"><thead><tr>"#);
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(out, r#"<tr><td colspan="{}" class="empty">nothing yet</td></tr>"#, headers.len());
    }
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A figure: a big number and its label.
pub fn stat(label: &str, value: &str, class: &str) -> String {
    format!(
        r#"<div class="stat {class}"><div class="value">{}</div><div class="label">{}</div></div>"#,
        esc(value),
        esc(label)
    )
}

pub fn pct(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{:.1}%", v * 100.0))
}

pub fn duration(secs: Option<f64>) -> String {
    match secs {
        None => "–".into(),
        Some(s) if s >= 3600.0 => format!("{:.1} h", s / 3600.0),
        Some(s) if s >= 60.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{s:.0} s"),
    }
}

/// A GET form of filters: (name, label, current value, options; empty options: a text field).
pub fn filters(action: &str, fields: &[(&str, &str, String, Vec<String>)]) -> String {
    let mut out = format!(r#"<form class="filters" method="get" action="{action}">"#);
    for (name, label, current, options) in fields {
        let _ = write!(out, r#"<label>{} "#, esc(label));
        if options.is_empty() {
            let _ = write!(out, r#"<input name="{name}" value="{}">"#, esc(current));
        } else {
            let _ = write!(out, r#"<select name="{name}"><option value="">all</option>"#);
            for o in options {
                let sel = if o == current { " selected" } else { "" };
                let _ = write!(out, r#"<option value="{}"{sel}>{}</option>"#, esc(o), esc(o));
            }
            out.push_str("</select>");
        }
        out.push_str("</label>");
    }
    out.push_str(r#"<button type="submit">Show</button></form>"#);
    out
}
