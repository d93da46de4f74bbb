//! `report.html`: written by every run, self-contained (every `src` and
//! `href` names a file inside the run folder, no URL), with the config, the
//! curves, the quality metrics when the run has them and one grid per epoch.

mod common;

use datasets::synthetic_mnist;
use gan::config::TrainConfig;
use gan::models::ModelKind;
use runs::report::write_report;
use runs::run::{self, RunOptions};
use std::path::Path;

/// The values of every `src="…"` and `href="…"` attribute of `html`.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=", "href="] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            let quote = rest.chars().next().expect("an attribute value");
            assert!(quote == '"' || quote == '\'', "unquoted {attribute} at {at}");
            let end = rest[1..].find(quote).expect("a closing quote");
            found.push(rest[1..1 + end].to_string());
        }
    }
    found
}

/// Asserts that every reference of the page in `dir` is a relative path to
/// an existing file inside `dir`, and returns the references.
fn assert_self_contained(dir: &Path) -> (String, Vec<String>) {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("http"), "the page names a URL");
    assert!(!html.contains("<script"), "the page has a script");
    let refs = references(&html);
    for r in &refs {
        assert!(
            !r.starts_with('/') && !r.contains("..") && !r.contains(':'),
            "{r} is not a plain relative path"
        );
        assert!(dir.join(r).is_file(), "{r} does not exist in {}", dir.display());
    }
    (html, refs)
}

#[test]
fn every_run_writes_a_self_contained_report() {
    let dir = common::scratch_dir("report-run");
    // 256 images in batches of 64: 4 steps an epoch, 3 epochs.
    let config = TrainConfig {
        epochs: 3,
        log_every: 1,
        ..TrainConfig::new(ModelKind::Mlp)
    };
    let interrupt = RunOptions {
        interrupt_at: Some(6),
        ..RunOptions::default()
    };
    run::start(config.clone(), synthetic_mnist(256, 1).unwrap(), &dir, &interrupt).unwrap();
    // Written at the end of epoch 1 and at the (interrupted) end: one grid.
    let (_, refs) = assert_self_contained(&dir);
    assert_eq!(
        refs.iter().filter(|r| r.starts_with("samples/")).count(),
        1,
        "{refs:?}"
    );

    run::resume(
        config,
        synthetic_mnist(256, 1).unwrap(),
        &dir,
        &RunOptions::default(),
    )
    .unwrap();
    let (html, refs) = assert_self_contained(&dir);
    let grids: Vec<&String> = refs.iter().filter(|r| r.starts_with("samples/")).collect();
    assert_eq!(
        grids,
        [
            "samples/epoch_001.png",
            "samples/epoch_002.png",
            "samples/epoch_003.png"
        ]
    );
    for file in ["samples.png", "metrics.csv", "config.json", "loss.svg"] {
        assert!(refs.iter().any(|r| r == file), "{file} is not linked: {refs:?}");
    }
    // The config, as a table.
    for row in [
        "<tr><th>model</th><td>mlp</td></tr>",
        "<tr><th>batch_size</th><td>64</td></tr>",
        "<tr><th>betas</th><td>[0.5,0.999]</td></tr>",
    ] {
        assert!(html.contains(row), "no {row}");
    }
    // The curves, drawn inline, with their legends: the losses and scores,
    // and (runs check quality at each epoch end by default) the judge's
    // figures.
    assert_eq!(html.matches("<svg").count(), 2);
    for label in ["loss_d", "loss_g", "d_real", "d_fake", "Classifier score"] {
        assert!(html.contains(label), "no curve {label}");
    }
    assert!(!html.contains("no quality metrics in this run"));
}

#[test]
fn quality_columns_are_plotted_when_present_and_extra_columns_are_tolerated() {
    let dir = common::scratch_dir("report-quality");
    std::fs::write(
        dir.join("config.json"),
        r#"{"model": "dcgan", "dataset": "mnist"}"#,
    )
    .unwrap();
    // Quality metrics only on epoch-end rows, and a column nobody knows.
    std::fs::write(
        dir.join("metrics.csv"),
        "step,epoch,loss_d,loss_g,d_real,d_fake,classifier_score,frechet_distance,missing_digits,other\n\
         50,1,1.2,0.8,0.6,0.4,,,,x\n\
         100,1,1.1,0.9,0.6,0.4,3.5,80.25,2,x\n\
         150,2,1.0,1.0,0.55,0.45,,,,x\n\
         200,2,1.0,1.1,0.5,0.45,6.75,40.5,0,x\n",
    )
    .unwrap();
    write_report(&dir).unwrap();
    let (html, refs) = assert_self_contained(&dir);
    assert!(!html.contains("no quality metrics"));
    assert_eq!(html.matches("<svg").count(), 2, "curves and quality");
    for caption in [
        "Classifier score",
        "Fréchet distance",
        "Digits the generator never draws",
    ] {
        assert!(html.contains(caption), "no panel {caption}");
    }
    assert!(html.contains("<h1>report-quality: dcgan on mnist</h1>"));
    // No grids in this folder, so none are referenced.
    assert_eq!(refs, ["config.json", "metrics.csv"]);
}

#[test]
fn a_run_without_quality_columns_says_so() {
    let dir = common::scratch_dir("report-no-quality");
    std::fs::write(dir.join("config.json"), r#"{"model": "mlp", "dataset": "mnist"}"#).unwrap();
    // A metrics.csv from before the judge existed: the six loss columns only.
    std::fs::write(
        dir.join("metrics.csv"),
        "step,epoch,loss_d,loss_g,d_real,d_fake\n50,1,1.2,0.8,0.6,0.4\n100,1,1.1,0.9,0.6,0.4\n",
    )
    .unwrap();
    write_report(&dir).unwrap();
    let (html, _) = assert_self_contained(&dir);
    assert!(html.contains("no quality metrics in this run"));
    assert_eq!(html.matches("<svg").count(), 1, "the curves only");
}
