//! Drawing samples from a trained generator: `gan-mnist sample`, and the
//! layout of every sample grid.
//!
//! An unconditional model's grid is `n` samples, about √n per row. A
//! class-conditional model's grid has one row per class, 0 to 9 from the top,
//! and the same noise down each column, so that a column shows one "style"
//! drawn as every class; asked for one class (`--digit`), it draws `n`
//! samples of that class instead.

use crate::checkpoint::{self, EMA_FILE};
use crate::error::Error;
use crate::grid::{self, GrayImage};
use datasets::NUM_CLASSES;
use datasets::{Dataset, PixelRange};
use gan::ema::GeneratorKind;
use gan::models::{GanModel, ModelKind};
use gan::streams::stream_rng;
use std::path::{Path, PathBuf};
use tensor::{Tensor, no_grad};

/// The checkpoint folder `path` names: a run folder (its newest checkpoint)
/// or a checkpoint folder itself.
pub fn resolve_checkpoint(path: &Path) -> crate::Result<PathBuf> {
    resolve(path, Which::Latest)
}

/// Which checkpoint of a run folder `sample` and `eval` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Which {
    /// The newest.
    #[default]
    Latest,
    /// The one with the lowest Fréchet distance at an epoch end (`best.rs`).
    Best,
}

impl std::str::FromStr for Which {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "latest" => Ok(Which::Latest),
            "best" => Ok(Which::Best),
            _ => Err(format!("unknown checkpoint `{s}`; expected best or latest")),
        }
    }
}

/// The checkpoint folder `path` names: `which` checkpoint of a run folder,
/// or a checkpoint folder itself (then `which` must be `Latest`: a single
/// checkpoint has no best to choose).
pub fn resolve(path: &Path, which: Which) -> crate::Result<PathBuf> {
    if path.join("state.json").is_file() {
        if which == Which::Best {
            return Err(Error::Folder {
                path: path.to_path_buf(),
                detail: "is one checkpoint; --which best needs the run folder".into(),
            });
        }
        return Ok(path.to_path_buf());
    }
    let checkpoints = path.join("checkpoint");
    if checkpoints.is_dir() {
        return Ok(match which {
            Which::Latest => checkpoint::latest(&checkpoints)?,
            Which::Best => crate::best::path(&checkpoints)?,
        });
    }
    Err(Error::Folder {
        path: path.to_path_buf(),
        detail: "is neither a run folder (with checkpoint/) nor a checkpoint folder (with state.json)".into(),
    })
}

/// The inputs of a one-row-per-class grid: each row of `noise`
/// (`[columns, noise_dim]`) repeated for every class, and the class of each
/// sample (row `r` is class `r`). Returns `(z, labels)`, `NUM_CLASSES ·
/// columns` samples in row-major order.
pub fn class_rows(noise: &Tensor) -> tensor::Result<(Tensor, Vec<usize>)> {
    let columns = noise.shape().first().copied().unwrap_or(0);
    let rows: Vec<usize> = (0..NUM_CLASSES).flat_map(|_| 0..columns).collect();
    let labels = (0..NUM_CLASSES)
        .flat_map(|class| std::iter::repeat_n(class, columns))
        .collect();
    Ok((noise.index_select(0, &rows)?, labels))
}

/// The legend of a one-row-per-class grid: `row 0: T-shirt/top` and so on,
/// one line per row.
pub fn class_legend(dataset: Dataset) -> String {
    dataset
        .class_names()
        .iter()
        .enumerate()
        .map(|(row, name)| format!("row {row}: {name}\n"))
        .collect()
}

/// Checks a requested class (`--digit`) against a run of `model` at `path`
/// for the command `command`: only class-conditional models take one, and
/// it must be a class.
pub fn check_class(
    command: &'static str,
    path: &Path,
    model: ModelKind,
    class: Option<usize>,
) -> crate::Result<()> {
    let refuse = |detail: String| Err(Error::argument(command, detail));
    match class {
        Some(_) if !model.is_conditional() => {
            let conditional: Vec<&str> = ModelKind::ALL
                .into_iter()
                .filter(|kind| kind.is_conditional())
                .map(ModelKind::name)
                .collect();
            refuse(format!(
                "--digit needs a class-conditional model ({}); {} holds a {model} run",
                conditional.join(", "),
                path.display()
            ))
        }
        Some(class) if class >= NUM_CLASSES => {
            refuse(format!("--digit {class} is not a class (0–{})", NUM_CLASSES - 1))
        }
        _ => Ok(()),
    }
}

