//! Charts as inline SVG, rendered on the server: no script, no external resource. Every data
//! point is an element with class `pt` (the browser test counts them), anomalies are `anomaly`
//! markers carrying `data-anomaly-id`.

use crate::html::esc;
use std::fmt::Write;

const W: f64 = 640.0;
const H: f64 = 200.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// One point of a series: x (any unit, e.g. seconds since the epoch), y, a label for its tooltip,
/// and whether it is drawn as a failure.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub label: String,
    pub failed: bool,
}

/// A vertical marker (an anomaly) at x, or on a point.
#[derive(Debug, Clone)]
pub struct Marker {
    pub x: f64,
    pub y: Option<f64>,
    pub id: String,
    pub label: String,
}

/// A forecast step after the last point: mean and an interval.
#[derive(Debug, Clone)]
pub struct ForecastStep {
    pub x: f64,
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, Default)]
pub struct LineChart {
    pub title: String,
    pub unit: String,
    pub points: Vec<Point>,
    /// A horizontal band (the baseline): lower, center, upper.
    pub band: Option<(f64, f64, f64)>,
    pub markers: Vec<Marker>,
    pub forecast: Vec<ForecastStep>,
    /// Format x values as dates (x in seconds since the epoch).
    pub time_axis: bool,
}

fn fmt_y(v: f64, unit: &str) -> String {
    if unit == "s" {
        if v >= 3600.0 {
            format!("{:.1}h", v / 3600.0)
        } else if v >= 120.0 {
            format!("{:.0}m", v / 60.0)
        } else {
            format!("{v:.0}s")
        }
    } else if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}{unit}")
    } else {
        format!("{v:.2}{unit}")
    }
}

fn fmt_x(x: f64, time: bool) -> String {
    if time {
        chrono::DateTime::from_timestamp(x as i64, 0).map(|t| t.format("%m-%d %H:%M").to_string()).unwrap_or_default()
    } else {
        format!("{x:.0}")
    }
}

impl LineChart {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg class="chart line" viewBox="0 0 {W} {H}" role="img" aria-label="{}" data-points="{}">"#,
            esc(&self.title),
            self.points.len()
        );
        if self.points.is_empty() {
            let _ =
                write!(out, r#"<text x="{}" y="{}" class="empty">no data yet</text></svg>"#, W / 2.0 - 30.0, H / 2.0);
            return out;
        }
        let xs = self
            .points
            .iter()
            .map(|p| p.x)
            .chain(self.forecast.iter().map(|f| f.x))
            .chain(self.markers.iter().map(|m| m.x));
        let (mut x0, mut x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        if x1 <= x0 {
            x0 -= 1.0;
            x1 += 1.0;
        }
        let ys = self
            .points
            .iter()
            .map(|p| p.y)
            .chain(self.band.iter().flat_map(|b| [b.0, b.2]))
            .chain(self.forecast.iter().flat_map(|f| [f.lower, f.upper]));
        let (_, mut y1) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
        let y0 = 0.0;
        if y1 <= y0 {
            y1 = y0 + 1.0;
        }
        y1 *= 1.05;
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        let sy = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM);
        // Axes and grid.
        for i in 0..=4 {
            let v = y0 + (y1 - y0) * f64::from(i) / 4.0;
            let y = sy(v);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                W - RIGHT,
                LEFT - 4.0,
                y + 3.0,
                esc(&fmt_y(v, &self.unit))
            );
        }
        for (i, anchor) in [(0.0, "start"), (0.5, "middle"), (1.0, "end")] {
            let x = x0 + (x1 - x0) * i;
            let _ = write!(
                out,
                r#"<text class="tick" x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
                sx(x),
                H - 8.0,
                esc(&fmt_x(x, self.time_axis))
            );
        }
        if let Some((lo, c, hi)) = self.band {
            let _ = write!(
                out,
                r#"<rect class="band" x="{LEFT}" y="{:.1}" width="{:.1}" height="{:.1}"><title>baseline band {} – {}</title></rect><line class="center" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/>"#,
                sy(hi),
                W - LEFT - RIGHT,
                (sy(lo) - sy(hi)).max(1.0),
                esc(&fmt_y(lo, &self.unit)),
                esc(&fmt_y(hi, &self.unit)),
                W - RIGHT,
                sy(c),
                sy(c)
            );
        }
        if !self.forecast.is_empty() {
            let mut upper = String::new();
            let mut lower = String::new();
            let mut mean = String::new();
            for f in &self.forecast {
                let _ = write!(upper, "{:.1},{:.1} ", sx(f.x), sy(f.upper));
                let _ = write!(mean, "{:.1},{:.1} ", sx(f.x), sy(f.mean));
            }
            for f in self.forecast.iter().rev() {
                let _ = write!(lower, "{:.1},{:.1} ", sx(f.x), sy(f.lower));
            }
            let _ = write!(
                out,
                r#"<polygon class="interval" points="{upper}{lower}"><title>forecast interval</title></polygon><polyline class="forecast" points="{mean}"/>"#
            );
        }
        let mut line = String::new();
        for p in &self.points {
            let _ = write!(line, "{:.1},{:.1} ", sx(p.x), sy(p.y));
        }
        let _ = write!(out, r#"<polyline class="series" points="{line}"/>"#);
        for p in &self.points {
            let _ = write!(
                out,
                r#"<circle class="pt{}" cx="{:.1}" cy="{:.1}" r="2.5"><title>{}</title></circle>"#,
                if p.failed { " failed" } else { "" },
                sx(p.x),
                sy(p.y),
                esc(&p.label)
            );
        }
        for m in &self.markers {
            let x = sx(m.x);
            let _ = write!(
                out,
                r#"<g class="anomaly" data-anomaly-id="{}"><line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}"/>"#,
                esc(&m.id),
                H - BOTTOM
            );
            if let Some(y) = m.y {
                let _ = write!(out, r#"<circle cx="{x:.1}" cy="{:.1}" r="5"/>"#, sy(y));
            }
            let _ = write!(out, "<title>{}</title></g>", esc(&m.label));
        }
        out.push_str("</svg>");
        out
    }
}

