//! The two datasets (MNIST and Fashion-MNIST), their files and checksums,
//! where their files are looked for, and [`load`], which puts it together.
//!
//! The directory is, in order of precedence:
//! 1. the one passed explicitly (the `--data-dir DIR` of the command line);
//! 2. the environment variable [`Dataset::env_var`] (`MNIST_DIR` or
//!    `FASHION_MNIST_DIR`), if set and non-empty;
//! 3. [`Dataset::default_dir`] (`data/mnist` or `data/fashion-mnist`),
//!    relative to the working directory.
//!
//! In that directory each file is looked for under its published name
//! (`train-images-idx3-ubyte.gz`) and, failing that, decompressed
//! (`train-images-idx3-ubyte`). Either must have its SHA-256: the `.gz`
//! checksums are the published ones; the decompressed ones were computed from
//! the verified `.gz` files. A file with a wrong checksum is an error, never
//! silently replaced. Files absent under both names are downloaded into the
//! directory (see [`crate::download`]).

use crate::batch::ImageSet;
use crate::download::{Downloader, FileSpec, verify_file};
use crate::error::{Error, Result};
use crate::idx::{read_images, read_labels};
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One of the two datasets of 28×28 greyscale images in ten classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// Handwritten digits 0–9 (LeCun, Cortes and Burges).
    Mnist,
    /// Zalando article images in ten clothing classes (Xiao, Rasul and
    /// Vollgraf).
    Fashion,
}

/// A dataset's train or test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// 60,000 examples.
    Train,
    /// 10,000 examples.
    Test,
}

/// The image or the label file of a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The IDX image file.
    Images,
    /// The IDX label file.
    Labels,
}

/// One published file: its names and checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFile {
    /// The published (gzip) file name, e.g. `train-images-idx3-ubyte.gz`.
    pub name: &'static str,
    /// The published SHA-256 of the gzip file.
    pub sha256: &'static str,
    /// The decompressed file name, e.g. `train-images-idx3-ubyte`.
    pub raw_name: &'static str,
    /// The SHA-256 of the decompressed file.
    pub raw_sha256: &'static str,
}

impl DataFile {
    /// The gzip file as a download request.
    pub fn spec(&self) -> FileSpec {
        FileSpec::new(self.name, self.sha256)
    }
}

