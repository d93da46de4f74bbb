//! Chapter 9 of the book (`docs/09-measuring-a-gan.md`): what the project's
//! quality numbers say, and where they mislead, measured.
//!
//! 1. **The Fréchet distance's sample-size bias.** The judge's features of a
//!    pool of 20,000 real training images and (with `--checkpoint`) of 20,000
//!    samples are computed once; then, for n = 500 … 10,000, five random
//!    subsets of each pool are measured against the whole test set (the
//!    reference `gan-mnist eval` uses). Real images against real images is
//!    the *floor*: what a perfect generator would score at that n.
//! 2. **Baselines** at n = 5,000: real images, the same images blurred
//!    (Gaussian, σ = 1 and 2 pixels), sprinkled with salt noise (2% of the
//!    pixels white), only the 1s, only the digits 0–4, and the model's
//!    samples: numbers a reader can place a run's numbers between.
//! 3. **Quality against training time** (with `--run`): the per-epoch rows of
//!    each run's `metrics.csv` (1,000 samples each, see `run.rs`), against the
//!    run's measured CPU minutes, spread evenly over its epochs; beside them
//!    the losses of each epoch's last logged rows, which say little.
//!
//! ```text
//! cargo run --release -p gan-mnist --example book_metrics -- --data-dir DIR \
//!     [--checkpoint RUN] [--run LABEL=RUN_DIR=CPU_MINUTES …]
//! ```
//!
//! It prints markdown tables and writes `docs/images/book-frechet-bias.svg`
//! and (with `--run`) `docs/images/book-quality-vs-time.svg` and
//! `book-score-vs-time.svg`. Every draw is seeded: the same inputs print the
//! same numbers.

#[path = "book_common/mod.rs"]
mod book_common;

use book_common::{Axes, Series, SeriesLabelPosition, images_dir, line_chart};
use datasets::NUM_CLASSES;
use datasets::{Dataset, ImageSet, Split};
use judge::Reference;
use judge::judge::{Judge, to_judge_input};
use judge::judge_train::judge_set;
use plotters::style::RGBColor;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use runs::sample::{Which, load_generator, resolve};
use std::error::Error;
use std::path::{Path, PathBuf};
use tensor::{Tensor, no_grad};

/// The subset sizes of the bias table.
const SIZES: [usize; 5] = [500, 1000, 2000, 5000, 10_000];
/// Random subsets per size.
const DRAWS: usize = 5;
/// Images in each pool (real and generated): twice the largest subset, so
/// that even the subsets of 10,000 differ from draw to draw.
const POOL: usize = 20_000;
/// Images per baseline.
const BASELINE_N: usize = 5000;
/// The judge's features and logits, row-major.
struct Judged {
    logits: Vec<f32>,
    features: Vec<f32>,
}

impl Judged {
    /// The rows `rows`.
    fn subset(&self, rows: &[usize]) -> Judged {
        let pick = |values: &[f32], width: usize| -> Vec<f32> {
            rows.iter()
                .flat_map(|&r| values[r * width..(r + 1) * width].iter().copied())
                .collect()
        };
        Judged {
            logits: pick(&self.logits, judge::judge::CLASSES),
            features: pick(&self.features, judge::judge::FEATURES),
        }
    }
}

struct Args {
    data_dir: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    /// `(label, run folder, CPU minutes)`.
    runs: Vec<(String, PathBuf, f64)>,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        data_dir: None,
        checkpoint: None,
        runs: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data-dir" => args.data_dir = Some(PathBuf::from(value()?)),
            "--checkpoint" => args.checkpoint = Some(PathBuf::from(value()?)),
            "--run" => {
                let v = value()?;
                let parts: Vec<&str> = v.split('=').collect();
                let [label, dir, minutes] = parts.as_slice() else {
                    return Err(format!("--run {v}: expected LABEL=RUN_DIR=CPU_MINUTES").into());
                };
                let minutes: f64 = minutes
                    .parse()
                    .map_err(|_| format!("--run {v}: `{minutes}` is not a number of minutes"))?;
                args.runs.push((label.to_string(), PathBuf::from(dir), minutes));
            }
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    Ok(args)
}