/// What to draw: how many samples, and which class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SampleRequest {
    /// How many samples (default: 64, or 80 — 8 per class — for a
    /// conditional model's grid of every class). For that grid it must be
    /// a multiple of 10.
    pub n: Option<u64>,
    /// Seed of the noise.
    pub seed: u64,
    /// Draw only this class (conditional models only).
    pub class: Option<usize>,
    /// Which checkpoint of a run folder.
    pub which: Which,
}

/// A drawn grid and, if it has one row per class, its legend.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleGrid {
    /// The picture.
    pub image: GrayImage,
    /// How many samples it shows.
    pub count: usize,
    /// `class_legend` of the run's dataset, for a one-row-per-class grid.
    pub legend: Option<String>,
    /// The checkpoint drawn from.
    pub checkpoint: PathBuf,
    /// Which generator drew it.
    pub generator: GeneratorKind,
}

/// A `model` whose generator holds the weights saved in the `checkpoint`
/// folder, in eval mode (BatchNorm on its running statistics), ready to
/// sample, and which generator that is: the averaged one if the run kept one
/// (`--ema`), else the live one. The discriminator keeps the random weights
/// drawn from `seed`: sampling never uses it.
pub fn load_generator(
    checkpoint: &Path,
    model: ModelKind,
    seed: u64,
) -> crate::Result<(Box<dyn GanModel>, GeneratorKind)> {
    // The weights are replaced by the checkpoint's right away.
    let mut model = model.build(&mut stream_rng(seed, 0))?;
    let averaged = checkpoint.join(EMA_FILE);
    let (file, kind) = if averaged.is_file() {
        (averaged, GeneratorKind::Averaged)
    } else {
        (checkpoint.join("generator.safetensors"), GeneratorKind::Live)
    };
    nn::checkpoint::load_module(model.generator(), &file)?;
    model.set_training(false);
    Ok((model, kind))
}

/// The most samples one grid shows (32 × 32). Larger requests make several
/// grids ([`sample_grids`]) or one array ([`sample_array`]).
pub const GRID_MAX: usize = 1024;

/// A loaded generator and what a request asks of it, checked.
struct Sampler {
    model: Box<dyn GanModel>,
    /// The checkpoint folder the generator was loaded from.
    checkpoint: PathBuf,
    /// Which of its generators: the averaged one if the run kept one.
    generator: GeneratorKind,
    dataset: Dataset,
    /// A conditional model's grid of every class: one row per class.
    per_class_rows: bool,
    /// How many samples in all.
    n: usize,
    class: Option<usize>,
    /// The noise, drawn in order: the first `k` samples of a request are
    /// the same whether it asks for `k` or more.
    rng: rand_chacha::ChaCha8Rng,
}

impl Sampler {
    /// Checks `request` against the run at `path` and loads its generator.
    /// `grid`: the samples are laid out in a grid (a conditional model's
    /// one row per class needs a multiple of 10 samples).
    fn new(path: &Path, request: SampleRequest, grid: bool) -> crate::Result<Sampler> {
        let checkpoint = resolve(path, request.which)?;
        let config = checkpoint::read_state(&checkpoint)?.config;
        let refuse = |detail: String| Err(Error::argument("sample", detail));
        let conditional = config.model.is_conditional();
        check_class("sample", path, config.model, request.class)?;
        let per_class_rows = conditional && request.class.is_none();
        let n = request.n.unwrap_or(if per_class_rows { 80 } else { 64 }) as usize;
        if n == 0 || (grid && per_class_rows && n % NUM_CLASSES != 0) {
            return refuse(format!(
                "--n {n}: a conditional model's grid has one row per class, so --n must be a \
                 positive multiple of {NUM_CLASSES} (or pick one class with --digit)"
            ));
        }
        let (model, generator) = load_generator(&checkpoint, config.model, request.seed)?;
        Ok(Sampler {
            model,
            checkpoint,
            generator,
            dataset: config.dataset,
            per_class_rows,
            n,
            class: request.class,
            rng: stream_rng(request.seed, 1),
        })
    }