/// The checksums, indexed by `[dataset][split][part]`: (gzip, decompressed).
const SHA256: [[[(&str, &str); 2]; 2]; 2] = [
    [
        [
            (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            ),
            (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
        ],
        [
            (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        ],
    ],
    [
        [
            (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            (
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
        ],
        [
            (
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            (
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        ],
    ],
];

/// The file names, indexed by `[split][part]`: (gzip, decompressed). Both
/// datasets use the same names.
const NAMES: [[(&str, &str); 2]; 2] = [
    [
        ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"),
        ("train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"),
    ],
    [
        ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"),
        ("t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"),
    ],
];

impl Dataset {
    /// Both datasets.
    pub const ALL: [Dataset; 2] = [Dataset::Mnist, Dataset::Fashion];

    /// The short name used on the command line: `mnist` or `fashion`.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Mnist => "mnist",
            Dataset::Fashion => "fashion",
        }
    }

    /// The name for people: `MNIST` or `Fashion-MNIST`.
    pub fn title(self) -> &'static str {
        match self {
            Dataset::Mnist => "MNIST",
            Dataset::Fashion => "Fashion-MNIST",
        }
    }

    /// The names of the ten classes, indexed by label.
    ///
    /// ```
    /// use datasets::Dataset;
    /// assert_eq!(Dataset::Fashion.class_names()[9], "Ankle boot");
    /// assert_eq!(Dataset::Mnist.class_names()[7], "7");
    /// ```
    pub fn class_names(self) -> &'static [&'static str; 10] {
        match self {
            Dataset::Mnist => &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            Dataset::Fashion => &[
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
        }
    }

    /// The environment variable naming the data directory: `MNIST_DIR` or
    /// `FASHION_MNIST_DIR`.
    pub fn env_var(self) -> &'static str {
        match self {
            Dataset::Mnist => "MNIST_DIR",
            Dataset::Fashion => "FASHION_MNIST_DIR",
        }
    }

    /// The default data directory, relative to the working directory:
    /// `data/mnist` or `data/fashion-mnist`.
    pub fn default_dir(self) -> &'static Path {
        Path::new(match self {
            Dataset::Mnist => "data/mnist",
            Dataset::Fashion => "data/fashion-mnist",
        })
    }

    /// The public mirrors of the published files, tried in order.
    pub fn mirrors(self) -> Vec<String> {
        let mirrors: &[&str] = match self {
            Dataset::Mnist => &[
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ],
            Dataset::Fashion => &[
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            ],
        };
        mirrors.iter().map(|m| m.to_string()).collect()
    }

    /// A [`Downloader`] for this dataset's mirrors, with default settings.
    pub fn downloader(self) -> Downloader {
        Downloader::new(self.mirrors())
    }

    /// The published file holding `part` of `split`.
    pub fn file(self, split: Split, part: Part) -> DataFile {
        let (s, p) = (split as usize, part as usize);
        let (name, raw_name) = NAMES[s][p];
        let (sha256, raw_sha256) = SHA256[self as usize][s][p];
        DataFile {
            name,
            sha256,
            raw_name,
            raw_sha256,
        }
    }

    /// All four files: train images and labels, then test images and labels.
    pub fn files(self) -> [DataFile; 4] {
        [
            self.file(Split::Train, Part::Images),
            self.file(Split::Train, Part::Labels),
            self.file(Split::Test, Part::Images),
            self.file(Split::Test, Part::Labels),
        ]
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dataset {
    type Err = String;

    /// Parses `mnist` or `fashion` (also `fashion-mnist`), ignoring case.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mnist" => Ok(Dataset::Mnist),
            "fashion" | "fashion-mnist" | "fashion_mnist" => Ok(Dataset::Fashion),
            _ => Err(format!(
                "unknown dataset {s:?}: expected \"mnist\" or \"fashion\""
            )),
        }
    }
}

impl Split {
    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a data directory was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirOrigin {
    /// Passed explicitly (`--data-dir`).
    Explicit,
    /// Read from the dataset's environment variable.
    Env,
    /// The default, [`Dataset::default_dir`].
    Default,
}

/// A data directory and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    /// The directory.
    pub path: PathBuf,
    /// Why this one.
    pub origin: DirOrigin,
}

/// Chooses the data directory of `dataset`: `explicit` if given, else the
/// dataset's environment variable if set and non-empty, else the default.
pub fn locate(dataset: Dataset, explicit: Option<&Path>) -> DataDir {
    let env = std::env::var_os(dataset.env_var());
    locate_with(dataset, explicit, env.as_deref())
}

/// [`locate`] with the environment variable's value passed in (so that it can
/// be tested without changing the process environment).
///
/// ```
/// use datasets::{Dataset, DirOrigin, locate_with};
/// use std::{ffi::OsStr, path::Path};
/// let from_env = locate_with(Dataset::Mnist, None, Some(OsStr::new("/data/m")));
/// assert_eq!((from_env.path.as_path(), from_env.origin), (Path::new("/data/m"), DirOrigin::Env));
/// let default = locate_with(Dataset::Fashion, None, Some(OsStr::new("")));
/// assert_eq!(default.path, Path::new("data/fashion-mnist"));
/// ```
pub fn locate_with(dataset: Dataset, explicit: Option<&Path>, env: Option<&OsStr>) -> DataDir {
    if let Some(dir) = explicit {
        return DataDir {
            path: dir.to_path_buf(),
            origin: DirOrigin::Explicit,
        };
    }
    match env.filter(|value| !value.is_empty()) {
        Some(value) => DataDir {
            path: PathBuf::from(value),
            origin: DirOrigin::Env,
        },
        None => DataDir {
            path: dataset.default_dir().to_path_buf(),
            origin: DirOrigin::Default,
        },
    }
}

/// Loads one split of a dataset: finds the directory (see [`locate`]),
/// verifies the files present, downloads the missing ones with
/// `downloader` (use [`Dataset::downloader`], or [`Downloader::offline`]),
/// reads them and checks that images and labels agree.
///
/// ```no_run
/// use datasets::{Dataset, Split, load};
/// let train = load(Dataset::Mnist, Split::Train, None, &Dataset::Mnist.downloader())?;
/// assert_eq!(train.len(), 60_000);
/// # Ok::<(), datasets::Error>(())
/// ```
pub fn load(dataset: Dataset, split: Split, dir: Option<&Path>, downloader: &Downloader) -> Result<ImageSet> {
    let dir = locate(dataset, dir);
    let images = dataset.file(split, Part::Images);
    let labels = dataset.file(split, Part::Labels);

    // Use what is there (verified); collect the rest for download, which
    // puts each file under its published name.
    let mut paths = Vec::with_capacity(2);
    let mut to_fetch = Vec::new();
    for file in [images, labels] {
        let gz = dir.path.join(file.name);
        let raw = dir.path.join(file.raw_name);
        if gz.exists() {
            verify_file(&gz, file.sha256)?;
        } else if raw.exists() {
            verify_file(&raw, file.raw_sha256)?;
            paths.push(raw);
            continue;
        } else {
            to_fetch.push(file.spec());
        }
        paths.push(gz);
    }
    if !to_fetch.is_empty() {
        downloader
            .ensure(&dir.path, &to_fetch)
            .map_err(|e| add_hint(e, dataset, &dir))?;
    }
    let (images_path, labels_path) = (&paths[0], &paths[1]);
    let images = read_images(images_path)?;
    let labels = read_labels(labels_path)?;
    ImageSet::new(images, labels, images_path, labels_path)
}

/// Adds to an [`Error::Unavailable`] how the directory was chosen and how
/// to choose another.
fn add_hint(error: Error, dataset: Dataset, dir: &DataDir) -> Error {
    match error {
        Error::Unavailable {
            dir: path,
            missing,
            offline,
            ..
        } => {
            let var = dataset.env_var();
            let why = match dir.origin {
                DirOrigin::Explicit => "This directory was given explicitly (--data-dir).".into(),
                DirOrigin::Env => format!("This directory comes from the {var} variable."),
                DirOrigin::Default => format!(
                    "This is the default directory, relative to the working directory{}.",
                    std::env::current_dir()
                        .map(|cwd| format!(" ({})", cwd.display()))
                        .unwrap_or_default()
                ),
            };
            Error::Unavailable {
                dir: path,
                missing,
                offline,
                hint: format!(
                    "Decompressed copies (the same names without .gz) are accepted too. \
                     {why} To use {} files kept elsewhere, pass --data-dir DIR or set {var}=DIR.",
                    dataset.title()
                ),
            }
        }
        other => other,
    }
}
