//! `gan-mnist eval`: how good are a run's samples? A table (or `--json`)
//! of the classifier score, the Fréchet distance and the share of each
//! class, for the samples and for real images (the ceiling).

use super::load_split;
use crate::cli::EvalArgs;
use datasets::Split;
use judge::Quality;
use runs::eval::{self, EvalReport, EvalRequest};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

/// Evaluates the run and prints the report.
pub fn eval(args: EvalArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    // Fails on a bad --checkpoint before any data is loaded.
    let dataset = eval::run_dataset(&args.checkpoint, args.which).map_err(|e| e.to_string())?;
    let dir = args.data_dir.as_deref();
    let test = load_split(dataset, Split::Test, dir, args.offline)?;
    let train = load_split(dataset, Split::Train, dir, args.offline)?;
    let request = EvalRequest {
        n: args.n as usize,
        seed: args.seed,
        which: args.which,
    };
    let report = eval::evaluate_run(&args.checkpoint, request, &test, &train).map_err(|e| e.to_string())?;
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("a report serialises"));
    } else {
        print!("{}", table(&report));
        println!("({:.1} s)", started.elapsed().as_secs_f64());
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as a readable table.
fn table(report: &EvalReport) -> String {
    let mut out = String::new();
    let w = &mut out;
    let classes = report.dataset.class_names().len();
    writeln!(
        w,
        "{} on {}, step {}, {} generator: {} samples; Fréchet distance to the {} test images",
        report.model,
        report.dataset.title(),
        report.step,
        report.generator,
        report.samples.count,
        report.reference_count
    )
    .expect("writing to a String");
    writeln!(
        w,
        "\n{:<20} {:>8} {:>8} {:>9} {:>9} {:>10} {:>10}  missing",
        "", "score", "= spread", "× certainty", "Fréchet", "min share", "max share"
    )
    .expect("writing to a String");
    let row = |w: &mut String, name: &str, q: &Quality| {
        let missing = if q.missing_classes.is_empty() {
            "none".to_string()
        } else {
            format!("{} ({:?})", q.missing_classes.len(), q.missing_classes)
        };
        writeln!(
            w,
            "{name:<20} {:>8.3} {:>8.3} {:>11.3} {:>9.3} {:>9.1}% {:>9.1}%  {missing}",
            q.classifier_score,
            q.score_parts.spread,
            q.score_parts.certainty,
            q.frechet_distance,
            100.0 * q.min_share,
            100.0 * q.max_share
        )
        .expect("writing to a String");
    };
    row(w, "samples", &report.samples);
    row(w, "real (train images)", &report.real);
    writeln!(w, "\nshare of each class (the judge's verdict):").expect("writing to a String");
    let header: String = (0..classes).map(|c| format!("{c:>7}")).collect();
    writeln!(w, "{:<20}{header}", "class").expect("writing to a String");
    for (name, q) in [
        ("samples", &report.samples),
        ("real (train images)", &report.real),
    ] {
        let cells: String = q
            .class_shares
            .iter()
            .map(|s| format!("{:>6.1}%", 100.0 * s))
            .collect();
        writeln!(w, "{name:<20}{cells}").expect("writing to a String");
    }
    if let Some(agreement) = &report.samples.per_class_agreement {
        let cells: String = agreement.iter().map(|s| format!("{:>6.1}%", 100.0 * s)).collect();
        writeln!(w, "{:<20}{cells}", "asked d, judged d").expect("writing to a String");
        let worst = agreement.iter().copied().fold(f64::INFINITY, f64::min);
        writeln!(
            w,
            "(conditional model: the share of the samples drawn as class d that the judge calls d; lowest {:.1}%)",
            100.0 * worst
        )
        .expect("writing to a String");
    }
    out
}
