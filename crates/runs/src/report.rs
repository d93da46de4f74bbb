//! `report.html`: one page that shows a whole run, written into the run
//! folder at every epoch's end and at the end of the run.
//!
//! The page is self-contained: the curves are SVG drawn by `plotters` and
//! put inline, the sample grids are `<img>`s with paths relative to the run
//! folder (`samples/epoch_001.png`, …), and it loads nothing from the
//! network (no scripts, no fonts, no style sheets). Copy the run folder
//! anywhere and the page still works.
//!
//! It shows, top to bottom:
//! * the run's configuration (`config.json`, as a table);
//! * the losses and the discriminator's mean scores D(x) and D(G(z)) over
//!   the steps (the columns of `metrics.csv`);
//! * the quality metrics over time: the columns `classifier_score`,
//!   `frechet_distance` and `missing_digits` of `metrics.csv`, filled on
//!   the rows of epoch ends, when the run measured them;
//! * the sample grid of every epoch, and the final one.
//!
//! Everything is read back from the run folder, so the page can also be
//! rebuilt for a finished run with [`write_report`].

use crate::error::{Error, Result, write_atomically};
use crate::metrics::MetricsTable;
use crate::plot::{self, Panel, Series};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The file name of the page inside the run folder.
pub const FILE_NAME: &str = "report.html";

/// The quality columns of `metrics.csv` the page plots when they hold
/// values: (column, caption, y axis).
pub const QUALITY_COLUMNS: [(&str, &str, &str); 3] = [
    ("classifier_score", "Classifier score (higher is better)", "score"),
    (
        "frechet_distance",
        "Fréchet distance to real digits (lower is better)",
        "distance",
    ),
    (
        "missing_digits",
        "Digits the generator never draws (lower is better)",
        "digits",
    ),
];

/// Builds `report.html` from the files in the run folder `dir` and writes
/// it there atomically; returns its path.
///
/// ```no_run
/// let page = runs::report::write_report(std::path::Path::new("runs/mlp"))?;
/// println!("open {}", page.display());
/// # Ok::<(), runs::Error>(())
/// ```
pub fn write_report(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(FILE_NAME);
    let html = render(dir)?;
    write_atomically(&path, html.as_bytes())?;
    Ok(path)
}

/// The page's HTML.
fn render(dir: &Path) -> Result<String> {
    let page = dir.join(FILE_NAME);
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(Error::io(&path, "reading"))
    };
    let config: serde_json::Value = serde_json::from_str(&read("config.json")?).unwrap_or_default();
    let table = MetricsTable::parse(&read("metrics.csv")?);
    let draw = |title: &str, panels: &[Panel], height: u32| {
        plot::render_panels(title, panels, (900, height))
            .map(|svg| inline_svg(&svg))
            .map_err(|detail| Error::Draw {
                path: page.clone(),
                detail,
            })
    };

    let name = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let title = match (config.get("model"), config.get("dataset")) {
        (Some(model), Some(dataset)) => format!("{name}: {} on {}", plain(model), plain(dataset)),
        _ => name.clone(),
    };
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );

    html.push_str("<h2>Configuration</h2>\n<table class=\"config\">\n");
    if let Some(fields) = config.as_object() {
        for (key, value) in fields {
            let _ = writeln!(
                html,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(key),
                escape(&plain(value))
            );
        }
    }
    html.push_str("</table>\n");

    html.push_str("<h2>Training curves</h2>\n");
    let panels = [
        panel("Losses", "loss", &table, &["loss_d", "loss_g"]),
        panel(
            "Discriminator scores (batch means)",
            "mean score",
            &table,
            &["d_real", "d_fake"],
        ),
    ];
    if table.has_values("step") {
        html.push_str(&draw("losses and scores", &panels, 700)?);
        html.push_str(
            "<p>d_real is D(x), the discriminator's mean score on real images; d_fake is \
             D(G(z)), on generated ones.</p>\n",
        );
    } else {
        html.push_str("<p>no metrics rows yet</p>\n");
    }

    html.push_str("<h2>Quality metrics</h2>\n");
    let quality: Vec<Panel> = QUALITY_COLUMNS
        .iter()
        .filter(|(column, ..)| table.has_values(column))
        .map(|&(column, caption, y_label)| panel(caption, y_label, &table, &[column]))
        .collect();
    if quality.is_empty() {
        html.push_str("<p>no quality metrics in this run</p>\n");
    } else {
        let height = 60 + 300 * quality.len() as u32;
        html.push_str(&draw("quality at epoch ends", &quality, height)?);
    }

    html.push_str("<h2>Samples</h2>\n<div class=\"grids\">\n");
    for (epoch, file) in epoch_grids(dir)? {
        let _ = writeln!(
            html,
            "<figure><img src=\"samples/{file}\" alt=\"samples after epoch {epoch}\">\
             <figcaption>epoch {epoch}</figcaption></figure>",
            file = escape(&file)
        );
    }
    if dir.join("samples.png").is_file() {
        html.push_str(
            "<figure><img src=\"samples.png\" alt=\"samples at the end\">\
             <figcaption>end of the run</figcaption></figure>\n",
        );
    }
    html.push_str("</div>\n");
    if let Ok(legend) = std::fs::read_to_string(dir.join("samples.txt")) {
        let _ = writeln!(html, "<pre>{}</pre>", escape(&legend));
    }

    html.push_str("<h2>Files</h2>\n<ul>\n");
    for file in ["config.json", "metrics.csv", "loss.svg", "samples.png"] {
        if dir.join(file).is_file() {
            let _ = writeln!(html, "<li><a href=\"{file}\">{file}</a></li>");
        }
    }
    html.push_str("</ul>\n</body>\n</html>\n");
    Ok(html)
}

/// A panel of the `columns` of `table` that hold values.
fn panel(caption: &str, y_label: &str, table: &MetricsTable, columns: &[&str]) -> Panel {
    Panel {
        caption: caption.into(),
        y_label: y_label.into(),
        series: columns.iter().map(|c| Series::new(*c, table.points(c))).collect(),
    }
}

/// The per-epoch grids in `samples/` as (epoch, file name), in epoch order.
fn epoch_grids(dir: &Path) -> Result<Vec<(usize, String)>> {
    let samples = dir.join("samples");
    let entries = match std::fs::read_dir(&samples) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::io(&samples, "reading")(source));
        }
    };
    let mut grids: Vec<(usize, String)> = entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().to_string_lossy().into_owned();
            let epoch = name.strip_prefix("epoch_")?.strip_suffix(".png")?.parse().ok()?;
            Some((epoch, name))
        })
        .collect();
    grids.sort();
    Ok(grids)
}

/// A JSON value as plain text: strings without quotes, the rest as compact JSON.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `text` with the characters HTML treats specially escaped.
fn escape(text: &str) -> String {
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

/// An SVG document made ready to sit inside HTML: the namespace attribute
/// (which HTML does not need) is dropped, so that the page names no URL at all.
fn inline_svg(svg: &str) -> String {
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    format!("<div class=\"plot\">\n{svg}\n</div>\n")
}

/// The page's style: readable text, grids side by side, scalable plots.
const STYLE: &str = "body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
table.config{border-collapse:collapse}\
table.config th,table.config td{border:1px solid #ccc;padding:2px 8px;text-align:left}\
table.config th{background:#f4f4f4;font-weight:normal;font-family:monospace}\
.plot svg{max-width:100%;height:auto}\
.grids{display:flex;flex-wrap:wrap;gap:12px}\
figure{margin:0;text-align:center}\
figure img{width:242px;image-rendering:pixelated;border:1px solid #ddd}";