fn load(split: Split, dir: Option<&Path>) -> Result<ImageSet, Box<dyn Error>> {
    let dataset = Dataset::Mnist;
    Ok(datasets::load(dataset, split, dir, &dataset.downloader())?)
}

/// `n` distinct indices below `len`, drawn from `rng`.
fn draw(len: usize, n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    // The first slice returned holds the `n` randomly chosen indices (rand
    // takes them from the end of the vector, so truncating would not do).
    let (chosen, _) = all.partial_shuffle(rng, n);
    chosen.to_vec()
}

fn judge_images(judge: &Judge, set: &ImageSet, indices: &[usize]) -> Result<Judged, Box<dyn Error>> {
    let (logits, features) = judge_set(judge, set, indices)?;
    Ok(Judged { logits, features })
}

/// `n` samples of the generator at `run`, drawn as `gan-mnist eval --seed 0`
/// draws them (the same noise stream, in chunks of 500), so that the first
/// 10,000 are exactly the ones `eval --n 10000` measures.
fn judge_samples(judge: &Judge, run: &Path, n: usize) -> Result<(Judged, String), Box<dyn Error>> {
    let checkpoint = resolve(run, Which::Latest)?;
    let config = runs::checkpoint::read_state(&checkpoint)?.config;
    let (model, generator) = load_generator(&checkpoint, config.model, 0)?;
    let mut rng = judge::quality_rng(0, 0);
    let conditional = config.model.is_conditional();
    let mut judged = Judged {
        logits: Vec::new(),
        features: Vec::new(),
    };
    let asked: Vec<usize> = (0..n)
        .map(|i| if conditional { i % NUM_CLASSES } else { 0 })
        .collect();
    for chunk in asked.chunks(500) {
        let z = Tensor::randn(&[chunk.len(), model.noise_dim()], 0.0, 1.0, &mut rng)?;
        let images = no_grad(|| model.generate(&z, chunk))?;
        let out = no_grad(|| judge.run(&to_judge_input(&images, model.batch_options().range)?))?;
        judged.logits.extend(out.logits.to_vec());
        judged.features.extend(out.features.to_vec());
    }
    let name = format!(
        "{} ({} generator, {})",
        config.model,
        generator,
        checkpoint.display()
    );
    Ok((judged, name))
}

/// A copy of images `indices` of `set` with each pixel changed by `f(image, x, y)`.
fn transformed(
    set: &ImageSet,
    indices: &[usize],
    f: impl Fn(&[u8], usize, usize, usize) -> u8,
) -> Result<ImageSet, Box<dyn Error>> {
    let (rows, cols) = (set.rows(), set.cols());
    let mut pixels = Vec::with_capacity(indices.len() * rows * cols);
    let mut labels = Vec::with_capacity(indices.len());
    for (k, &i) in indices.iter().enumerate() {
        let image = set.image(i).ok_or("index outside the set")?;
        for y in 0..rows {
            for x in 0..cols {
                pixels.push(f(image, x, y, k));
            }
        }
        labels.push(set.labels()[i]);
    }
    Ok(ImageSet::from_raw(pixels, labels, rows, cols)?)
}