    /// The next grid, of `n` samples.
    fn grid(&mut self, n: usize) -> crate::Result<SampleGrid> {
        let noise_dim = self.model.noise_dim();
        let (z, labels, columns) = if self.per_class_rows {
            let columns = n / NUM_CLASSES;
            let noise = Tensor::randn(&[columns, noise_dim], 0.0, 1.0, &mut self.rng)?;
            let (z, labels) = class_rows(&noise)?;
            (z, labels, columns)
        } else {
            let z = Tensor::randn(&[n, noise_dim], 0.0, 1.0, &mut self.rng)?;
            // Unconditional models ignore the labels.
            let labels = vec![self.class.unwrap_or(0); n];
            (z, labels, (n as f64).sqrt().ceil() as usize)
        };
        let images = no_grad(|| self.model.generate(&z, &labels))?;
        Ok(SampleGrid {
            image: grid::image_grid(&images, columns, self.model.batch_options().range)?,
            count: n,
            legend: self.per_class_rows.then(|| class_legend(self.dataset)),
            checkpoint: self.checkpoint.clone(),
            generator: self.generator,
        })
    }
}

/// A grid of samples from the generator saved at `path`, as `request` asks.
pub fn sample_grid(path: &Path, request: SampleRequest) -> crate::Result<SampleGrid> {
    let mut sampler = Sampler::new(path, request, true)?;
    let n = sampler.n;
    sampler.grid(n)
}

/// The samples `request` asks for as grids of at most [`GRID_MAX`] (a
/// conditional model's grid of every class: at most 1020, a multiple of
/// 10). The first grid is [`sample_grid`]'s when the request fits in one.
pub fn sample_grids(path: &Path, request: SampleRequest) -> crate::Result<Vec<SampleGrid>> {
    let mut sampler = Sampler::new(path, request, true)?;
    let per_grid = if sampler.per_class_rows {
        GRID_MAX / NUM_CLASSES * NUM_CLASSES
    } else {
        GRID_MAX
    };
    let n = sampler.n;
    (0..n)
        .step_by(per_grid)
        .map(|start| sampler.grid((n - start).min(per_grid)))
        .collect()
}

/// Samples as one array, for other tools (`gan-mnist sample --out x.npy`).
#[derive(Debug, Clone, PartialEq)]
pub struct SampleArray {
    /// The pixel values, row-major.
    pub values: Vec<f32>,
    /// `[n, 1, H, W]`.
    pub shape: [usize; 4],
    /// The model's pixel range: `[-1, 1]` for a tanh generator (every model
    /// but `tutorial`), `[0, 1]` for a sigmoid one.
    pub range: PixelRange,
}

/// The samples `request` asks for as one array `[n, 1, H, W]`, drawn 500 at
/// a time (so any count fits in memory as it is generated). A conditional
/// model without a class draws sample `i` as class `i mod 10`.
pub fn sample_array(path: &Path, request: SampleRequest) -> crate::Result<SampleArray> {
    const CHUNK: usize = 500;
    let mut sampler = Sampler::new(path, request, false)?;
    let noise_dim = sampler.model.noise_dim();
    let mut values = Vec::new();
    let mut image_shape = [1, 0, 0];
    for start in (0..sampler.n).step_by(CHUNK) {
        let count = (sampler.n - start).min(CHUNK);
        let z = Tensor::randn(&[count, noise_dim], 0.0, 1.0, &mut sampler.rng)?;
        let labels: Vec<usize> = (start..start + count)
            .map(|i| sampler.class.unwrap_or(i % NUM_CLASSES))
            .collect();
        let images = no_grad(|| sampler.model.generate(&z, &labels))?;
        let shape = images.shape();
        image_shape = [shape[1], shape[2], shape[3]];
        values.extend(images.to_vec());
    }
    let [c, h, w] = image_shape;
    Ok(SampleArray {
        values,
        shape: [sampler.n, c, h, w],
        range: sampler.model.batch_options().range,
    })
}