/// Horizontal bars: label, value, and an optional class per bar (e.g. a grade).
pub fn bars(title: &str, rows: &[(String, f64, String)], max: f64, unit: &str) -> String {
    let row_h = 22.0;
    let h = row_h * rows.len().max(1) as f64 + 8.0;
    let label_w = 190.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart bars" viewBox="0 0 {W} {h}" role="img" aria-label="{}" data-points="{}">"#,
        esc(title),
        rows.len()
    );
    if rows.is_empty() {
        let _ = write!(out, r#"<text x="10" y="18" class="empty">no data yet</text>"#);
    }
    let max = if max > 0.0 { max } else { rows.iter().map(|r| r.1).fold(1.0, f64::max) };
    for (i, (label, value, class)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = (value / max).clamp(0.0, 1.0) * (W - label_w - 70.0);
        let _ = write!(
            out,
            r#"<text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text><rect class="pt bar {}" x="{label_w}" y="{y:.1}" width="{w:.1}" height="{}"><title>{}: {}</title></rect><text class="tick" x="{:.1}" y="{:.1}">{}</text>"#,
            label_w - 6.0,
            y + 14.0,
            esc(label),
            esc(class),
            row_h - 6.0,
            esc(label),
            esc(&fmt_y(*value, unit)),
            label_w + w + 4.0,
            y + 14.0,
            esc(&fmt_y(*value, unit))
        );
    }
    out.push_str("</svg>");
    out
}

/// Stacked columns per day: (day label, good, bad).
pub fn columns(title: &str, days: &[(String, f64, f64)], good: &str, bad: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart columns" viewBox="0 0 {W} {H}" role="img" aria-label="{}" data-points="{}">"#,
        esc(title),
        days.len()
    );
    if days.is_empty() {
        let _ = write!(out, r#"<text x="{}" y="{}" class="empty">no data yet</text></svg>"#, W / 2.0 - 30.0, H / 2.0);
        return out;
    }
    let max = days.iter().map(|d| d.1 + d.2).fold(1.0, f64::max);
    let slot = (W - LEFT - RIGHT) / days.len() as f64;
    let bw = (slot * 0.7).max(1.0);
    let plot_h = H - TOP - BOTTOM;
    for i in 0..=2 {
        let v = max * f64::from(i) / 2.0;
        let y = H - BOTTOM - plot_h * f64::from(i) / 2.0;
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{v:.0}</text>"#,
            W - RIGHT,
            LEFT - 4.0,
            y + 3.0
        );
    }
    for (i, (label, g, b)) in days.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bw) / 2.0;
        let gh = g / max * plot_h;
        let bh = b / max * plot_h;
        let base = H - BOTTOM;
        let _ = write!(
            out,
            r#"<rect class="pt good" x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{gh:.1}"><title>{}: {g} {}</title></rect><rect class="pt bad" x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{bh:.1}"><title>{}: {b} {}</title></rect>"#,
            base - gh,
            esc(label),
            esc(good),
            base - gh - bh,
            esc(label),
            esc(bad)
        );
        if days.len() <= 16 || i % (days.len() / 8).max(1) == 0 {
            let _ = write!(
                out,
                r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + bw / 2.0,
                H - 8.0,
                esc(label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_draws_every_point_the_band_and_the_markers() {
        let points: Vec<Point> = (0..5)
            .map(|i| Point { x: f64::from(i) * 60.0, y: 100.0 + f64::from(i), label: format!("p{i}"), failed: i == 2 })
            .collect();
        let chart = LineChart {
            title: "t<>".into(),
            unit: "s".into(),
            points,
            band: Some((90.0, 100.0, 110.0)),
            markers: vec![Marker { x: 120.0, y: Some(102.0), id: "a\"1".into(), label: "spike".into() }],
            forecast: vec![ForecastStep { x: 300.0, mean: 105.0, lower: 95.0, upper: 115.0 }],
            time_axis: true,
        }
        .render();
        assert_eq!(chart.matches(r#"<circle class="pt"#).count(), 5, "{chart}");
        assert_eq!(chart.matches("pt failed").count(), 1);
        assert!(chart.contains(r#"class="band""#) && chart.contains(r#"class="interval""#));
        assert!(chart.contains(r#"data-anomaly-id="a&quot;1""#), "{chart}");
        assert!(chart.contains("t&lt;&gt;") && !chart.contains("t<>"));
    }

    #[test]
    fn empty_charts_say_so() {
        assert!(LineChart::default().render().contains("no data yet"));
        assert!(bars("b", &[], 0.0, "").contains("no data yet"));
        assert!(columns("c", &[], "ok", "bad").contains("no data yet"));
    }
}