/// A Gaussian blur of standard deviation `sigma` pixels (zero outside the
/// image, which is MNIST's black background), as one 2-D kernel.
fn blur(set: &ImageSet, indices: &[usize], sigma: f64) -> Result<ImageSet, Box<dyn Error>> {
    let radius = (3.0 * sigma).ceil() as isize;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let (rows, cols) = (set.rows() as isize, set.cols() as isize);
    transformed(set, indices, |image, x, y, _| {
        let mut sum = 0.0;
        for (dy, wy) in (-radius..=radius).zip(&weights) {
            for (dx, wx) in (-radius..=radius).zip(&weights) {
                let (sx, sy) = (x as isize + dx, y as isize + dy);
                if (0..cols).contains(&sx) && (0..rows).contains(&sy) {
                    sum += wy * wx * f64::from(image[(sy * cols + sx) as usize]);
                }
            }
        }
        (sum / (total * total)).round().clamp(0.0, 255.0) as u8
    })
}

/// `share` of the pixels of each image set to white, chosen by a hash of
/// (image, position) so that the noise is fixed.
fn salt(set: &ImageSet, indices: &[usize], share: f64) -> Result<ImageSet, Box<dyn Error>> {
    let cols = set.cols();
    transformed(set, indices, |image, x, y, k| {
        let mut h = (k as u64) << 32 | (y * cols + x) as u64;
        // SplitMix64's finaliser: a well-mixed 64-bit hash.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        if (h as f64) < share * u64::MAX as f64 {
            255
        } else {
            image[y * cols + x]
        }
    })
}

fn row(name: &str, q: &judge::Quality) {
    let missing = if q.missing_classes.is_empty() {
        "none".to_string()
    } else {
        format!("{:?}", q.missing_classes)
    };
    println!(
        "| {name} | {} | {:.2} ({:.2} × {:.3}) | {:.1} | {:.1}–{:.1}% | {missing} |",
        q.count,
        q.classifier_score,
        q.score_parts.spread,
        q.score_parts.certainty,
        q.frechet_distance,
        100.0 * q.min_share,
        100.0 * q.max_share
    );
}

fn mean_min_max(values: &[f64]) -> (f64, f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, min, max)
}

/// One epoch-end row of a run's `metrics.csv`.
struct EpochRow {
    epoch: usize,
    step: u64,
    loss_d: f64,
    loss_g: f64,
    score: f64,
    frechet: f64,
}

