//! A hand-written SVG chart of seed time per size, ours vs the reference (log–log axes).

use std::fmt::Write as _;

/// Seed time of one size: (jobs, ours in seconds, reference in seconds).
pub type Point = (u64, f64, f64);

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// The chart as an SVG document; `title` is printed on top.
pub fn seed_svg(points: &[Point], title: &str) -> String {
    let xs: Vec<f64> = points.iter().map(|p| (p.0 as f64).log10()).collect();
    let ys: Vec<f64> = points
        .iter()
        .flat_map(|p| [p.1, p.2])
        .map(|s| s.max(1e-3).log10())
        .collect();
    let (x0, x1) = bounds(&xs, 0.3);
    let (y0, y1) = bounds(&ys, 0.0);
    let (y0, y1) = (y0.floor(), y1.ceil().max(y0.floor() + 1.0));
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
"#,
        W / 2.0,
        escape(title)
    );
    grid(&mut s, y0, y1, &xs, points, &px, &py);
    for (series, color, label) in [
        (1, "#1f77b4", "pipeline-db seed (whole process)"),
        (2, "#888888", "SQLite INSERT … SELECT (reference)"),
    ] {
        let pts: Vec<(f64, f64, f64)> = points
            .iter()
            .zip(&xs)
            .map(|(p, &x)| {
                let v = if series == 1 { p.1 } else { p.2 };
                (px(x), py(v.max(1e-3).log10()), v)
            })
            .collect();
        let path: Vec<String> = pts
            .iter()
            .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2.5" points="{}"/>"#,
            path.join(" ")
        );
        for (x, y, v) in &pts {
            let dy = if series == 1 { -8.0 } else { 16.0 };
            let _ = writeln!(
                s,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{color}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="{color}">{}</text>"#,
                y + dy,
                secs(*v)
            );
        }
        let ly = if series == 1 { TOP + 4.0 } else { TOP + 22.0 };
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{}" width="14" height="4" fill="{color}"/><text x="{}" y="{}">{}</text>"#,
            LEFT + 12.0,
            ly - 4.0,
            LEFT + 32.0,
            ly + 1.0,
            escape(label)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn grid(
    s: &mut String,
    y0: f64,
    y1: f64,
    xs: &[f64],
    points: &[Point],
    px: &dyn Fn(f64) -> f64,
    py: &dyn Fn(f64) -> f64,
) {
    let mut e = y0 as i32;
    while e as f64 <= y1 {
        let y = py(e as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            secs(10f64.powi(e))
        );
        e += 1;
    }
    for (p, &x) in points.iter().zip(xs) {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{TOP}" y2="{1}" stroke="#eee"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3} jobs</text>"##,
            px(x),
            H - BOTTOM,
            H - BOTTOM + 18.0,
            crate::report::size(p.0)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle">jobs seeded (log scale)</text><text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">seconds (log scale)</text>"##,
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0,
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0,
    );
}

fn bounds(v: &[f64], pad: f64) -> (f64, f64) {
    let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo - pad, hi + pad)
}

fn secs(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.1} s")
    } else {
        format!("{:.0} ms", v * 1e3)
    }
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn chart_has_both_series_and_every_size() {
        let svg = super::seed_svg(&[(10_000, 0.5, 0.3), (1_000_000, 32.0, 28.0)], "t <&>");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("10k jobs") && svg.contains("1M jobs"));
        assert!(svg.contains("t &lt;&amp;&gt;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }
}
