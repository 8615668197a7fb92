//! Small inline SVG charts for the run report: deterministic (coordinates to one decimal),
//! no script, no external reference, labels escaped. Hidden (suppressed) counts are drawn as
//! nothing and say so in the table beside each chart.

use std::fmt::Write as _;

const PALETTE: [&str; 8] = [
    "#8c2d04", "#d94801", "#fd8d3c", "#fdd0a2", "#2171b5", "#6baed6", "#74c476", "#9e9ac8",
];

/// Escape text for SVG/XML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

fn open(width: u32, height: u32, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{t}\" font-family=\"sans-serif\" font-size=\"11\"><title>{t}</title>",
        t = escape(title)
    )
}

/// A population pyramid: for each row (age band, top = oldest last given), bars to the left
/// for the first series and to the right for the second.
pub fn pyramid(title: &str, rows: &[(String, u64, u64)], left: &str, right: &str) -> String {
    let (width, bar, label) = (560.0_f64, 14.0_f64, 50.0_f64);
    let height = bar * rows.len() as f64 + 40.0;
    let max = rows
        .iter()
        .map(|(_, a, b)| (*a).max(*b))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let half = (width - label) / 2.0 - 10.0;
    let mid = label + half + 5.0;
    let mut s = open(width as u32, height as u32, title);
    for (i, (band, a, b)) in rows.iter().rev().enumerate() {
        let y = 20.0 + i as f64 * bar;
        let wa = *a as f64 / max * half;
        let wb = *b as f64 / max * half;
        let _ = write!(
            s,
            "<text x=\"2\" y=\"{:.1}\">{}</text><rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{wa:.1}\" height=\"{:.1}\" fill=\"{}\"/><rect x=\"{mid:.1}\" y=\"{y:.1}\" width=\"{wb:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
            y + bar - 3.0,
            escape(band),
            mid - wa,
            bar - 2.0,
            PALETTE[4],
            bar - 2.0,
            PALETTE[1],
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"12\" text-anchor=\"end\">{}</text><text x=\"{:.1}\" y=\"12\">{}</text></svg>",
        mid - 4.0,
        escape(left),
        mid + 4.0,
        escape(right)
    );
    s
}

/// Horizontal stacked bars, one per row, each series a colour, scaled to the largest row.
pub fn stacked(title: &str, rows: &[(String, Vec<u64>)], series: &[String]) -> String {
    let (width, bar, label) = (560.0_f64, 14.0_f64, 110.0_f64);
    let height = bar * rows.len() as f64 + 40.0;
    let max = rows
        .iter()
        .map(|(_, v)| v.iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let span = width - label - 10.0;
    let mut s = open(width as u32, height as u32, title);
    for (i, (name, values)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * bar;
        let _ = write!(
            s,
            "<text x=\"2\" y=\"{:.1}\">{}</text>",
            y + bar - 3.0,
            escape(name)
        );
        let mut x = label;
        for (j, v) in values.iter().enumerate() {
            let w = *v as f64 / max * span;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
                bar - 2.0,
                PALETTE[j % PALETTE.len()]
            );
            x += w;
        }
    }
    let mut x = label;
    let y = height - 10.0;
    for (j, name) in series.iter().enumerate() {
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 9.0,
            PALETTE[j % PALETTE.len()],
            x + 13.0,
            escape(name)
        );
        x += 20.0 + 7.0 * name.len() as f64;
    }
    s.push_str("</svg>");
    s
}

/// Vertical bars of one series.
pub fn bars(title: &str, rows: &[(String, u64)]) -> String {
    let (width, height) = (280.0_f64, 160.0_f64);
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(1).max(1) as f64;
    let slot = (width - 20.0) / rows.len().max(1) as f64;
    let plot = height - 30.0;
    let mut s = open(width as u32, height as u32, title);
    for (i, (name, v)) in rows.iter().enumerate() {
        let h = *v as f64 / max * plot;
        let x = 10.0 + i as f64 * slot;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x + 2.0,
            10.0 + plot - h,
            slot - 4.0,
            PALETTE[4],
            x + slot / 2.0,
            height - 6.0,
            escape(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// Lines on the unit square (ROC, calibration), with the diagonal for reference.
pub fn unit_lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, &[[f64; 2]])],
) -> String {
    let (size, pad) = (300.0_f64, 40.0_f64);
    let plot = size - 2.0 * pad;
    let px = |x: f64| pad + x.clamp(0.0, 1.0) * plot;
    let py = |y: f64| size - pad - y.clamp(0.0, 1.0) * plot;
    let mut s = open(size as u32, size as u32, title);
    let _ = write!(
        s,
        "<rect x=\"{pad:.1}\" y=\"{pad:.1}\" width=\"{plot:.1}\" height=\"{plot:.1}\" fill=\"none\" stroke=\"#999\"/><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>",
        px(0.0),
        py(0.0),
        px(1.0),
        py(1.0)
    );
    for tick in [0.0, 0.5, 1.0] {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{tick:.1}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tick:.1}</text>",
            px(tick),
            size - pad + 14.0,
            pad - 4.0,
            py(tick) + 4.0
        );
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|[x, y]| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let colour = PALETTE[(i * 4 + 1) % PALETTE.len()];
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{}</text>",
            path.join(" "),
            pad + 6.0,
            pad + 14.0 + 13.0 * i as f64,
            escape(name)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text x=\"12\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 12 {:.1})\">{}</text></svg>",
        size / 2.0,
        size - 8.0,
        escape(x_label),
        size / 2.0,
        size / 2.0,
        escape(y_label)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_output_is_deterministic() {
        let rows = vec![("<b>&".to_owned(), 10, 20)];
        let a = pyramid("t", &rows, "male", "female");
        assert!(a.contains("&lt;b&gt;&amp;"), "{a}");
        assert!(!a.contains("<b>"));
        assert_eq!(a, pyramid("t", &rows, "male", "female"));
        let l = unit_lines(
            "roc",
            "x",
            "y",
            &[("m", &[[0.0, 0.0], [0.5, 0.8], [1.0, 1.0]])],
        );
        assert!(
            l.contains("points=\"40.0,260.0 150.0,84.0 260.0,40.0\""),
            "{l}"
        );
    }
}