/// The epoch-end rows (those with a quality check) of `dir/metrics.csv`,
/// each with the mean losses of the logged rows of its epoch.
fn epoch_rows(dir: &Path) -> Result<Vec<EpochRow>, Box<dyn Error>> {
    let path = dir.join("metrics.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    let (mut sum_d, mut sum_g, mut count) = (0.0, 0.0, 0usize);
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() < 9 {
            continue;
        }
        let number = |i: usize| cells[i].parse::<f64>().ok();
        if let (Some(d), Some(g)) = (number(2), number(3)) {
            sum_d += d;
            sum_g += g;
            count += 1;
        }
        if let (Some(score), Some(frechet)) = (number(6), number(7)) {
            rows.push(EpochRow {
                epoch: cells[1].parse()?,
                step: cells[0].parse()?,
                loss_d: sum_d / count.max(1) as f64,
                loss_g: sum_g / count.max(1) as f64,
                score,
                frechet,
            });
            (sum_d, sum_g, count) = (0.0, 0.0, 0);
        }
    }
    if rows.is_empty() {
        return Err(format!("{}: no epoch-end quality rows", path.display()).into());
    }
    Ok(rows)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let dir = args.data_dir.as_deref();
    let train = load(Split::Train, dir)?;
    let test = load(Split::Test, dir)?;
    let all_test: Vec<usize> = (0..test.len()).collect();
    let reference = Reference::new(Judge::pretrained(Dataset::Mnist)?, &test, &all_test)?;
    let judge = reference.judge();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let pool_indices = draw(train.len(), POOL, &mut rng);
    let real_pool = judge_images(judge, &train, &pool_indices)?;
    let model_pool = match &args.checkpoint {
        Some(run) => Some(judge_samples(judge, run, POOL)?),
        None => None,
    };

    // 1. The sample-size bias.
    println!("## Fréchet distance and classifier score against n (reference: the 10,000 test images)\n");
    if let Some((_, name)) = &model_pool {
        println!("model: {name}\n");
    }
    println!(
        "| n | real: Fréchet, mean (min–max of {DRAWS}) | real: score | model: Fréchet | model: score |"
    );
    println!("|---|---|---|---|---|");
    let mut real_curve = Vec::new();
    let mut model_curve = Vec::new();
    for n in SIZES {
        let mut cells = Vec::new();
        let pools: Vec<(&Judged, &mut Vec<(f64, f64)>)> = match &model_pool {
            Some((judged, _)) => vec![(&real_pool, &mut real_curve), (judged, &mut model_curve)],
            None => vec![(&real_pool, &mut real_curve)],
        };
        for (pool, curve) in pools {
            let (mut fds, mut scores) = (Vec::new(), Vec::new());
            for _ in 0..DRAWS {
                let rows = draw(POOL, n, &mut rng);
                let subset = pool.subset(&rows);
                let q = reference.quality(&subset.logits, &subset.features, None);
                fds.push(q.frechet_distance);
                scores.push(q.classifier_score);
            }
            let (fd, fd_min, fd_max) = mean_min_max(&fds);
            let (score, ..) = mean_min_max(&scores);
            curve.push((n as f64, fd));
            cells.push(format!("{fd:.1} ({fd_min:.1}–{fd_max:.1}) | {score:.3}"));
        }
        if cells.len() == 1 {
            cells.push("– | –".into());
        }
        println!("| {n} | {} |", cells.join(" | "));
    }
    let top = model_curve
        .iter()
        .chain(&real_curve)
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let mut series = vec![Series::new(
        "real training images",
        RGBColor(40, 40, 40),
        real_curve.clone(),
    )];
    if !model_curve.is_empty() {
        series.push(Series::new(
            "a model's samples",
            RGBColor(0, 120, 200),
            model_curve,
        ));
    }
    line_chart(
        &images_dir()?.join("book-frechet-bias.svg"),
        &Axes {
            title: "Fréchet distance to the test set, by sample size n",
            x_desc: "n (images measured; mean of 5 random subsets)",
            y_desc: "Fréchet distance",
            x: 400.0..12_000.0,
            y: 0.0..(top * 1.1),
            log_x: true,
            x_format: Some(|x| format!("{x:.0}")),
            legend: SeriesLabelPosition::UpperRight,
        },
        &series,
    )?;

    // 2. Baselines.
    println!("\n## Baselines, {BASELINE_N} images each (reference: the 10,000 test images)\n");
    println!("| images | n | score (= spread × certainty) | Fréchet | digit shares (min–max) | missing |");
    println!("|---|---|---|---|---|---|");
    let first: Vec<usize> = pool_indices[..BASELINE_N].to_vec();
    row("real training images", &reference.quality_of_set(&train, &first)?);
    for sigma in [1.0, 2.0] {
        let blurred = blur(&train, &first, sigma)?;
        let all: Vec<usize> = (0..blurred.len()).collect();
        row(
            &format!("the same, blurred (σ = {sigma} px)"),
            &reference.quality_of_set(&blurred, &all)?,
        );
    }
    let salted = salt(&train, &first, 0.02)?;
    let all: Vec<usize> = (0..salted.len()).collect();
    row(
        "the same, 2% of pixels white (salt)",
        &reference.quality_of_set(&salted, &all)?,
    );
    // The first BASELINE_N training images of the given digits, in file order.
    let of_digits = |digits: &[usize]| -> Vec<usize> {
        (0..train.len())
            .filter(|&i| train.label(i).is_some_and(|d| digits.contains(&d)))
            .take(BASELINE_N)
            .collect()
    };
    row(
        "only 1s (real)",
        &reference.quality_of_set(&train, &of_digits(&[1]))?,
    );
    row(
        "only 0–4 (real)",
        &reference.quality_of_set(&train, &of_digits(&[0, 1, 2, 3, 4]))?,
    );
    if let Some((judged, name)) = &model_pool {
        let rows: Vec<usize> = (0..BASELINE_N).collect();
        let subset = judged.subset(&rows);
        row(
            &format!("samples of {name}"),
            &reference.quality(&subset.logits, &subset.features, None),
        );
    }

    // 3. Quality against training time.
    if args.runs.is_empty() {
        return Ok(());
    }
    // The per-epoch check compares 1,000 samples with the first 1,000
    // training images (run.rs): its own floor is that of real images
    // against that reference.
    let epoch_reference = Reference::new(
        Judge::pretrained(Dataset::Mnist)?,
        &train,
        &(0..1000).collect::<Vec<usize>>(),
    )?;
    let floors: Vec<f64> = (1..=DRAWS)
        .map(|k| {
            let others: Vec<usize> = (k * 1000..(k + 1) * 1000).collect();
            epoch_reference
                .quality_of_set(&train, &others)
                .map(|q| q.frechet_distance)
        })
        .collect::<judge::Result<_>>()?;
    let (floor, floor_min, floor_max) = mean_min_max(&floors);
    println!(
        "\nThe per-epoch check's floor: training images 1000–1999, …, 5000–5999 against the first 1,000: \
         Fréchet {floor:.1} ({floor_min:.1}–{floor_max:.1})"
    );
    println!("\n## Per-epoch quality (1,000 samples each) against CPU minutes (1 thread)\n");
    println!(
        "| run | epoch | step | CPU minutes | score | Fréchet (n = 1,000) | mean loss_D | mean loss_G |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let colours = [
        RGBColor(0, 120, 200),
        RGBColor(200, 60, 40),
        RGBColor(40, 150, 60),
        RGBColor(140, 60, 170),
        RGBColor(230, 150, 0),
        RGBColor(60, 60, 60),
    ];
    let (mut fd_series, mut score_series) = (Vec::new(), Vec::new());
    let (mut max_minutes, mut max_fd) = (0.0f64, 0.0f64);
    for (k, (label, dir, minutes)) in args.runs.iter().enumerate() {
        let rows = epoch_rows(dir)?;
        let epochs = rows.last().map_or(1, |r| r.epoch) as f64;
        let mut fd_points = Vec::new();
        let mut score_points = Vec::new();
        for r in &rows {
            let t = minutes * r.epoch as f64 / epochs;
            println!(
                "| {label} | {} | {} | {t:.1} | {:.2} | {:.1} | {:.3} | {:.3} |",
                r.epoch, r.step, r.score, r.frechet, r.loss_d, r.loss_g
            );
            fd_points.push((t, r.frechet));
            score_points.push((t, r.score));
            max_fd = max_fd.max(r.frechet);
        }
        max_minutes = max_minutes.max(*minutes);
        let colour = colours[k % colours.len()];
        fd_series.push(Series::new(label.clone(), colour, fd_points));
        score_series.push(Series::new(label.clone(), colour, score_points));
    }
    for (file, title, y_desc, y, legend, series) in [
        (
            "book-quality-vs-time.svg",
            "Fréchet distance (1,000 samples) at each epoch end",
            "Fréchet distance (lower is better)",
            0.0..(max_fd * 1.1),
            SeriesLabelPosition::UpperRight,
            &fd_series,
        ),
        (
            "book-score-vs-time.svg",
            "Classifier score (1,000 samples) at each epoch end",
            "classifier score (10 at most)",
            0.0..10.0,
            SeriesLabelPosition::LowerRight,
            &score_series,
        ),
    ] {
        line_chart(
            &images_dir()?.join(file),
            &Axes {
                title,
                x_desc: "training CPU minutes (1 thread)",
                y_desc,
                x: 0.0..(max_minutes * 1.05),
                y,
                log_x: false,
                x_format: None,
                legend,
            },
            series,
        )?;
    }
    Ok(())
}
